"""The HIS going away, read-only sessions, the keyset plan, and connection settings that must fail."""
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.his_connector import services, source
from plugins.his_connector.models import Connection, Mapping
from plugins.his_connector.testing import allow_sources
from plugins.his_connector.tests.conftest import VISITS_QUERY, connect, sync
from plugins.patients.public import Visit


def _connection(hospital_id, connection_id):
    return db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one()


def _load(mariadb, visits=450):
    mariadb.patient("P1", "张三", gxsj=mariadb.tick())
    for n in range(visits):
        mariadb.visit(n, "P1", gxsj=mariadb.tick())


def _visit_count(hospital_id):
    with hospital_scope(hospital_id):
        return db.session.execute(sa.select(sa.func.count(Visit.id))).scalar_one()


def test_his_dropping_out_mid_run_fails_cleanly_and_the_next_run_resumes(app, hospital, mariadb):
    _load(mariadb)
    # One batch per statement, so that the cut lands between two reads (a streamed result
    # already in the socket buffers would still arrive whole).
    app.config.update(HCRM_HIS_RETRIES=0, HCRM_HIS_WINDOW_BATCHES=1)
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], batch_size=100)
        batches = []

        def cut_after_two(run, rows, total):
            batches.append(rows)
            if run.entity == "visits" and len(batches) == 3:  # patients' batch, then two of visits
                assert mariadb.kill_readers() >= 1

        runs = sync(hospital["a"], connection_id, progress=cut_after_two)
        failed = runs[1]
        assert failed["status"] == "failed" and "Lost connection" in failed["error"]
        # The batches read ahead before the cut are committed; nothing after them is.
        done = failed["rows_read"]
        assert 200 <= done < 450 and done % 100 == 0 and failed["inserted"] == done
        assert _visit_count(hospital["a"]) == done  # exactly what the committed batches hold
        with hospital_scope(hospital["a"]):
            mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "visits")).scalar_one()
            assert mapping.cursor_key == str(done - 1) and failed["cursor_after"].endswith(f"/ {done - 1}")
        resumed = sync(hospital["a"], connection_id, entities=["visits"])[0]
        assert (resumed["status"], resumed["rows_read"], resumed["inserted"], resumed["unchanged"]) == (
            "ok", 450 - done, 450 - done, 0)
        assert resumed["cursor_before"] == failed["cursor_after"]
        assert _visit_count(hospital["a"]) == 450


def test_a_dropped_connection_is_retried_within_the_run(app, hospital, mariadb):
    _load(mariadb, visits=300)
    app.config.update(HCRM_HIS_RETRIES=3, HCRM_HIS_BACKOFF=0.05, HCRM_HIS_WINDOW_BATCHES=1)
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], batch_size=100)
        cuts = []

        def cut_once(run, rows, total):
            if run.entity == "visits" and not cuts:
                cuts.append(mariadb.kill_readers())

        runs = sync(hospital["a"], connection_id, progress=cut_once)
        assert cuts and cuts[0] >= 1
        assert [(r["status"], r["rows_read"], r["inserted"]) for r in runs] == [("ok", 1, 1), ("ok", 300, 300)]
        assert _visit_count(hospital["a"]) == 300


def test_an_unreachable_his_fails_the_run_with_a_clear_error_and_writes_nothing(app, hospital, mariadb):
    mariadb.patient("P1", "张三", gxsj=mariadb.tick())
    app.config.update(HCRM_HIS_RETRIES=1, HCRM_HIS_BACKOFF=0.01)
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]):
            connection = _connection(hospital["a"], connection_id)
            allow_sources({"name": "nowhere", "dialect": "mysql", "host": "127.0.0.1", "port": 1, "database": "nowhere"})
            services.update_connection(connection, {"source": "nowhere"})
            result = services.test_connection(connection)
            assert not result.ok and "Can't connect" in str(result.message)
            assert connection.last_test_ok is False
        run = sync(hospital["a"], connection_id)[0]
        assert run["status"] == "failed" and "Can't connect" in run["error"] and run["rows_read"] == 0
        with hospital_scope(hospital["a"]):
            assert db.session.execute(sa.select(Mapping.cursor_value)).scalar() is None


def test_the_password_comes_from_the_named_environment_variable(app, hospital, mariadb, monkeypatch):
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):
            connection = _connection(hospital["a"], connection_id)
            services.update_connection(connection, {"password_env": "HCRM_HIS_PASSWORD_TEST"})
            monkeypatch.delenv("HCRM_HIS_PASSWORD_TEST", raising=False)
            assert services.connection_password_state(connection) == "missing"
            result = services.test_connection(connection)
            assert not result.ok and "HCRM_HIS_PASSWORD_TEST" in str(result.message)
            monkeypatch.setenv("HCRM_HIS_PASSWORD_TEST", "s3cret-not-stored")
            assert services.connection_password_state(connection) == "set"
            services.test_connection(connection)  # the account has no password: a password is refused or ignored
            stored = db.session.execute(sa.text("SELECT legacy_url, source, username, password_env FROM his_connector_connection")).one()
            assert "s3cret" not in "".join(map(str, stored)) and "s3cret" not in (connection.last_test_message or "")


def test_a_url_and_other_bad_settings_are_refused(app, hospital, tmp_path):
    with app.app_context(), hospital_scope(hospital["a"]):
        allow_sources({"name": "file", "dialect": "sqlite", "database": "x.db"}, sqlite_dir=str(tmp_path))
        for data, field in [({"name": "X", "url": "mysql+pymysql://his@10.0.0.5/his"}, "source"),
                            ({"name": "X", "source": "file", "url": "sqlite:///x.db"}, "source"),
                            ({"name": "X", "source": "not configured"}, "source"),
                            ({"name": "X", "source": "file", "encoding": "latin1"}, "encoding"),
                            ({"name": "X", "source": "file", "timezone": "Mars/Olympus"}, "timezone"),
                            ({"name": "X", "source": "file", "batch_size": "10"}, "batch_size"),
                            ({"name": "X", "source": "file", "password_env": "1BAD-NAME"}, "password_env"),
                            ({"name": "X", "source": "file", "username": "a@b"}, "username"),
                            ({"name": "", "source": "file"}, "name")]:
            try:
                services.create_connection(data)
            except services.HisError as exc:
                assert field in exc.errors, (data, exc.errors)
            else:
                raise AssertionError(f"accepted {data}")
        assert db.session.execute(sa.select(sa.func.count(Connection.id))).scalar_one() == 0
        services.create_connection({"name": "X", "source": "file"})
        try:
            services.create_connection({"name": "X", "url": "sqlite:///y.db"})
        except services.HisError as exc:
            assert "name" in exc.errors
        else:
            raise AssertionError("a duplicate name was accepted")


def test_mappings_are_checked_against_the_his_before_saving(app, hospital, his):
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):
            connection = _connection(hospital["a"], connection_id)
            cases = [
                ({"query": "DELETE FROM MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                  "fields": {"name": "XM"}}, "query", "one SELECT"),
                ({"query": "SELECT * FROM MZ_BRXX; DROP TABLE MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                  "fields": {"name": "XM"}}, "query", "semicolons"),
                ({"query": "SELECT BRID, XM, GXSJ FROM MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                  "fields": {"name": "XM", "phone": "LXDH"}}, "fields", "LXDH"),
                ({"query": "SELECT BRID, GXSJ FROM MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                  "fields": {"gender": "XB"}}, "fields", "name"),
                ({"query": "SELECT BRID, XM, GXSJ FROM MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                  "fields": {"name": "XM", "colour": "XM"}}, "fields", "colour"),
                ({"query": "SELECT BRID, XM, XB, GXSJ FROM MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                  "fields": {"name": "XM", "gender": {"column": "XB", "codes": {"1": "male"}}}}, "fields", "male"),
                ({"query": "SELECT BRID, XM, GXSJ FROM MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                  "fields": '{"name": '}, "fields", "JSON"),
            ]
            for data, field, text in cases:
                try:
                    services.save_mapping(connection, "patients", data)
                except services.HisError as exc:
                    assert field in exc.errors and text in str(exc.errors[field]), (data, exc.errors)
                else:
                    raise AssertionError(f"accepted {data}")
            try:
                services.save_mapping(connection, "patients", {"query": "SELECT NOPE FROM NO_SUCH_TABLE",
                                                               "key_column": "BRID", "cursor_column": "GXSJ",
                                                               "fields": {"name": "XM"}})
            except services.HisError as exc:
                assert "refused the query" in str(exc)
            else:
                raise AssertionError("a query on a missing table was accepted")
            assert db.session.execute(sa.select(sa.func.count(Mapping.id))).scalar_one() == 0


def test_the_keyset_query_walks_the_cursor_index_without_sorting(app, hospital, mariadb):
    _load(mariadb, visits=50)
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):
            reader = source.Reader(_connection(hospital["a"], connection_id), VISITS_QUERY, "JZID", "GXSJ")
        with reader:
            window = reader._window(source.Position(mariadb.time, 10), mariadb.time).limit(1000)
            sql = str(window.compile(dialect=reader.conn.dialect, compile_kwargs={"literal_binds": True}))
            plan = reader.conn.execute(sa.text("EXPLAIN " + sql)).mappings().all()
        visits_row = next(row for row in plan if row["table"] == "j")
        assert visits_row["key"] == "IX_ZY_JZJL_GXSJ" and visits_row["type"] == "range", plan
        assert not any("filesort" in (row["Extra"] or "") for row in plan), plan
