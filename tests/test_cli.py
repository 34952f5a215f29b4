"""The ``hcrm`` command line, run as an administrator would: a config.yaml of their own, the
database URL and secret key from the environment, a fresh database per test (SQLite, or a
dedicated PostgreSQL database when HCRM_TEST_DATABASE names PostgreSQL)."""
from __future__ import annotations

import re
import sqlite3
import stat
import textwrap
from contextlib import closing

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from core.cli import main
from core.testing import fresh_database

CONFIG = """\
    hospitals:
      - code: H1
        name: 第一医院
        plugins: [patients, followup]
      - code: H2
        name: 第二医院
    """


@pytest.fixture
def cli_database(tmp_path):
    """A new, empty database for this test only (``hcrm init`` must build it from nothing)."""
    with fresh_database(tmp_path) as url:
        yield url


@pytest.fixture
def site(tmp_path, monkeypatch, cli_database):
    """An installation in tmp_path: its config.yaml, database and instance/ folder."""
    config = tmp_path / "config.yaml"
    config.write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    monkeypatch.setenv("HCRM_CONFIG", str(config))
    monkeypatch.setenv("HCRM_DATABASE_URL", cli_database)
    monkeypatch.setenv("HCRM_SECRET_KEY", "cli-test-secret")
    # Never touch the developer's own instance/ folder (secret key, sqlite file).
    monkeypatch.setattr("core.cli.INSTANCE", tmp_path / "instance")
    monkeypatch.setattr("core.app.INSTANCE", tmp_path / "instance")
    return tmp_path


@pytest.fixture(scope="session")
def _initialised_template(tmp_path_factory):
    """One database on which ``hcrm init`` ran with CONFIG, made once per test process: the tests
    that need an installation (not the ones about init itself) start from a copy of it, which
    saves each a whole schema migration."""
    folder = tmp_path_factory.mktemp("cli-template")
    (folder / "config.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    with fresh_database(folder) as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv("HCRM_CONFIG", str(folder / "config.yaml"))
        patch.setenv("HCRM_DATABASE_URL", url)
        patch.setenv("HCRM_SECRET_KEY", "cli-test-secret")
        patch.setattr("core.cli.INSTANCE", folder / "instance")
        patch.setattr("core.app.INSTANCE", folder / "instance")
        ok("init")
        yield url


def _copy_database(source: str, target: str) -> None:
    """``target`` (an existing database of this test) made a copy of ``source``."""
    source_url, target_url = sa.engine.make_url(source), sa.engine.make_url(target)
    if source_url.get_backend_name() == "sqlite":
        # SQLite's backup, not a file copy: the app runs the file in WAL mode, so recent pages
        # may still sit in the -wal file beside it.
        with closing(sqlite3.connect(source_url.database)) as src, closing(sqlite3.connect(target_url.database)) as dst:
            src.backup(dst)
        return
    admin = sa.create_engine(target_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            # A template must have no session: the app that ran init may still hold one.
            conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                 "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": source_url.database})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target_url.database}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{target_url.database}" TEMPLATE "{source_url.database}"'))
    finally:
        admin.dispose()


@pytest.fixture
def initialised(site, cli_database, _initialised_template):
    """``site`` after ``hcrm init`` (a copy of the session's initialised database)."""
    _copy_database(_initialised_template, cli_database)
    return site


def hcrm(*args):
    result = CliRunner().invoke(main, list(args))
    # An exception other than SystemExit would have reached the administrator as a traceback.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def ok(*args) -> list[str]:
    result = hcrm(*args)
    assert result.exit_code == 0, f"hcrm {' '.join(args)} -> {result.exit_code}: {result.output}"
    return result.output.splitlines()


def fails(*args) -> str:
    result = hcrm(*args)
    assert result.exit_code == 1, f"hcrm {' '.join(args)} -> {result.exit_code}: {result.output}"
    return result.output


def query(*statements):
    """Rows of each statement against the site's database, through one app built like the
    CLI's (building an app is most of a CLI test's time: one per snapshot, not one per table).
    One statement: its rows; several: a tuple of their rows."""
    from core import create_app
    from core.extensions import db
    from core.tenancy import system_scope
    app = create_app()
    with app.app_context(), system_scope():
        found = tuple([tuple(r) for r in db.session.execute(statement).all()] for statement in statements)
        db.engine.dispose()
    return found[0] if len(statements) == 1 else found


def snapshot():
    from core.models import Hospital, HospitalPlugin, Role, User
    return query(sa.select(Hospital.code, Hospital.name).order_by(Hospital.code),
                 sa.select(HospitalPlugin.hospital_id, HospitalPlugin.plugin, HospitalPlugin.enabled,
                           HospitalPlugin.explicit).order_by(HospitalPlugin.id),
                 sa.select(User.username, User.password_hash).order_by(User.id),
                 sa.select(Role.hospital_id, Role.code).order_by(Role.id))


def states(hospital: str) -> dict[str, str]:
    """plugin -> enabled/disabled/never, from ``hcrm plugins list --hospital``."""
    found = {}
    for line in ok("plugins", "list", "--hospital", hospital):
        parts = line.split()
        if parts and parts[0] in ("enabled", "disabled", "never"):
            found[parts[1]] = parts[0]
    return found


# -- init -------------------------------------------------------------------------------------
def test_init_creates_schema_hospitals_plugins_and_the_admin(site):
    out = ok("init")
    assert out[0] == "database is at the latest schema"
    assert "created hospital H1 (第一医院)" in out and "created hospital H2 (第二医院)" in out
    assert "H1: enabled 'patients' for H1" in out and "H1: enabled 'followup' for H1" in out
    (admin_line,) = [line for line in out if "group administrator created" in line]
    password = re.search(r"password '([^']+)'", admin_line).group(1)
    assert len(password) >= 12

    from core.models import Hospital, User
    assert query(sa.select(Hospital.code).order_by(Hospital.code)) == [("H1",), ("H2",)]
    assert states("H1")["patients"] == "enabled" and states("H1")["followup"] == "enabled"
    assert states("H2")["followup"] == "never"
    from core import create_app
    from core.extensions import db
    from core.tenancy import system_scope
    app = create_app()
    with app.app_context(), system_scope():
        admin = db.session.execute(sa.select(User).where(User.username == "admin")).scalar_one()
        assert admin.is_group_admin and admin.hospital.code == "H1"
        assert admin.check_password(password)
        assert [r.code for r in admin.roles] == ["super_admin"]
        db.engine.dispose()


def test_init_again_changes_nothing(initialised):
    before = snapshot()
    out = ok("init")
    assert out == ["database is at the latest schema"]
    assert snapshot() == before


def test_init_demo_prints_the_demo_users(site):
    out = ok("init", "--demo")
    assert "group administrator created: username 'admin', password 'hcrm-demo-2026'" in out
    (h1,) = [line for line in out if line.startswith("H1: demo users ")]
    assert "h1_super_admin" in h1 and "h1_staff" in h1
    assert any(line.startswith("H2: demo users ") and "h2_staff" in line for line in out)
    assert out[-1] == "demo users share the password 'hcrm-demo-2026'"
    from core.models import User
    assert ("h2_director",) in query(sa.select(User.username))
    # Loading the demo again creates nobody twice.
    again = ok("init", "--demo")
    assert not [line for line in again if re.match(r"H\d: demo users ", line)]
    assert len(query(sa.select(User.username))) == len(set(query(sa.select(User.username))))


def test_init_without_secret_key_writes_one_to_instance(site, monkeypatch):
    monkeypatch.delenv("HCRM_SECRET_KEY")
    key_file = site / "instance" / "secret_key"
    assert "no secret key" in fails("plugins", "list")
    ok("init")
    key = key_file.read_text()
    assert len(key) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600  # readable by the service account only
    ok("init")
    assert key_file.read_text() == key  # never replaced: that would sign everyone out
    assert states("H1")["patients"] == "enabled"  # other commands read the file


def test_init_reports_an_unwritable_instance_folder(site, monkeypatch):
    monkeypatch.delenv("HCRM_SECRET_KEY")
    (site / "not-a-folder").write_text("")
    monkeypatch.setattr("core.cli.INSTANCE", site / "not-a-folder" / "instance")
    output = fails("init")
    assert f"Error: cannot write the secret key to {site / 'not-a-folder' / 'instance'}" in output
    assert "HCRM_SECRET_KEY" in output


# -- plugins ----------------------------------------------------------------------------------
def test_explicit_disable_survives_another_init(initialised):
    assert ok("plugins", "disable", "followup", "--hospital", "H1") == [
        "disabled 'followup' for H1 (its data is kept)"]
    out = ok("init")
    assert "H1: 'followup' stays disabled (an administrator disabled it)" in out
    assert states("H1")["followup"] == "disabled"
    assert states("H1")["patients"] == "enabled"


def test_enable_reports_the_dependencies_it_enabled(initialised):
    assert ok("plugins", "enable", "followup", "--hospital", "H2") == [
        "enabled 'patients' (required by 'followup')", "enabled 'followup' for H2"]
    assert states("H2")["patients"] == "enabled" and states("H2")["followup"] == "enabled"
    assert ok("plugins", "enable", "followup", "--hospital", "H2") == ["'followup' is already enabled for H2"]


def test_disable_refused_while_a_dependant_is_enabled(initialised):
    message = fails("plugins", "disable", "patients", "--hospital", "H1")
    assert "Error: cannot disable 'patients' for H1: followup depend(s) on it" in message
    assert states("H1")["patients"] == "enabled"


@pytest.mark.parametrize("args, message", [
    (("plugins", "enable", "followup", "--hospital", "NOPE"), "no hospital with code 'NOPE' (known: H1, H2)"),
    (("plugins", "disable", "followup", "--hospital", "NOPE"), "no hospital with code 'NOPE' (known: H1, H2)"),
    (("plugins", "list", "--hospital", "NOPE"), "no hospital with code 'NOPE' (known: H1, H2)"),
    (("plugins", "enable", "billing", "--hospital", "H1"), "cannot enable 'billing': no such plugin is installed"),
    (("plugins", "disable", "billing", "--hospital", "H1"), "cannot disable 'billing': no such plugin is installed"),
])
def test_unknown_hospital_or_plugin(initialised, args, message):
    before = snapshot()
    assert f"Error: {message}" in fails(*args)
    assert snapshot() == before


def test_unknown_hospital_before_init_says_to_run_init(site):
    ok("db", "upgrade")
    assert "no hospital with code 'H1' (known: none — run hcrm init)" in fails(
        "plugins", "enable", "patients", "--hospital", "H1")


def test_plugins_list_without_hospital_lists_the_installed_plugins(initialised):
    out = ok("plugins", "list")
    names = [line.split()[0] for line in out]
    assert {"patients", "followup"} <= set(names)
    assert any(line.startswith("followup") and "(depends: patients)" in line for line in out)


# -- database ---------------------------------------------------------------------------------
def test_db_check(site):
    assert "database lacks revision(s)" in fails("db", "check")
    ok("init")
    assert ok("db", "check") == ["database, migrations and models agree"]


# -- bad config -------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [("init",), ("db", "check"), ("plugins", "list"), ("jobs", "run")])
def test_bad_config_is_one_line_with_file_and_line(site, args):
    config = site / "config.yaml"
    config.write_text("hospitals: []\ndatabse:\n  url: sqlite://\n", encoding="utf-8")
    output = fails(*args)
    assert f"Error: {config}:2: unknown key 'databse'" in output
    assert "did you mean 'database'?" in output
    assert len(output.strip().splitlines()) == 1


def test_config_naming_an_unknown_plugin(site):
    config = site / "config.yaml"
    config.write_text("hospitals:\n  - code: H1\n    name: One\n    plugins: [folowup]\n", encoding="utf-8")
    output = fails("init")
    assert f"{config}:4: hospital 'H1' enables unknown plugin 'folowup'" in output
    assert "did you mean 'followup'?" in output


# -- jobs -------------------------------------------------------------------------------------
def test_jobs_run_without_jobs(site):
    (site / "config.yaml").write_text(
        "hospitals:\n  - code: H1\n    name: One\n  - code: H2\n    name: Two\n", encoding="utf-8")
    ok("init")
    assert ok("jobs", "run") == ["no jobs are declared by the enabled plugins"]


def test_secret_key_command_prints_a_new_key(site):
    first, second = ok("secret-key"), ok("secret-key")
    assert len(first[0]) == 64 and first != second


# -- a database that is missing, unreachable or not set up ------------------------------------
def test_commands_before_init_say_what_to_do(site):
    assert "the database is not at the latest schema: run `hcrm init`" in fails("run")
    output = fails("plugins", "list", "--hospital", "H1")
    assert "run `hcrm init`" in output
    assert len(output.strip().splitlines()) == 1


@pytest.mark.parametrize("url", ["postgresql://hcrm@127.0.0.1:1/hcrm", "sqlite:////proc/no-such-dir/hcrm.sqlite3"])
@pytest.mark.parametrize("args", [("init",), ("db", "check"), ("plugins", "list", "--hospital", "H1"),
                                  ("jobs", "run")])
def test_unreachable_database_is_one_line_not_a_traceback(site, monkeypatch, url, args):
    monkeypatch.setenv("HCRM_DATABASE_URL", url)
    output = fails(*args)
    assert output.startswith("Error: ")
    assert len(output.strip().splitlines()) == 1


def test_init_without_hospitals_says_how_to_get_an_admin(site):
    (site / "config.yaml").write_text("hospitals: []\n", encoding="utf-8")
    out = ok("init")
    assert "no hospital in config.yaml: add one, then run `hcrm init` again to create the admin" in out
    (site / "config.yaml").write_text(textwrap.dedent(CONFIG), encoding="utf-8")
    assert any("group administrator created" in line for line in ok("init"))


def test_help_lists_the_commands(site):
    out = "\n".join(ok("--help"))
    for command in ("init", "db", "plugins", "jobs", "user", "run", "secret-key"):
        assert re.search(rf"^\s+{command}\s", out, re.M), command


def test_jobs_run_names_the_known_tasks_when_the_name_is_unknown(initialised):
    output = fails("jobs", "run", "his_connector.snyc", "--hospital", "H1")
    assert "No task is called “his_connector.snyc”" in output and "his_connector.sync" in output


def test_jobs_list_and_retry_of_an_unknown_task(initialised):
    assert ok("jobs", "list") == ["no tasks"]
    assert "no task #42" in fails("jobs", "retry", "42")
