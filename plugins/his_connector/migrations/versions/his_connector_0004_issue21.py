"""issue 21: visit diagnoses from the HIS (the unknown-code policy, diseases added from the HIS); rows a run could not read (empty cursor or key); the last connection test's warning

Revision ID: his_connector_0004
Revises: 9b3e41d7c2f0
Create Date: 2026-12-07 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'his_connector_0004'
down_revision = '9b3e41d7c2f0'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('his_connector_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skipped', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('his_connector_connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_test_warning', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('unknown_diagnoses', sa.String(length=16), nullable=False,
                                      server_default='quarantine'))
    op.create_table(
        'his_connector_disease_origin',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('disease_id', sa.Integer(), nullable=False),
        sa.Column('connection_id', sa.Integer(), nullable=True),
        sa.Column('pinyin', sa.String(length=64), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('hospital_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['connection_id'], ['his_connector_connection.id'],
                                name=op.f('fk_his_connector_disease_origin_connection_id_his_connector_connection'), ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['disease_id'], ['patients_disease.id'],
                                name=op.f('fk_his_connector_disease_origin_disease_id_patients_disease'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_his_connector_disease_origin_hospital_id_core_hospital')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_his_connector_disease_origin')),
        sa.UniqueConstraint('disease_id', name=op.f('uq_his_connector_disease_origin_disease_id')),
    )
    with op.batch_alter_table('his_connector_disease_origin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_his_connector_disease_origin_connection_id'), ['connection_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_his_connector_disease_origin_hospital_id'), ['hospital_id'], unique=False)


def downgrade():
    op.drop_table('his_connector_disease_origin')
    with op.batch_alter_table('his_connector_connection', schema=None) as batch_op:
        batch_op.drop_column('last_test_warning')
        batch_op.drop_column('unknown_diagnoses')
    with op.batch_alter_table('his_connector_run', schema=None) as batch_op:
        batch_op.drop_column('skipped')
