"""seeded permissions

Revision ID: a62261399a46
Revises: 31e9d3035748
Create Date: 2026-11-22 22:24:54.483725
"""
import sqlalchemy as sa
from alembic import op


revision = 'a62261399a46'
down_revision = '31e9d3035748'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('core_seeded_permission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('permission', sa.String(length=100), nullable=False),
    sa.Column('seeded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_core_seeded_permission_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_seeded_permission')),
    sa.UniqueConstraint('hospital_id', 'permission', name=op.f('uq_core_seeded_permission_hospital_id_permission'))
    )


def downgrade():
    op.drop_table('core_seeded_permission')
