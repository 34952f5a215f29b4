"""Issue 16, items 1-3: the HIS connector is no way into the CRM or the server.

A hospital administrator only picks a HIS source the operator configured; no spelling of the
CRM's own database gets through (at config load or at connect), the password variable can only
be one of the HIS's, SQLite files stay inside sqlite_dir and are never created, and every HIS
session is read-only.
"""
import os
import socket
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from core.config import ConfigError, load_config
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import fresh_database, login
from plugins.his_connector import services, source
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Connection
from plugins.his_connector.settings import validate
from plugins.his_connector.testing import allow, allow_sources
from plugins.his_connector.tests.conftest import PATIENTS_QUERY, connect, sync

SECRET = "very-secret-key-of-the-crm"


def _load(tmp_path, crm_url: str, his_section: str):
    """validate() as at start-up, on a config.yaml whose CRM database is ``crm_url``."""
    path = tmp_path / "config.yaml"
    path.write_text(f'database:\n  url: "{crm_url}"\nhospitals: []\nplugins_settings:\n  his_connector:\n'
                    + "".join(f"    {line}\n" for line in his_section.strip("\n").splitlines()), encoding="utf-8")
    config = load_config(path, environ={})
    return validate(config.plugins_settings["his_connector"], config)


def _refused_at_load(tmp_path, crm_url, his_section) -> str:
    with pytest.raises(ConfigError) as refused:
        _load(tmp_path, crm_url, his_section)
    return str(refused.value)


def _connection(connection_id):
    return db.session.get(Connection, connection_id)


# -- 1. the CRM's own database, whatever the spelling --------------------------------------------
def test_the_crms_sqlite_file_is_refused_at_load_through_any_path(tmp_path):
    his_dir = tmp_path / "his"
    (his_dir / "sub").mkdir(parents=True)
    crm = his_dir / "hcrm.sqlite3"
    sqlite3_file(crm)
    os.symlink(crm, his_dir / "looks_like_his.sqlite3")
    os.link(crm, his_dir / "hardlink.sqlite3")
    crm_url = f"sqlite:///{crm}"
    for database in ("hcrm.sqlite3", "sub/../hcrm.sqlite3", "looks_like_his.sqlite3", "hardlink.sqlite3",
                     "./sub/../../his/hcrm.sqlite3"):
        message = _refused_at_load(tmp_path, crm_url, f"""
sqlite_dir: {his_dir}
sources:
  - name: trap
    dialect: sqlite
    database: "{database}"
""")
        assert "config.yaml:8:" in message and "the CRM's own database file" in message, (database, message)
    for url in (f"sqlite:///{crm}", f"sqlite:///file:{crm}?mode=ro&uri=true", f"sqlite:///{his_dir}/sub/../hcrm.sqlite3"):
        message = _refused_at_load(tmp_path, crm_url, f"""
sqlite_dir: {his_dir}
sources:
  - name: trap
    url: "{url}"
""")
        assert "the CRM's own database file" in message, (url, message)
    # the same file, the CRM's URL spelt relative to config.yaml
    message = _refused_at_load(his_dir, "sqlite:///hcrm.sqlite3", f"""
sqlite_dir: {his_dir}
sources: [{{name: trap, dialect: sqlite, database: hcrm.sqlite3}}]
""")
    assert "the CRM's own database file" in message


def sqlite3_file(path):
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE core_user (id INTEGER PRIMARY KEY, password_hash TEXT)")
    engine.dispose()


def test_the_crms_server_is_refused_at_load_by_address_not_by_spelling(tmp_path):
    crm_url = "postgresql+psycopg2://hcrm@localhost:5432/hcrm"
    hostname = socket.gethostname()
    for host, port, database in (("127.0.0.1", 5432, "hcrm"), ("localhost", None, "hcrm"), ("::1", 5432, "hcrm"),
                                 (hostname, 5432, "hcrm"), ("0.0.0.0", 5432, "hcrm"), ("LOCALHOST", 5432, "hcrm")):
        port_line = f"\n    port: {port}" if port else ""
        message = _refused_at_load(tmp_path, crm_url, f"""
sources:
  - name: trap
    dialect: postgresql
    host: "{host}"{port_line}
    database: {database}
""")
        assert "config.yaml:7:" in message and "the CRM's own database" in message, (host, message)
    for url in ("postgresql://x@/hcrm", "postgresql://x@/hcrm?host=/var/run/postgresql",
                "postgresql://x@127.0.0.1/hcrm"):
        message = _refused_at_load(tmp_path, crm_url, f'sources: [{{name: trap, url: "{url}"}}]')
        assert "the CRM's own database" in message, (url, message)
    # Another database of a MySQL server is reachable with db.table from any of them.
    message = _refused_at_load(tmp_path, "mysql+pymysql://hcrm@127.0.0.1/hcrm",
                               "sources: [{name: trap, dialect: mysql, host: localhost, database: his}]")
    assert "same MySQL/MariaDB server" in message
    # What is not the CRM stays allowed: another database, another port, another server.
    allowed = _load(tmp_path, crm_url, """
sources:
  - {name: his-db, dialect: postgresql, host: 127.0.0.1, database: his}
  - {name: other-port, dialect: postgresql, host: 127.0.0.1, port: 5433, database: hcrm}
  - {name: remote, dialect: mysql, host: 192.0.2.10, database: hcrm}
""")
    assert [s.name for s in allowed.sources] == ["his-db", "other-port", "remote"]


def test_the_crms_own_database_is_refused_at_connect_time(app, hospital, database_url, monkeypatch):
    """A source whose URL comes from the environment is checked when it is used: set to the
    CRM's own database (in several spellings), the test and the preview refuse before connecting."""
    crm = make_url(database_url)
    spellings = [crm]
    if crm.get_backend_name() == "sqlite":
        path = crm.database
        spellings += [crm.set(database=os.path.join(os.path.dirname(path), ".", "..", os.path.basename(
            os.path.dirname(path)), os.path.basename(path)))]
    else:
        spellings += [crm.set(host=h) for h in ("localhost", "127.0.0.1", socket.gethostname())]
    with app.app_context():
        allow_sources({"name": "env-his", "url_env": "HCRM_HIS_URL_TRAP"}, sqlite_dir=os.path.dirname(crm.database or "/"))
        with hospital_scope(hospital["a"]):
            connection = services.create_connection({"name": "trap", "source": "env-his"})
            for url in spellings:
                monkeypatch.setenv("HCRM_HIS_URL_TRAP", url.render_as_string(hide_password=False))
                result = services.test_connection(connection)
                assert not result.ok and "CRM's own database" in str(result.message), (url, result.message)
                with pytest.raises(services.HisError) as refused:
                    services.preview(connection, "patients", {"query": "SELECT id, username FROM core_user",
                                                              "key_column": "id", "cursor_column": "id",
                                                              "fields": {"name": "username"}})
                assert "CRM's own database" in str(refused.value)


def test_the_app_does_not_start_with_a_source_at_its_own_database(app_factory, database_url, tmp_path):
    crm = make_url(database_url)
    if crm.get_backend_name() == "sqlite":
        section = (f"sqlite_dir: {os.path.dirname(crm.database)}\n"
                   f"sources: [{{name: trap, dialect: sqlite, database: {os.path.basename(crm.database)}}}]")
    else:
        section = f"sources: [{{name: trap, dialect: postgresql, host: localhost, database: {crm.database}}}]"
    path = tmp_path / "config.yaml"
    path.write_text("hospitals: []\nplugins_settings:\n  his_connector:\n"
                    + "".join(f"    {line}\n" for line in section.splitlines()), encoding="utf-8")
    settings = load_config(path, environ={}).plugins_settings
    with pytest.raises(ConfigError) as refused:
        app_factory(config_overrides={"plugins_settings": settings})
    assert "his_connector.sources[0]" in str(refused.value) and "CRM's own database" in str(refused.value)


# -- 2. the password variable is one of the HIS's -------------------------------------------------
def test_a_password_variable_outside_the_prefix_is_refused_in_the_form(app, client, hospital, his_file):
    with app.app_context():
        source_name = allow(his_file)
        allow_sources({"name": "server", "dialect": "mysql", "host": "192.0.2.10", "database": "his"})
    login(client, "a_admin")
    for name in ("HCRM_SECRET_KEY", "PATH", "HCRM_HIS_PASSWORD_", "hcrm_his_password_x"):
        response = client.post("/his_connector/connections/new", data={
            "name": "trap", "source": "server", "username": "his_ro", "password_env": name, "timezone": "Asia/Shanghai",
            "encoding": "utf8", "statement_timeout": "60", "batch_size": "1000", "safety_lag": "30"})
        assert response.status_code == 400 and "HCRM_HIS_PASSWORD_" in response.get_data(as_text=True), name
    with app.app_context(), hospital_scope(hospital["a"]):
        assert db.session.execute(sa.select(sa.func.count(Connection.id))).scalar() == 0
        assert source_name  # the SQLite source was offered too


@pytest.mark.real_commits
def test_a_password_variable_outside_the_prefix_is_refused_by_the_cli(app, hospital):
    runner = app.test_cli_runner()
    with app.app_context():
        allow_sources({"name": "server", "dialect": "mysql", "host": "192.0.2.10", "database": "his"})
    listed = runner.invoke(his_cli, ["sources", "--hospital", "A"])
    assert listed.exit_code == 0 and "server: mysql+pymysql://192.0.2.10/his" in listed.output
    for name in ("HCRM_SECRET_KEY", "PATH"):
        result = runner.invoke(his_cli, ["connect", "--hospital", "A", "--name", "trap", "--source", "server",
                                         "--username", "his_ro", "--password-env", name])
        assert result.exit_code != 0 and "HCRM_HIS_PASSWORD_" in result.output, result.output
    result = runner.invoke(his_cli, ["connect", "--hospital", "A", "--name", "ok", "--source", "server",
                                     "--username", "his_ro", "--password-env", "HCRM_HIS_PASSWORD_H1"])
    assert result.exit_code == 0 and "connection 'ok' created" in result.output
    result = runner.invoke(his_cli, ["connect", "--hospital", "A", "--name", "ok", "--source", "nowhere"])
    assert result.exit_code != 0 and "Pick one of the HIS sources" in result.output
    with app.app_context(), hospital_scope(hospital["a"]):
        assert db.session.execute(sa.select(Connection.name)).scalars().all() == ["ok"]


class Listener:
    """The attacker's server: records whether anyone connected (and what they sent)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(5)
        self.sock.settimeout(0.2)
        self.port, self.received, self.stop = self.sock.getsockname()[1], [], False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, _address = self.sock.accept()
            except OSError:
                continue
            self.received.append(b"connected")
            conn.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def test_a_stored_password_variable_outside_the_prefix_is_refused_at_connect(app, hospital, monkeypatch):
    """A value saved before this rule (or written straight into the table) never reaches a
    server: the connection is refused before any socket opens."""
    monkeypatch.setenv("HCRM_SECRET_KEY", SECRET)
    listener = Listener()
    try:
        with app.app_context():
            allow_sources({"name": "attacker", "dialect": "postgresql", "host": "127.0.0.1", "port": listener.port,
                           "database": "x"})
            with hospital_scope(hospital["a"]):
                connection = services.create_connection({"name": "trap", "source": "attacker", "username": "u"})
                connection.password_env = "HCRM_SECRET_KEY"
                db.session.commit()
                result = services.test_connection(connection)
                assert not result.ok and "HCRM_HIS_PASSWORD_" in str(result.message)
                assert SECRET not in str(result.message)
        assert listener.received == []
    finally:
        listener.close()


# -- 3. SQLite only inside sqlite_dir, never created ----------------------------------------------
def test_a_sqlite_source_outside_the_directory_is_refused_and_no_file_is_created(tmp_path):
    his_dir, outside = tmp_path / "his", tmp_path / "elsewhere"
    his_dir.mkdir()
    outside.mkdir()
    os.symlink(outside / "target.sqlite3", his_dir / "link.sqlite3")
    crm_url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    for database in ("../elsewhere/new.sqlite3", str(outside / "new.sqlite3"), "link.sqlite3"):
        message = _refused_at_load(tmp_path, crm_url, f"""
sqlite_dir: {his_dir}
sources: [{{name: trap, dialect: sqlite, database: "{database}"}}]
""")
        assert "outside the directory allowed for HIS files" in message, (database, message)
    message = _refused_at_load(tmp_path, crm_url, "sources: [{name: trap, url: 'sqlite:////tmp/anything.db'}]")
    assert "SQLite HIS sources are not allowed" in message
    assert sorted(p.name for p in outside.iterdir()) == [] and not (tmp_path / "anything.db").exists()


def test_a_missing_sqlite_file_is_a_clear_error_and_is_not_created(app, hospital, tmp_path, monkeypatch):
    his_dir, outside = tmp_path / "his", tmp_path / "outside"
    his_dir.mkdir()
    outside.mkdir()
    with app.app_context():
        allow_sources({"name": "missing", "dialect": "sqlite", "database": "not_there.sqlite3"},
                      {"name": "env-file", "url_env": "HCRM_HIS_URL_FILE"}, sqlite_dir=str(his_dir))
        with hospital_scope(hospital["a"]):
            missing = services.create_connection({"name": "missing", "source": "missing"})
            result = services.test_connection(missing)
            assert not result.ok and "does not exist (it is never created)" in str(result.message)
            assert not (his_dir / "not_there.sqlite3").exists()
            env_file = services.create_connection({"name": "env", "source": "env-file"})
            monkeypatch.setenv("HCRM_HIS_URL_FILE", f"sqlite:///{his_dir}/../outside/new.sqlite3")
            result = services.test_connection(env_file)
            assert not result.ok and "outside the directory allowed" in str(result.message)
            assert list(outside.iterdir()) == []


# -- the form picks a source; a raw URL is never taken -----------------------------------------
def test_a_raw_url_in_the_form_is_refused_or_ignored(app, client, hospital, his_file, database_url):
    with app.app_context():
        source_name = allow(his_file)
    login(client, "a_admin")
    form = {"name": "trap", "timezone": "Asia/Shanghai", "encoding": "utf8", "statement_timeout": "60",
            "batch_size": "1000", "safety_lag": "30", "url": database_url}
    response = client.post("/his_connector/connections/new", data=form)
    assert response.status_code == 400 and "请选择本医院已配置的HIS数据源" in response.get_data(as_text=True)
    response = client.post("/his_connector/connections/new", data={**form, "source": source_name})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital["a"]):
        connection = db.session.execute(sa.select(Connection)).scalar_one()
        assert (connection.source, connection.legacy_url) == (source_name, None)
        assert source.display_url(connection).endswith("his.sqlite3")


def test_a_hospital_sees_and_picks_only_its_own_sources(app, client, hospital, tmp_path):
    with app.app_context():
        allow_sources({"name": "shared", "dialect": "mysql", "host": "192.0.2.1", "database": "his"},
                      hospitals={"B": [{"name": "b-own", "dialect": "mysql", "host": "192.0.2.3", "database": "his"}]})
    login(client, "a_admin")
    page = client.get("/his_connector/connections/new").get_data(as_text=True)
    assert 'value="shared"' in page and 'value="b-own"' not in page and "192.0.2.3" not in page
    response = client.post("/his_connector/connections/new", data={"name": "x", "source": "b-own",
                                                                   "statement_timeout": "60", "batch_size": "1000",
                                                                   "safety_lag": "30"})
    assert response.status_code == 400
    with app.app_context(), hospital_scope(hospital["b"]):
        assert [s.name for s in services.allowed_sources()] == ["shared", "b-own"]


# -- read-only sessions ---------------------------------------------------------------------------
def _write_through_the_his_session(connection) -> str:
    with source.engine(connection).connect() as conn:
        with pytest.raises(sa.exc.DBAPIError) as refused:
            conn.execute(sa.text("INSERT INTO DICT_XB (DM, MC) VALUES ('8', 'x')"))
            conn.commit()
    return str(refused.value.orig).lower()


def _careless_grant(his, verb: str) -> None:
    """A DBA who gave the CRM's account write rights too: the session still refuses to write."""
    if his.kind == "mariadb":
        database = his.source["database"]
        for host in ("%", "localhost"):
            his.run(f"{verb} INSERT ON {database}.* {'TO' if verb == 'GRANT' else 'FROM'} '{his.username}'@'{host}'")


def test_the_his_session_is_read_only(app, hospital, his):
    _careless_grant(his, "GRANT")
    try:
        with app.app_context():
            connection_id = connect(his, hospital["a"], entities=())
            with hospital_scope(hospital["a"]):
                error = _write_through_the_his_session(_connection(connection_id))
    finally:
        _careless_grant(his, "REVOKE")
    assert "read" in error and ("only" in error or "readonly" in error), error
    with his.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM DICT_XB WHERE DM = '8'")).scalar() == 0


@pytest.fixture
def postgresql_his(tmp_path, monkeypatch):
    """A "HIS" database of its own on the local PostgreSQL server (whatever the CRM's test
    database is), with a table and the read-only role docs/his_connector.md tells the DBA to make."""
    monkeypatch.setenv("HCRM_TEST_DATABASE", os.environ.get("HCRM_TEST_POSTGRES", "postgresql"))
    with fresh_database(tmp_path) as url:
        his_url = make_url(url)
        role = f"{his_url.database}_ro"
        engine = sa.create_engine(his_url)
        with engine.begin() as conn:
            conn.execute(sa.text('CREATE TABLE "DICT_XB" ("DM" CHAR(1) PRIMARY KEY, "MC" VARCHAR(8))'))
            conn.execute(sa.text(f'CREATE ROLE "{role}" LOGIN'))
            conn.execute(sa.text(f'GRANT CONNECT ON DATABASE "{his_url.database}" TO "{role}"'))
            conn.execute(sa.text(f'GRANT USAGE ON SCHEMA public TO "{role}"'))
            conn.execute(sa.text(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"'))
        yield his_url.set(username=role), his_url.username
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
        engine.dispose()
    server = sa.create_engine(his_url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
    server.dispose()


def test_the_postgresql_his_session_is_read_only_and_refuses_a_superuser(app, hospital, postgresql_his):
    his_url, superuser = postgresql_his
    with app.app_context():
        allow_sources({"name": "pg-his", "dialect": "postgresql", "host": his_url.host,
                       "port": his_url.port or 5432, "database": his_url.database})
        with hospital_scope(hospital["a"]):
            connection = services.create_connection({"name": "pg", "source": "pg-his", "username": his_url.username})
            with source.engine(connection).connect() as conn:
                assert conn.execute(sa.text('SELECT COUNT(*) FROM "DICT_XB"')).scalar() == 0
                with pytest.raises(sa.exc.DBAPIError) as refused:
                    conn.execute(sa.text("""INSERT INTO "DICT_XB" VALUES ('8', 'x')"""))
            assert "read-only transaction" in str(refused.value.orig)
            # A superuser could pg_read_file() the server's files, read-only or not: refused.
            services.update_connection(connection, {"username": superuser})
            result = services.test_connection(connection)
            assert not result.ok and "administrator of its database server" in str(result.message)
            with pytest.raises(services.HisError):
                services.preview(connection, "patients", {"query": "SELECT pg_read_file('/etc/hostname') AS XM, 1 AS K",
                                                          "key_column": "K", "cursor_column": "K",
                                                          "fields": {"name": "XM"}})


def test_a_mariadb_account_with_server_powers_is_refused(app, hospital, mariadb):
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):
            connection = _connection(connection_id)
            assert services.test_connection(connection).ok  # the SELECT-only account
            services.update_connection(connection, {"username": "root"})  # FILE, SUPER…: LOAD_FILE('/etc/…')
            result = services.test_connection(connection)
            assert not result.ok and "administrator of its database server" in str(result.message)


# -- configuration changes: clear messages, not 500s ---------------------------------------------
def test_a_removed_source_gives_a_message_on_the_pages_and_in_sync_runs(app, client, hospital, his_file):
    his_file.patient("P1", "张三", gxsj=his_file.tick())
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=("patients",), schedule_minutes=5)
        state = app.extensions["hcrm"]
        settings = state.plugin_settings["his_connector"]
        state.plugin_settings["his_connector"] = type(settings)(settings.sqlite_dir, (), settings.crm_url)
        run = sync(hospital["a"], connection_id)[0]
        assert run["status"] == "failed" and "is no longer configured" in run["error"]
        with hospital_scope(hospital["a"]):
            assert services.due_connections() == []
    login(client, "a_admin")
    for path in ("/his_connector/connections", f"/his_connector/connections/{connection_id}",
                 f"/his_connector/connections/{connection_id}/edit", "/his_connector/runs", "/his_connector/"):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
    page = client.get(f"/his_connector/connections/{connection_id}").get_data(as_text=True)
    assert "已不再为本医院配置" in page


def test_an_old_connection_keeps_working_when_its_url_matches_a_source_else_waits_for_one(
        app, client, hospital, his_file):
    his_file.patient("P1", "张三", gxsj=his_file.tick())
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=("patients",), safety_lag=0)
        with hospital_scope(hospital["a"]):  # as the upgrade leaves a connection made before sources
            connection = _connection(connection_id)
            connection.source, connection.legacy_url = None, his_file.url
            db.session.commit()
        assert sync(hospital["a"], connection_id)[0]["status"] == "ok"
        with hospital_scope(hospital["a"]):
            _connection(connection_id).legacy_url = "mysql+pymysql://his_ro@10.9.9.9/oldhis"
            db.session.commit()
        run = sync(hospital["a"], connection_id)[0]
        assert run["status"] == "failed" and "until an administrator picks" in run["error"]
    login(client, "a_admin")
    page = client.get(f"/his_connector/connections/{connection_id}/edit").get_data(as_text=True)
    assert "mysql+pymysql://his_ro@10.9.9.9/oldhis" in page
    response = client.post(f"/his_connector/connections/{connection_id}/edit", data={
        "name": "HIS", "source": his_file.source["name"], "timezone": "Asia/Shanghai", "encoding": "utf8",
        "statement_timeout": "60", "batch_size": "1000", "safety_lag": "0", "enabled": "y"})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital["a"]):
        connection = _connection(connection_id)
        assert (connection.source, connection.legacy_url) == (his_file.source["name"], None)
        assert services.source_problem(connection) is None


# -- issue 21, defect 1 --------------------------------------------------------------------------
def test_pages_show_a_failed_run(app, client, hospital, his_file, monkeypatch):
    his_file.patient("P1", "张三", gxsj=his_file.tick())
    monkeypatch.delenv("HCRM_HIS_PASSWORD_UNSET", raising=False)
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]):
            _connection(connection_id).password_env = "HCRM_HIS_PASSWORD_UNSET"
            db.session.commit()
        assert sync(hospital["a"], connection_id)[0]["status"] == "failed"
    login(client, "a_admin")
    for path in ("/his_connector/", f"/his_connector/connections/{connection_id}", "/his_connector/runs"):
        response = client.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        assert "HCRM_HIS_PASSWORD_UNSET" in response.get_data(as_text=True), path


def test_the_preview_reads_the_his_not_the_crm(app, client, hospital, his_file):
    his_file.patient("P1", "张三", gxsj=his_file.tick())
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
    login(client, "a_admin")
    response = client.post(f"/his_connector/connections/{connection_id}/mappings/patients", data={
        "query": "SELECT id AS BRID, username AS XM, id AS GXSJ FROM core_user", "key_column": "BRID",
        "cursor_column": "GXSJ", "f_name-column": "XM", "action": "preview"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "no such table: core_user" in page and "pbkdf2" not in page
    ok = client.post(f"/his_connector/connections/{connection_id}/mappings/patients", data={
        "query": PATIENTS_QUERY, "key_column": "BRID", "cursor_column": "GXSJ", "f_name-column": "XM",
        "action": "preview"})
    assert ok.status_code == 200 and "张三" in ok.get_data(as_text=True)
