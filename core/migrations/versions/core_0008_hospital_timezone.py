"""each hospital has its own wall clock

A hospital's time zone (IANA name), chosen on the hospital management page or seeded from
config.yaml; NULL keeps the deployment's i18n.timezone.

Revision ID: f8c2d4e6a7b9
Revises: f7c2d1e3a5b6
Create Date: 2026-12-07 14:30:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = 'f8c2d4e6a7b9'
down_revision = 'f7c2d1e3a5b6'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('core_hospital', schema=None) as batch_op:
        batch_op.add_column(sa.Column('timezone', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('core_hospital', schema=None) as batch_op:
        batch_op.drop_column('timezone')
