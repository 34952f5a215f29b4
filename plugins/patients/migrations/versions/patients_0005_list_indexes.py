"""list indexes: live patients newest first, per hospital, key patients and department

The page in order and its capped count come from the index alone (partial on unmerged
records, as every list asks); the single-column hospital and department indexes go, the
composite ones lead with them.

Revision ID: 310b57816b56
Revises: 84c181d70948
Create Date: 2026-12-03 19:28:24.554080
"""
import sqlalchemy as sa
from alembic import op


revision = '310b57816b56'
down_revision = '84c181d70948'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_patient_department_id'))
        batch_op.drop_index(batch_op.f('ix_patients_patient_hospital_id'))
        batch_op.drop_index(batch_op.f('ix_patients_patient_hospital_created'))
        batch_op.create_index('ix_patients_patient_hospital_created', ['hospital_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('merged_into_id IS NULL'), sqlite_where=sa.text('merged_into_id IS NULL'))
        batch_op.drop_index(batch_op.f('ix_patients_patient_key'), sqlite_where=sa.text('key_patient'))
        batch_op.create_index('ix_patients_patient_key', ['hospital_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('key_patient AND merged_into_id IS NULL'), sqlite_where=sa.text('key_patient AND merged_into_id IS NULL'))
        batch_op.create_index('ix_patients_patient_department_created', ['hospital_id', 'department_id', 'created_at', 'id'], unique=False, postgresql_where=sa.text('merged_into_id IS NULL'), sqlite_where=sa.text('merged_into_id IS NULL'))


def downgrade():
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_patient_department_created', postgresql_where=sa.text('merged_into_id IS NULL'), sqlite_where=sa.text('merged_into_id IS NULL'))
        batch_op.drop_index('ix_patients_patient_key', postgresql_where=sa.text('key_patient AND merged_into_id IS NULL'), sqlite_where=sa.text('key_patient AND merged_into_id IS NULL'))
        batch_op.create_index(batch_op.f('ix_patients_patient_key'), ['hospital_id', 'created_at'], unique=False,
                              postgresql_where=sa.text('key_patient'), sqlite_where=sa.text('key_patient'))
        batch_op.drop_index('ix_patients_patient_hospital_created', postgresql_where=sa.text('merged_into_id IS NULL'), sqlite_where=sa.text('merged_into_id IS NULL'))
        batch_op.create_index(batch_op.f('ix_patients_patient_hospital_created'), ['hospital_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_patient_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_patient_department_id'), ['department_id'], unique=False)
