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
