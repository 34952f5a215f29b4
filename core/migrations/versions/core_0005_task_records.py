"""task records of the queue

core.queue keeps one row per queued task: its state, error, progress and retries, so the jobs
page, the CLI and the consumers' recovery of tasks whose consumer died share one truth.

Revision ID: c5a7f0e1d205
Revises: 5d0c7e41a2b9
Create Date: 2026-12-07 00:50:00
"""
import sqlalchemy as sa
from alembic import op


revision = 'c5a7f0e1d205'
down_revision = '5d0c7e41a2b9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'core_task',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('task', sa.String(length=100), nullable=False),
        sa.Column('hospital_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('locale', sa.String(length=16), nullable=True),
        sa.Column('args', sa.JSON(), nullable=False),
        sa.Column('summary', sa.String(length=255), nullable=True),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('done', sa.Integer(), nullable=True),
        sa.Column('total', sa.Integer(), nullable=True),
        sa.Column('retries', sa.Integer(), nullable=False),
        sa.Column('worker', sa.String(length=120), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('heartbeat_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_core_task_state_beat', 'core_task', ['state', 'heartbeat_at'], unique=False)
    op.create_index('ix_core_task_hospital_created', 'core_task', ['hospital_id', 'created_at'], unique=False)


def downgrade():
    op.drop_index('ix_core_task_hospital_created', table_name='core_task')
    op.drop_index('ix_core_task_state_beat', table_name='core_task')
    op.drop_table('core_task')
