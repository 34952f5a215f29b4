"""rules apply from a time; open plans by due time

A rule may name the questionnaire its plans ask. A rule plans only visits whose trigger time is at or after ``applies_from``. Rules that exist
already apply from their creation (UTC there, close enough for rows written before this column).

Revision ID: 8317113c4456
Revises: fd4ab37daf9f
Create Date: 2026-11-23 00:08:42.031549
"""
import sqlalchemy as sa
from alembic import op


revision = '8317113c4456'
down_revision = 'fd4ab37daf9f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('followup_plan', schema=None) as batch_op:
        batch_op.create_index('ix_followup_plan_hospital_due', ['hospital_id', 'status', 'due_at'], unique=False)

    with op.batch_alter_table('followup_rule', schema=None) as batch_op:
        batch_op.add_column(sa.Column('applies_from', sa.DateTime(), nullable=True))
    op.execute("UPDATE followup_rule SET applies_from = created_at")
    with op.batch_alter_table('followup_rule', schema=None) as batch_op:
        batch_op.alter_column('applies_from', existing_type=sa.DateTime(), nullable=False)
        batch_op.add_column(sa.Column('questionnaire_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_followup_rule_questionnaire_id_followup_questionnaire'),
                                    'followup_questionnaire', ['questionnaire_id'], ['id'])


def downgrade():
    with op.batch_alter_table('followup_rule', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_followup_rule_questionnaire_id_followup_questionnaire'),
                                 type_='foreignkey')
        batch_op.drop_column('questionnaire_id')
        batch_op.drop_column('applies_from')

    with op.batch_alter_table('followup_plan', schema=None) as batch_op:
        batch_op.drop_index('ix_followup_plan_hospital_due')

