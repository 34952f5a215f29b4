"""notifications for users

core.notifications writes one row per (user, kind, key): the bell in the top bar counts the
unread ones and /notifications lists them; the unique key makes a re-run notify nobody twice.

Revision ID: f7c2d1e3a5b6
Revises: e6b1c0d2f3a4
Create Date: 2026-12-07 14:40:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'f7c2d1e3a5b6'
down_revision = 'e6b1c0d2f3a4'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'core_notification',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('hospital_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=60), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('title', sa.String(length=200), nullable=False),
        sa.Column('body', sa.Text(), nullable=True),
        sa.Column('link', sa.String(length=500), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('read_at', sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'],
                                name=op.f('fk_core_notification_hospital_id_core_hospital')),
        sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], ondelete='CASCADE',
                                name=op.f('fk_core_notification_user_id_core_user')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_core_notification')),
        sa.UniqueConstraint('user_id', 'kind', 'key', name=op.f('uq_core_notification_user_id_kind_key')),
    )
    op.create_index(op.f('ix_core_notification_hospital_id'), 'core_notification', ['hospital_id'], unique=False)
    op.create_index('ix_core_notification_user_read', 'core_notification', ['user_id', 'read_at'], unique=False)


def downgrade():
    op.drop_index('ix_core_notification_user_read', table_name='core_notification')
    op.drop_index(op.f('ix_core_notification_hospital_id'), table_name='core_notification')
    op.drop_table('core_notification')
