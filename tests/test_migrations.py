"""The migrations build the schema the models describe, on SQLite and PostgreSQL alike."""
from core import migrations_support


def test_database_is_at_every_head(app):
    with app.app_context():
        heads = migrations_support.heads()
        assert heads and heads <= migrations_support.applied()


def test_models_and_migrations_agree(app):
    with app.app_context():
        drift = migrations_support.drift(migrations_support.deployment_prefixes())
        assert drift == [], f"run `hcrm db revision --plugin <name> -m ...`: {drift}"


def test_each_branch_is_labelled_after_its_owner(app):
    from alembic.script import ScriptDirectory
    with app.app_context():
        script = ScriptDirectory.from_config(migrations_support.alembic_config())
        labels = {label for rev in script.walk_revisions() for label in (rev.branch_labels or ())}
        plugins = set(app.extensions["hcrm"].registry.infos)
        assert "core" in labels
        assert labels <= plugins | {"core"}, f"branches named after no plugin: {labels - plugins - {'core'}}"


def test_sqlite_virtual_tables_and_their_shadows_are_no_drift():
    """An FTS5 index a plugin's migration creates is not a model: drift() leaves it (and the
    shadow tables SQLite keeps for it) alone, but still sees an ordinary table of the same prefix."""
    import sqlalchemy as sa
    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE demo_fts USING fts5(title, body)")
        conn.exec_driver_sql("CREATE TABLE demo_fts_notes (id INTEGER PRIMARY KEY)")  # not a shadow table
        conn.exec_driver_sql("CREATE TABLE demo_other (id INTEGER PRIMARY KEY)")
        virtual = migrations_support.virtual_tables(conn)
    assert {"demo_fts", "demo_fts_data", "demo_fts_idx", "demo_fts_config"} <= virtual
    assert not {"demo_other", "demo_fts_notes"} & virtual
