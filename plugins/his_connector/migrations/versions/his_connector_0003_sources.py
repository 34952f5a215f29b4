"""connections pick a configured HIS source instead of storing a URL

The URL a connection stored becomes ``legacy_url`` (kept: it is matched against the sources of
config.yaml at run time, see resolve.legacy_source) and its user name moves to ``username``.
A connection whose URL matches no configured source stays, unusable with a message, until an
administrator picks a source (docs/his_connector.md, "Upgrading").

Revision ID: 9b3e41d7c2f0
Revises: c1a2278a144a
Create Date: 2026-12-07 01:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.engine import make_url

revision = '9b3e41d7c2f0'
down_revision = 'c1a2278a144a'
branch_labels = None
depends_on = None


def _username(url_text):
    try:
        return make_url(url_text).username
    except Exception:  # an unparsable old URL has no user name to keep
        return None


def upgrade():
    with op.batch_alter_table('his_connector_connection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('username', sa.String(length=128), nullable=True))
        batch_op.alter_column('url', new_column_name='legacy_url', existing_type=sa.String(length=500),
                              nullable=True)
    table = sa.table('his_connector_connection', sa.column('id', sa.Integer), sa.column('legacy_url', sa.String),
                     sa.column('username', sa.String))
    conn = op.get_bind()
    for ident, url_text in conn.execute(sa.select(table.c.id, table.c.legacy_url)).all():
        conn.execute(table.update().where(table.c.id == ident).values(username=_username(url_text)))


def downgrade():
    # A connection made after the upgrade has no URL: it gets the empty string and must be
    # set up again with the older version.
    op.execute("UPDATE his_connector_connection SET legacy_url = '' WHERE legacy_url IS NULL")
    with op.batch_alter_table('his_connector_connection', schema=None) as batch_op:
        batch_op.alter_column('legacy_url', new_column_name='url', existing_type=sa.String(length=500),
                              nullable=False)
        batch_op.drop_column('username')
        batch_op.drop_column('source')
