"""visits keep one foreign key, to the patient, and no single-column indexes

HIS syncs write visits by the million; each foreign-key check costs ~5 µs a row on PostgreSQL.
Hospitals, departments and users are never deleted (they are deactivated), so those references
stay plain columns; the tenancy layer guards the hospital. See models.Visit.

Revision ID: 3a19f0f4a58c
Revises: 310b57816b56
Create Date: 2026-12-03 19:49:12.057412
"""
from alembic import op


revision = '3a19f0f4a58c'
down_revision = '310b57816b56'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('patients_visit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_visit_department_id'))
        batch_op.drop_index(batch_op.f('ix_patients_visit_owner_id'))
        batch_op.drop_constraint(batch_op.f('fk_patients_visit_owner_id_core_user'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_patients_visit_hospital_id_core_hospital'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_patients_visit_department_id_core_department'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_patients_visit_doctor_id_core_user'), type_='foreignkey')


def downgrade():
    with op.batch_alter_table('patients_visit', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_patients_visit_doctor_id_core_user'), 'core_user', ['doctor_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_patients_visit_department_id_core_department'), 'core_department', ['department_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_patients_visit_hospital_id_core_hospital'), 'core_hospital', ['hospital_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_patients_visit_owner_id_core_user'), 'core_user', ['owner_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_patients_visit_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_visit_department_id'), ['department_id'], unique=False)
