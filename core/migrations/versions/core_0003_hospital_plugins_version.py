"""hospitals count the changes of their plugins

Requests keep a hospital's live plugins per plugins_version instead of reading them each time.

Revision ID: 99b3e2969c0b
Revises: a62261399a46
Create Date: 2026-12-03 19:15:01.159546
"""
import sqlalchemy as sa
from alembic import op


revision = '99b3e2969c0b'
down_revision = 'a62261399a46'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('core_hospital', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plugins_version', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('core_hospital', schema=None) as batch_op:
        batch_op.drop_column('plugins_version')
