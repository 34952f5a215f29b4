"""issue 21: rows a run could not read (empty cursor or key); the last connection test's warning

Revision ID: his_connector_0004
Revises: 9b3e41d7c2f0
Create Date: 2026-12-07 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'his_connector_0004'
down_revision = '9b3e41d7c2f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('his_connector_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skipped', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('his_connector_connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_test_warning', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('his_connector_connection', schema=None) as batch_op:
        batch_op.drop_column('last_test_warning')
    with op.batch_alter_table('his_connector_run', schema=None) as batch_op:
        batch_op.drop_column('skipped')
