"""core tables

Revision ID: 31e9d3035748
Revises: 
Create Date: 2026-11-22 21:51:06.059925
"""
import sqlalchemy as sa
from alembic import op

revision = '31e9d3035748'
down_revision = None
branch_labels = ('core',)
depends_on = None


def upgrade():
    op.create_table('core_hospital',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_hospital')),
    sa.UniqueConstraint('code', name=op.f('uq_core_hospital_code'))
    )
    op.create_table('core_login_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('remote_addr', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_login_attempt'))
    )
    with op.batch_alter_table('core_login_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_login_attempt_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_login_attempt_remote_addr'), ['remote_addr'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_login_attempt_username'), ['username'], unique=False)

    op.create_table('core_audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('username', sa.String(length=64), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=64), nullable=True),
    sa.Column('before', sa.JSON(), nullable=True),
    sa.Column('after', sa.JSON(), nullable=True),
    sa.Column('note', sa.String(length=255), nullable=True),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_core_audit_log_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_audit_log'))
    )
    with op.batch_alter_table('core_audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_audit_log_hospital_id'), ['hospital_id'], unique=False)
        batch_op.create_index('ix_core_audit_log_target', ['model', 'record_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_core_audit_log_user_id'), ['user_id'], unique=False)

    op.create_table('core_department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_core_department_hospital_id_core_hospital')),
    sa.ForeignKeyConstraint(['parent_id'], ['core_department.id'], name=op.f('fk_core_department_parent_id_core_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_department')),
    sa.UniqueConstraint('hospital_id', 'code', name=op.f('uq_core_department_hospital_id_code'))
    )
    with op.batch_alter_table('core_department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_department_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('core_job_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=100), nullable=False),
    sa.Column('last_started_at', sa.DateTime(), nullable=True),
    sa.Column('last_success_at', sa.DateTime(), nullable=True),
    sa.Column('last_status', sa.String(length=16), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_core_job_run_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_job_run')),
    sa.UniqueConstraint('hospital_id', 'job', name=op.f('uq_core_job_run_hospital_id_job'))
    )
    op.create_table('core_role',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('data_scope', sa.String(length=16), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_core_role_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_role')),
    sa.UniqueConstraint('hospital_id', 'code', name=op.f('uq_core_role_hospital_id_code'))
    )
    with op.batch_alter_table('core_role', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_role_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('core_role_permission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.Column('permission', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['core_role.id'], name=op.f('fk_core_role_permission_role_id_core_role'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_role_permission')),
    sa.UniqueConstraint('role_id', 'permission', name=op.f('uq_core_role_permission_role_id_permission'))
    )
    op.create_table('core_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=100), nullable=False),
    sa.Column('password_hash', sa.String(length=256), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('is_group_admin', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.Column('password_changed_at', sa.DateTime(), nullable=True),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['core_department.id'], name=op.f('fk_core_user_department_id_core_department')),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_core_user_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_user')),
    sa.UniqueConstraint('username', name=op.f('uq_core_user_username'))
    )
    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_user_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('core_api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('last_used_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_api_token_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_api_token')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_core_api_token_token_hash'))
    )
    with op.batch_alter_table('core_api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_api_token_user_id'), ['user_id'], unique=False)

    op.create_table('core_hospital_plugin',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.Column('plugin', sa.String(length=40), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('explicit', sa.Boolean(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('changed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['changed_by_id'], ['core_user.id'], name=op.f('fk_core_hospital_plugin_changed_by_id_core_user')),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_core_hospital_plugin_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_core_hospital_plugin')),
    sa.UniqueConstraint('hospital_id', 'plugin', name=op.f('uq_core_hospital_plugin_hospital_id_plugin'))
    )
    with op.batch_alter_table('core_hospital_plugin', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_core_hospital_plugin_hospital_id'), ['hospital_id'], unique=False)

    op.create_table('core_user_role',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('role_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['role_id'], ['core_role.id'], name=op.f('fk_core_user_role_role_id_core_role'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['core_user.id'], name=op.f('fk_core_user_role_user_id_core_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'role_id', name=op.f('pk_core_user_role'))
    )


def downgrade():
    op.drop_table('core_user_role')
    with op.batch_alter_table('core_hospital_plugin', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_hospital_plugin_hospital_id'))

    op.drop_table('core_hospital_plugin')
    with op.batch_alter_table('core_api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_api_token_user_id'))

    op.drop_table('core_api_token')
    with op.batch_alter_table('core_user', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_user_hospital_id'))

    op.drop_table('core_user')
    op.drop_table('core_role_permission')
    with op.batch_alter_table('core_role', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_role_hospital_id'))

    op.drop_table('core_role')
    op.drop_table('core_job_run')
    with op.batch_alter_table('core_department', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_department_hospital_id'))

    op.drop_table('core_department')
    with op.batch_alter_table('core_audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_audit_log_user_id'))
        batch_op.drop_index('ix_core_audit_log_target')
        batch_op.drop_index(batch_op.f('ix_core_audit_log_hospital_id'))
        batch_op.drop_index(batch_op.f('ix_core_audit_log_at'))

    op.drop_table('core_audit_log')
    with op.batch_alter_table('core_login_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_core_login_attempt_username'))
        batch_op.drop_index(batch_op.f('ix_core_login_attempt_remote_addr'))
        batch_op.drop_index(batch_op.f('ix_core_login_attempt_at'))

    op.drop_table('core_login_attempt')
    op.drop_table('core_hospital')
