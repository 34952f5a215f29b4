"""patients remember how they came into the archive (origin: crm, his or import)

Patients synced from the HIS or imported from a file already existed: the "new patients"
figures count only those registered in the CRM. Existing rows with a HIS id are marked ``his``.

Revision ID: 8c1f2d0a7e51
Revises: fabadd82efeb
Create Date: 2026-12-07 14:30:00
"""
import sqlalchemy as sa
from alembic import op


revision = '8c1f2d0a7e51'
down_revision = 'fabadd82efeb'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=8), server_default='crm', nullable=False))
    op.execute("UPDATE patients_patient SET origin = 'his' WHERE external_id IS NOT NULL")


def downgrade():
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.drop_column('origin')
