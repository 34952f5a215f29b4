"""name index: the name itself as a key, and the patient's scope and registration time copied

The search keys carry the patient's owner, department and registration time, so the data scope
applies to them and a name search orders and counts its matches from the index alone; the name
itself becomes a key (name prefixes are searched there too); merged patients lose their keys.

Revision ID: 84c181d70948
Revises: 3486c3721108
Create Date: 2026-12-03 18:44:13.842996
"""
import sqlalchemy as sa
from alembic import op


revision = '84c181d70948'
down_revision = '3486c3721108'
branch_labels = None
depends_on = None

COPIED = ("created_at", "owner_id", "department_id")
# plugins.patients.search_index.name_key in SQL: lower case, without spaces and separators.
NAME_KEY = ("substr(lower(replace(replace(replace(replace(replace(p.name, ' ', ''), '·', ''), '•', ''), '.', ''), "
            "'-', '')), 1, 64)")


def upgrade():
    with op.batch_alter_table('patients_search_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('owner_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('department_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('created_at', sa.DateTime(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_patients_search_key_hospital_id'))
        batch_op.drop_index(batch_op.f('ix_patients_search_key_lookup'))

    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE patients_search_key k SET " + ", ".join(f"{c} = p.{c}" for c in COPIED)
                   + " FROM patients_patient p WHERE p.id = k.patient_id")
    else:
        op.execute("UPDATE patients_search_key SET " + ", ".join(
            f"{c} = (SELECT p.{c} FROM patients_patient p WHERE p.id = patients_search_key.patient_id)"
            for c in COPIED))
    op.execute("DELETE FROM patients_search_key WHERE patient_id IN "
               "(SELECT id FROM patients_patient WHERE merged_into_id IS NOT NULL)")
    op.execute(f"INSERT INTO patients_search_key (hospital_id, patient_id, key, {', '.join(COPIED)}) "
               f"SELECT p.hospital_id, p.id, {NAME_KEY}, {', '.join('p.' + c for c in COPIED)} "
               f"FROM patients_patient p WHERE p.merged_into_id IS NULL AND {NAME_KEY} <> '' AND NOT EXISTS "
               f"(SELECT 1 FROM patients_search_key k WHERE k.patient_id = p.id AND k.key = {NAME_KEY})")

    with op.batch_alter_table('patients_search_key', schema=None) as batch_op:
        batch_op.alter_column('created_at', existing_type=sa.DateTime(), nullable=False)
        batch_op.create_index('ix_patients_search_key_lookup',
                              ['hospital_id', 'key', 'created_at', 'patient_id', 'owner_id', 'department_id'],
                              unique=False, postgresql_ops={'key': 'varchar_pattern_ops'})


def downgrade():
    # The name keys stay: the earlier search matched letters only against the keys, and a
    # patient's own name among them matches what its pinyin already does.
    with op.batch_alter_table('patients_search_key', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_search_key_lookup', postgresql_ops={'key': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_patients_search_key_lookup'), ['hospital_id', 'key', 'patient_id'],
                              unique=False, postgresql_ops={'key': 'varchar_pattern_ops'})
        batch_op.create_index(batch_op.f('ix_patients_search_key_hospital_id'), ['hospital_id'], unique=False)
        batch_op.drop_column('created_at')
        batch_op.drop_column('department_id')
        batch_op.drop_column('owner_id')
