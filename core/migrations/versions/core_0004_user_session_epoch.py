"""users carry a session epoch

Every session and remember-me cookie names the account's epoch; raising it (logout, password
change, deactivation, new roles) makes every copy of the old cookies worthless.

Revision ID: 5d0c7e41a2b9
Revises: 99b3e2969c0b
Create Date: 2026-12-07 01:00:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = '5d0c7e41a2b9'
down_revision = '99b3e2969c0b'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))


def downgrade():
    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.drop_column('session_epoch')
