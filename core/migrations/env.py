"""Alembic environment: one metadata, many branches (the core's and each plugin's).

When ``config.attributes["hcrm_table_prefix"]`` is set (``hcrm db revision --plugin X``),
autogenerate only looks at that plugin's tables, so each branch holds its own tables.
"""
import logging

from alembic import context
from flask import current_app

from core.extensions import db

config = context.config
log = logging.getLogger("alembic.env")
target_metadata = db.metadata


def include_object(obj, name, type_, reflected, compare_to):
    if type_ == "table" and reflected and compare_to is None:
        from core.migrations_support import virtual_tables  # an FTS5 index is no model: never drop it
        if name in virtual_tables(context.get_bind()):
            return False
    prefix = config.attributes.get("hcrm_table_prefix")
    if prefix is None:
        return True
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = getattr(table, "name", name) or ""
    return table_name.startswith(prefix)


def run_migrations_online():
    engine = db.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    context.configure(url=current_app.config["SQLALCHEMY_DATABASE_URI"], target_metadata=target_metadata,
                      literal_binds=True, include_object=include_object)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
