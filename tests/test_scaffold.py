"""`hcrm plugin new`: the generated plugin loads, migrates to exactly its model, and works.

The built-in form is exercised in this process on a database of its own; the standalone form is
installed into a scratch folder (setuptools, as pip would) and its generated tests run in a
separate pytest process, which finds it through its ``hcrm.plugins`` entry point.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from core import migrations_support, scaffold
from core.cli import main
from core.extensions import db
from core.manifest import entry_point_candidates, read_manifest
from core.models import AuditLog
from core.tenancy import system_scope
from core.testing import finder_with, fresh_database, login, make_app, make_hospital, make_user

FILES = ("__manifest__.py", "__init__.py", "models.py", "services.py", "forms.py", "views.py")


@pytest.fixture
def forget_generated_models():
    """Generated models join the process-wide metadata; take their tables out again afterwards
    so later tests only see tables their databases have."""
    before = set(db.metadata.tables)
    yield
    for name in set(db.metadata.tables) - before:
        db.metadata.remove(db.metadata.tables[name])


def sign_in(client, username):
    """Log in and switch to the English UI, whose messages the assertions read."""
    login(client, username)
    client.post("/language", data={"locale": "en"})


def _note_count(app) -> int:
    with app.app_context(), system_scope():
        return db.session.execute(sa.text("SELECT count(*) FROM scaffold_probe_note")).scalar_one()


def test_built_in_form_migrates_to_its_model_and_its_pages_work(tmp_path, monkeypatch, forget_generated_models):
    package = scaffold.create_plugin("scaffold_probe", tmp_path, standalone=False)
    assert package == tmp_path / "scaffold_probe"
    for name in FILES + ("templates/scaffold_probe/index.html", "templates/scaffold_probe/new.html",
                         "migrations/versions/scaffold_probe_0001_initial.py", "tests/test_scaffold_probe.py"):
        assert (package / name).is_file(), name
    monkeypatch.syspath_prepend(str(tmp_path))

    with fresh_database(tmp_path) as url:
        app = make_app(url, finder=finder_with(package))
        registry = app.extensions["hcrm"].registry
        assert "scaffold_probe" in registry.infos, registry.broken
        with app.app_context():
            migrations_support.upgrade()
            assert migrations_support.heads() <= migrations_support.applied()
            assert migrations_support.drift(migrations_support.deployment_prefixes()) == []
            hospital = make_hospital("A", plugins=["scaffold_probe"])
            make_user(hospital, "alice", ("staff",))
            make_user(make_hospital("B"), "bob", ("super_admin",))
            make_user(make_hospital("C", plugins=["scaffold_probe"]), "carol", ("director",))

        client = app.test_client()
        sign_in(client, "alice")
        assert "No notes yet." in client.get("/scaffold_probe/").get_data(as_text=True)
        assert client.get("/scaffold_probe/new").status_code == 200

        refused = client.post("/scaffold_probe/new", data={"title": " ", "body": "no title"})
        assert refused.status_code == 400
        assert "Enter a title." in refused.get_data(as_text=True)
        assert _note_count(app) == 0

        created = client.post("/scaffold_probe/new", data={"title": "Call Mrs Li back", "body": "Lab results"})
        assert created.status_code == 302 and created.location.endswith("/scaffold_probe/")
        listing = client.get("/scaffold_probe/").get_data(as_text=True)
        assert "Note saved." in listing and "Call Mrs Li back" in listing and "Lab results" in listing
        assert "1 record" in listing
        with app.app_context(), system_scope():
            audited = db.session.execute(sa.select(AuditLog).where(AuditLog.model == "Note")).scalar_one()
            assert audited.action == "create" and audited.after["title"] == "Call Mrs Li back"

        neighbour = app.test_client()
        sign_in(neighbour, "carol")  # hospital C has the plugin too, and a director who sees all of C
        neighbour.post("/scaffold_probe/new", data={"title": "Note of hospital C"})
        listing = client.get("/scaffold_probe/").get_data(as_text=True)
        assert "Note of hospital C" not in listing and "1 record" in listing
        listing = neighbour.get("/scaffold_probe/").get_data(as_text=True)
        assert "Call Mrs Li back" not in listing and "1 record" in listing

        other = app.test_client()
        sign_in(other, "bob")  # hospital B has not enabled the plugin
        assert other.get("/scaffold_probe/").status_code == 404
        assert other.get("/scaffold_probe/new").status_code == 404
        assert other.post("/scaffold_probe/new", data={"title": "Sneaked in"}).status_code == 404
        assert _note_count(app) == 2
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_standalone_distribution_installs_and_passes_its_own_tests(tmp_path, monkeypatch, pytester):
    package = scaffold.create_plugin("scaffold_dist", tmp_path, title="随访笔记 \"Notes\"")
    dist = tmp_path / "hcrm-scaffold_dist"
    assert package == dist / "hcrm_scaffold_dist"
    project = tomllib.loads((dist / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["entry-points"]["hcrm.plugins"] == {"scaffold_dist": "hcrm_scaffold_dist"}
    assert project["description"] == "随访笔记 \"Notes\""
    assert read_manifest(package, "hcrm_scaffold_dist").title == "随访笔记 \"Notes\""

    # Install as pip would (package, package data, entry point metadata), without network or wheel.
    site = tmp_path / "site"
    site.mkdir()
    built = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q",
                            "egg_info", "--egg-base", str(site), "build_py", "--build-lib", str(site)],
                           cwd=dist, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    for shipped in ("__manifest__.py", "templates/scaffold_dist/index.html",
                    "migrations/versions/scaffold_dist_0001_initial.py"):
        assert (site / "hcrm_scaffold_dist" / shipped).is_file(), f"{shipped} is not shipped"

    monkeypatch.syspath_prepend(str(site))
    found, problems = entry_point_candidates()
    assert ("hcrm_scaffold_dist" in [module for _dir, module, _source in found]), problems

    # The generated tests, in their own process (their models stay out of this one), find the
    # plugin through the entry point and build their own database (HCRM_TEST_DATABASE applies).
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    result = pytester.runpytest_subprocess(str(dist / "tests"), "-p", "no:cacheprovider")
    result.assert_outcomes(passed=14)


def _invoke(*args):
    return CliRunner().invoke(main, ["plugin", "new", *args])


@pytest.mark.parametrize("name, message", [
    ("Bad-Name", "invalid plugin name 'Bad-Name'"),
    ("x", "invalid plugin name 'x'"),
    ("patients", "a plugin named 'patients' already exists"),
    ("admin", "the name 'admin' is reserved"),
])
def test_cli_refuses_bad_and_taken_names_and_writes_nothing(tmp_path, name, message):
    for where in (["--path", str(tmp_path)], []):
        result = _invoke(name, *where)
        assert result.exit_code == 1
        assert message in result.output
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_an_existing_target_and_keeps_it(tmp_path):
    first = _invoke("scaffold_twice", "--path", str(tmp_path))
    assert first.exit_code == 0, first.output
    assert "pip install -e" in first.output
    manifest = tmp_path / "hcrm-scaffold_twice" / "hcrm_scaffold_twice" / "__manifest__.py"
    before = manifest.read_text()
    again = _invoke("scaffold_twice", "--path", str(tmp_path))
    assert again.exit_code == 1 and "already exists" in again.output
    assert manifest.read_text() == before
    missing = _invoke("scaffold_other", "--path", str(tmp_path / "nowhere"))
    assert missing.exit_code == 1 and "is not a directory" in missing.output


def test_default_target_is_a_built_in_plugin(tmp_path, monkeypatch):
    monkeypatch.setattr(scaffold, "BUILTIN_DIR", tmp_path)  # stand-in for the repository's plugins/
    result = _invoke("scaffold_builtin", "--title", "Built in")
    assert result.exit_code == 0, result.output
    package = tmp_path / "scaffold_builtin"
    info = read_manifest(package, "plugins.scaffold_builtin")
    assert (info.name, info.title, info.depends) == ("scaffold_builtin", "Built in", ())
    assert (package / "tests" / "test_scaffold_builtin.py").is_file()
    assert not (package / "pyproject.toml").exists()
    for name in FILES:
        ast.parse((package / name).read_text(encoding="utf-8"), filename=name)
    assert "plugin named 'scaffold_builtin' already exists" in _invoke("scaffold_builtin").output


def test_migration_depends_on_the_current_core_head(tmp_path):
    package = scaffold.create_plugin("scaffold_mig", tmp_path, standalone=False)
    module = ast.parse((package / "migrations/versions/scaffold_mig_0001_initial.py").read_text())
    values = {t.id: ast.literal_eval(node.value) for node in module.body if isinstance(node, ast.Assign)
              for t in node.targets}
    from alembic.script import ScriptDirectory
    core_heads = ScriptDirectory(str(scaffold.CORE_MIGRATIONS)).get_heads()
    assert values["depends_on"] == tuple(core_heads)
    assert values["down_revision"] is None and values["branch_labels"] == ("scaffold_mig",)


def test_a_failure_halfway_leaves_nothing_behind(tmp_path, monkeypatch):
    calls = []

    def broken(source, destination, values):
        calls.append(source)
        if len(calls) == 2:
            raise OSError("disk full")
        real(source, destination, values)

    real = scaffold._render_tree
    monkeypatch.setattr(scaffold, "_render_tree", broken)
    with pytest.raises(OSError):
        scaffold.create_plugin("scaffold_half", tmp_path)
    assert list(tmp_path.iterdir()) == []
