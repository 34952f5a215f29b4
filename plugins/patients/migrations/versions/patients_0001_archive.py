"""patient archive

Revision ID: 6fd3c35d2a7f
Revises: 
Create Date: 2026-11-22 22:32:30.953999
"""
import sqlalchemy as sa
from alembic import op


revision = '6fd3c35d2a7f'
down_revision = None
branch_labels = ('patients',)
depends_on = 'a62261399a46'


def upgrade():
    op.create_table('patients_disease',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('custom', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_disease_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_disease')),
    sa.UniqueConstraint('hospital_id', 'code', name=op.f('uq_patients_disease_hospital_id_code'))
    )
    with op.batch_alter_table('patients_disease', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_disease_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('patients_region',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_region_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['parent_id'], ['patients_region.id'], name=op.f('fk_patients_region_parent_id_patients_region')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_region'))
    )
    with op.batch_alter_table('patients_region', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_region_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('patients_source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_source_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_source')),
    sa.UniqueConstraint('hospital_id', 'code', name=op.f('uq_patients_source_hospital_id_code'))
    )
    with op.batch_alter_table('patients_source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_source_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('patients_tag',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_tag_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_tag')),
    sa.UniqueConstraint('hospital_id', 'name', name=op.f('uq_patients_tag_hospital_id_name'))
    )
    with op.batch_alter_table('patients_tag', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_tag_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('patients_referrer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('notes', sa.String(length=255), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_referrer_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_patients_referrer_user_id_core_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_referrer'))
    )
    with op.batch_alter_table('patients_referrer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_referrer_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('patients_patient',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('gender', sa.String(length=1), nullable=False),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('id_number', sa.String(length=18), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('phone_last4', sa.String(length=4), nullable=True),
    sa.Column('phone2', sa.String(length=32), nullable=True),
    sa.Column('insurance_no', sa.String(length=32), nullable=True),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('address', sa.String(length=200), nullable=True),
    sa.Column('occupation', sa.String(length=64), nullable=True),
    sa.Column('source_id', sa.Integer(), nullable=True),
    sa.Column('referrer_id', sa.Integer(), nullable=True),
    sa.Column('key_patient', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('merged_into_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['core_department.id'], name=op.f('fk_patients_patient_department_id_core_department')),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_patient_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['merged_into_id'], ['patients_patient.id'], name=op.f('fk_patients_patient_merged_into_id_patients_patient')),
    sa.ForeignKeyConstraint(['owner_id'], ['core_user.id'], name=op.f('fk_patients_patient_owner_id_core_user')),
    sa.ForeignKeyConstraint(['referrer_id'], ['patients_referrer.id'], name=op.f('fk_patients_patient_referrer_id_patients_referrer')),
    sa.ForeignKeyConstraint(['region_id'], ['patients_region.id'], name=op.f('fk_patients_patient_region_id_patients_region')),
    sa.ForeignKeyConstraint(['source_id'], ['patients_source.id'], name=op.f('fk_patients_patient_source_id_patients_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_patient'))
    )
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_patient_department_id'), ['department_id'], unique=False)
        batch_op.create_index('ix_patients_patient_hospital_created', ['hospital_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_patient_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index('ix_patients_patient_hospital_id_number', ['hospital_id', 'id_number'], unique=False)
        batch_op.create_index('ix_patients_patient_hospital_insurance', ['hospital_id', 'insurance_no'], unique=False)
        batch_op.create_index('ix_patients_patient_hospital_name', ['hospital_id', 'name'], unique=False, postgresql_ops={'name': 'varchar_pattern_ops'})
        batch_op.create_index('ix_patients_patient_hospital_phone', ['hospital_id', 'phone'], unique=False)
        batch_op.create_index('ix_patients_patient_hospital_phone2', ['hospital_id', 'phone2'], unique=False)
        batch_op.create_index('ix_patients_patient_key', ['hospital_id', 'created_at'], unique=False, postgresql_where=sa.text('key_patient'), sqlite_where=sa.text('key_patient'))
        batch_op.create_index('ix_patients_patient_hospital_phone_last4', ['hospital_id', 'phone_last4'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_patient_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_patient_referrer_id'), ['referrer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_patient_source_id'), ['source_id'], unique=False)

    op.create_table('patients_health_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('allergies', sa.Text(), nullable=True),
    sa.Column('past_history', sa.Text(), nullable=True),
    sa.Column('family_history', sa.Text(), nullable=True),
    sa.Column('smoking', sa.String(length=64), nullable=True),
    sa.Column('drinking', sa.String(length=64), nullable=True),
    sa.Column('diet', sa.String(length=200), nullable=True),
    sa.Column('exercise', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_health_record_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients_patient.id'], name=op.f('fk_patients_health_record_patient_id_patients_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_health_record')),
    sa.UniqueConstraint('patient_id', name=op.f('uq_patients_health_record_patient_id'))
    )
    with op.batch_alter_table('patients_health_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_health_record_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('patients_patient_tag',
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('tag_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['patient_id'], ['patients_patient.id'], name=op.f('fk_patients_patient_tag_patient_id_patients_patient'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['tag_id'], ['patients_tag.id'], name=op.f('fk_patients_patient_tag_tag_id_patients_tag'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('patient_id', 'tag_id', name=op.f('pk_patients_patient_tag'))
    )
    op.create_table('patients_search_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_search_key_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients_patient.id'], name=op.f('fk_patients_search_key_patient_id_patients_patient'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_search_key'))
    )
    with op.batch_alter_table('patients_search_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_search_key_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index('ix_patients_search_key_lookup', ['hospital_id', 'key', 'patient_id'], unique=False, postgresql_ops={'key': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_patients_search_key_patient_id'), ['patient_id'], unique=False)

    op.create_table('patients_visit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('visit_at', sa.DateTime(), nullable=False),
    sa.Column('discharge_at', sa.DateTime(), nullable=True),
    sa.Column('doctor_id', sa.Integer(), nullable=True),
    sa.Column('doctor_name', sa.String(length=64), nullable=True),
    sa.Column('treatment_plan', sa.Text(), nullable=True),
    sa.Column('orders', sa.Text(), nullable=True),
    sa.Column('spending', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['core_department.id'], name=op.f('fk_patients_visit_department_id_core_department')),
    sa.ForeignKeyConstraint(['doctor_id'], ['core_user.id'], name=op.f('fk_patients_visit_doctor_id_core_user')),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_visit_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['owner_id'], ['core_user.id'], name=op.f('fk_patients_visit_owner_id_core_user')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients_patient.id'], name=op.f('fk_patients_visit_patient_id_patients_patient')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_visit')),
    sa.UniqueConstraint('hospital_id', 'external_id', name=op.f('uq_patients_visit_hospital_id_external_id'))
    )
    with op.batch_alter_table('patients_visit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patients_visit_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_visit_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index('ix_patients_visit_hospital_visit_at', ['hospital_id', 'visit_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_visit_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index('ix_patients_visit_patient_visit_at', ['patient_id', 'visit_at'], unique=False)

    op.create_table('patients_diagnosis',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('visit_id', sa.Integer(), nullable=False),
    sa.Column('disease_id', sa.Integer(), nullable=True),
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('visit_at', sa.DateTime(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['disease_id'], ['patients_disease.id'], name=op.f('fk_patients_diagnosis_disease_id_patients_disease')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients_patient.id'], name=op.f('fk_patients_diagnosis_patient_id_patients_patient')),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_patients_diagnosis_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['visit_id'], ['patients_visit.id'], name=op.f('fk_patients_diagnosis_visit_id_patients_visit'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patients_diagnosis'))
    )
    with op.batch_alter_table('patients_diagnosis', schema=None) as batch_op:
        batch_op.create_index('ix_patients_diagnosis_disease_time', ['hospital_id', 'disease_id', 'visit_at', 'patient_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_diagnosis_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_patients_diagnosis_visit_id'), ['visit_id'], unique=False)



def downgrade():
    with op.batch_alter_table('patients_diagnosis', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_diagnosis_visit_id'))
        batch_op.drop_index(batch_op.f('ix_patients_diagnosis_hospital_id'))
        batch_op.drop_index('ix_patients_diagnosis_disease_time')

    op.drop_table('patients_diagnosis')
    with op.batch_alter_table('patients_visit', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_visit_patient_visit_at')
        batch_op.drop_index(batch_op.f('ix_patients_visit_owner_id'))
        batch_op.drop_index('ix_patients_visit_hospital_visit_at')
        batch_op.drop_index(batch_op.f('ix_patients_visit_hospital_id'))
        batch_op.drop_index(batch_op.f('ix_patients_visit_department_id'))

    op.drop_table('patients_visit')
    with op.batch_alter_table('patients_search_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_search_key_patient_id'))
        batch_op.drop_index('ix_patients_search_key_lookup', postgresql_ops={'key': 'varchar_pattern_ops'})
        batch_op.drop_index(batch_op.f('ix_patients_search_key_hospital_id'))

    op.drop_table('patients_search_key')
    op.drop_table('patients_patient_tag')
    with op.batch_alter_table('patients_health_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_health_record_hospital_id'))

    op.drop_table('patients_health_record')
    with op.batch_alter_table('patients_patient', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_patient_source_id'))
        batch_op.drop_index(batch_op.f('ix_patients_patient_referrer_id'))
        batch_op.drop_index(batch_op.f('ix_patients_patient_owner_id'))
        batch_op.drop_index('ix_patients_patient_hospital_phone_last4')
        batch_op.drop_index('ix_patients_patient_key', postgresql_where=sa.text('key_patient'), sqlite_where=sa.text('key_patient'))
        batch_op.drop_index('ix_patients_patient_hospital_phone2')
        batch_op.drop_index('ix_patients_patient_hospital_phone')
        batch_op.drop_index('ix_patients_patient_hospital_name', postgresql_ops={'name': 'varchar_pattern_ops'})
        batch_op.drop_index('ix_patients_patient_hospital_insurance')
        batch_op.drop_index('ix_patients_patient_hospital_id_number')
        batch_op.drop_index(batch_op.f('ix_patients_patient_hospital_id'))
        batch_op.drop_index('ix_patients_patient_hospital_created')
        batch_op.drop_index(batch_op.f('ix_patients_patient_department_id'))

    op.drop_table('patients_patient')
    with op.batch_alter_table('patients_referrer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_referrer_hospital_id'))

    op.drop_table('patients_referrer')
    with op.batch_alter_table('patients_tag', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_tag_hospital_id'))

    op.drop_table('patients_tag')
    with op.batch_alter_table('patients_source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_source_hospital_id'))

    op.drop_table('patients_source')
    with op.batch_alter_table('patients_region', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_region_hospital_id'))

    op.drop_table('patients_region')
    with op.batch_alter_table('patients_disease', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patients_disease_hospital_id'))

    op.drop_table('patients_disease')
