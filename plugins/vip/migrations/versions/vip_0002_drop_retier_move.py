"""vip: drop the re-tier working table (a run now writes each member row once, no working rows)

Revision ID: vip_0002_drop_retier_move
Revises: vip_0001_tiers
"""
import sqlalchemy as sa
from alembic import op

revision = 'vip_0002_drop_retier_move'
down_revision = 'vip_0001_tiers'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_table('vip_retier_move')


def downgrade():
    op.create_table('vip_retier_move',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('from_tier_id', sa.Integer(), nullable=True),
    sa.Column('to_tier_id', sa.Integer(), nullable=True),
    sa.Column('move', sa.String(length=8), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vip_retier_move'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE vip_retier_move SET UNLOGGED")
