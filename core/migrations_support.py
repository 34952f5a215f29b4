"""Migrations per plugin: version locations, upgrade to every head, per-plugin revisions, drift check.

Flask-Migrate (and with it Alembic, ~10 MB) is bound to an app only when a command here needs
it, not by ``create_app``: web workers, the job worker and a HIS sync never migrate."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import Migrate

from core.extensions import db

CORE_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CORE_VERSIONS = CORE_MIGRATIONS / "versions"
migrate = Migrate()


def version_locations(app=None) -> list[str]:
    app = app or current_app
    registry = app.extensions["hcrm"].registry
    paths = [str(CORE_VERSIONS)]
    paths += [str(i.migrations_dir) for i in registry.infos.values() if i.migrations_dir.is_dir()]
    return paths


@migrate.configure
def _add_plugin_branches(config):
    config.set_main_option("version_locations", " ".join(version_locations()))
    config.set_main_option("path_separator", "space")
    return config


def alembic_config():
    if "migrate" not in current_app.extensions:
        migrate.init_app(current_app, db, directory=str(CORE_MIGRATIONS))
    return current_app.extensions["migrate"].migrate.get_config()


def upgrade() -> None:
    """Bring the core and every loaded plugin's branch to its head."""
    command.upgrade(alembic_config(), "heads")


def heads() -> set[str]:
    """The revisions ``alembic_version`` holds once every branch is at its head.

    A branch head that another branch ``depends_on`` (the core's head, under a plugin's first
    revision) is dropped from ``alembic_version`` when its dependant is applied, so it is left
    out here too; otherwise ``heads() <= applied()`` would never hold.
    """
    script = ScriptDirectory.from_config(alembic_config())
    all_heads = set(script.get_heads())
    needed = {rev.revision for head in all_heads for rev in script.iterate_revisions(head, "base")
              if rev.revision != head}
    return all_heads - needed


def applied() -> set[str]:
    with db.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def _removes_table(diff) -> bool:
    return not isinstance(diff, list) and diff[0] == "remove_table"


def _diff_table(diff) -> str | None:
    """The table an autogenerate diff entry is about (entries are tuples, or lists of tuples)."""
    if isinstance(diff, list):
        diff = diff[0]
    kind, *rest = diff
    if kind in ("add_table", "remove_table"):
        return rest[0].name
    if kind in ("add_index", "remove_index", "add_constraint", "remove_constraint", "add_fk", "remove_fk"):
        return getattr(rest[0], "table", None) is not None and rest[0].table.name or None
    if kind in ("add_column", "remove_column") or kind.startswith("modify_"):
        return rest[1]
    return None


def virtual_tables(connection) -> set[str]:
    """SQLite virtual tables (a plugin's FTS5 index, created by its migration and queried with
    Core statements, not a model) and the shadow tables SQLite keeps for them (``<name>_data``,
    ``<name>_idx`` …): the models cannot declare them, so the drift check leaves them alone."""
    if connection.dialect.name != "sqlite":
        return set()
    rows = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'").scalars()
    names = set(rows)
    shadows = connection.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'").scalars()
    suffixes = ("_data", "_idx", "_content", "_docsize", "_config")
    return names | {s for s in shadows for v in names if s in {v + x for x in suffixes}}


def drift(prefixes: tuple[str, ...] | None = None) -> list:
    """Differences between the models and the database (empty when migrations match the models).

    ``prefixes`` limits the check to tables whose names start with one of them (one plugin's
    tables, or the deployment's own tables while tests declare extra models). SQLite virtual
    tables and their shadow tables are not models and are left out (:func:`virtual_tables`).
    """
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, db.metadata)
        virtual = virtual_tables(conn)
    diffs = [d for d in diffs if not (_removes_table(d) and _diff_table(d) in virtual)]
    if prefixes is None:
        return diffs
    return [d for d in diffs if (_diff_table(d) or "").startswith(prefixes)]


def deployment_prefixes(app=None) -> tuple[str, ...]:
    """Table prefixes of the core and every loaded plugin."""
    app = app or current_app
    return ("core_",) + tuple(f"{name}_" for name in app.extensions["hcrm"].registry.infos)


def new_revision(plugin: str, message: str, autogenerate: bool = True):
    """A revision on ``plugin``'s branch (``core`` for the core), holding only its tables.

    The first revision of a plugin starts its branch and depends on the heads of the branches
    of the plugins it depends on (and the core's), following the manifest.
    """
    config = alembic_config()
    config.attributes["hcrm_table_prefix"] = f"{plugin}_"
    script = ScriptDirectory.from_config(config)
    labelled = {label for rev in script.walk_revisions() for label in (rev.branch_labels or ())}
    if plugin in labelled:
        return command.revision(config, message=message, autogenerate=autogenerate, head=f"{plugin}@head")
    if plugin == "core":
        versions, depends = CORE_VERSIONS, []
    else:
        info = current_app.extensions["hcrm"].registry.infos[plugin]
        versions, depends = info.migrations_dir, ["core"] + [d for d in info.depends if d in labelled]
    versions.mkdir(parents=True, exist_ok=True)
    # A plugin's first revision creates its folder, which version_locations() skipped so far.
    locations = config.get_main_option("version_locations").split()
    if str(versions) not in locations:
        config.set_main_option("version_locations", " ".join(locations + [str(versions)]))
    return command.revision(config, message=message, autogenerate=autogenerate, head="base",
                            branch_label=plugin, version_path=str(versions),
                            depends_on=[script.get_revision(f"{d}@head").revision for d in depends])
