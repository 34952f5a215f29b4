"""patients' marketing SMS consent (营销短信同意 / 退订)

NULL means "not asked": existing patients keep receiving care messages and no marketing SMS
until a consent is recorded.

Revision ID: fabadd82efeb
Revises: 3a19f0f4a58c
Create Date: 2026-12-07 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = 'fabadd82efeb'
down_revision = '3a19f0f4a58c'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sms_consent', sa.Boolean(), nullable=True))


def downgrade():
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.drop_column('sms_consent')
