"""knowledge base: public read-only links (one unguessable token per article and hospital)

Revision ID: knowledge_base_0002
Revises: knowledge_base_0001
Create Date: 2026-12-07 14:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'knowledge_base_0002'
down_revision = 'knowledge_base_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('knowledge_base_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('article_id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_by_name', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('hospital_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['article_id'], ['knowledge_base_article.id'], name=op.f('fk_knowledge_base_link_article_id_knowledge_base_article')),
    sa.ForeignKeyConstraint(['hospital_id'], ['core_hospital.id'], name=op.f('fk_knowledge_base_link_hospital_id_core_hospital')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_knowledge_base_link')),
    sa.UniqueConstraint('hospital_id', 'article_id', name=op.f('uq_knowledge_base_link_hospital_id_article_id')),
    sa.UniqueConstraint('token', name=op.f('uq_knowledge_base_link_token'))
    )
    with op.batch_alter_table('knowledge_base_link', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_base_link_article_id'), ['article_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_knowledge_base_link_hospital_id'), ['hospital_id'], unique=False)


def downgrade():
    with op.batch_alter_table('knowledge_base_link', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_base_link_hospital_id'))
        batch_op.drop_index(batch_op.f('ix_knowledge_base_link_article_id'))
    op.drop_table('knowledge_base_link')
