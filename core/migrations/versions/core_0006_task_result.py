"""tasks carry what they produced

A background export's file (its stored name, download name, type, size and rows) is recorded on
its task, so the requester downloads it from the task's page and the purge job finds it.

Revision ID: e6b1c0d2f3a4
Revises: c5a7f0e1d205
Create Date: 2026-12-07 04:00:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'e6b1c0d2f3a4'
down_revision = 'c5a7f0e1d205'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('core_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('result', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('core_task', schema=None) as batch_op:
        batch_op.drop_column('result')
