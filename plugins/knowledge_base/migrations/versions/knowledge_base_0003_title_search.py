"""knowledge base: GIN index of the title's words alone (PostgreSQL), for the search's candidates; index of source_id

A search ranks only a bounded set of candidates, title matches first (search.match): this index
finds them without reading the whole vector of every match.

Revision ID: knowledge_base_0003
Revises: knowledge_base_0002
Create Date: 2026-12-07 14:50:00
"""
from alembic import op

revision = 'knowledge_base_0003'
down_revision = 'knowledge_base_0002'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('knowledge_base_article', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_knowledge_base_article_source_id'), ['source_id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_knowledge_base_article_title_search ON knowledge_base_article "
                   "USING gin (to_tsvector('simple'::regconfig, title_tokens))")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_knowledge_base_article_title_search")
    with op.batch_alter_table('knowledge_base_article', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_knowledge_base_article_source_id'))
