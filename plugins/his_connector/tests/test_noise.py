"""What an administrator's terminal shows (issue 21, defect 7): no PyMySQL "Exception ignored"
after the HIS drops a streaming read, no traceback before a failed sync's summary, the run log
in the hospitals' time."""
import gc
import sys

import pymysql
import pytest

from core import clock
from core.extensions import db
from core.tenancy import hospital_scope
from plugins.his_connector import services, source
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Connection, Run
from plugins.his_connector.testing import cli_process, connect, sync


def test_a_streaming_read_cut_by_the_his_leaves_no_exception_ignored(app, hospital, mariadb):
    for n in range(3000):
        mariadb.patient(f"P{n:04d}", f"患者{n}", gxsj=mariadb.tick())
    ignored = []
    previous, sys.unraisablehook = sys.unraisablehook, ignored.append
    try:
        with app.app_context():
            connection_id = connect(mariadb, hospital["a"], entities=("patients",))
            with hospital_scope(hospital["a"]):
                engine = source.engine(db.session.get(Connection, connection_id))
                raw = engine.raw_connection()
                cursor = raw.dbapi_connection.cursor(engine.dialect._sscursor)  # what stream_results uses
                cursor.execute("SELECT a.BRID, b.XM, b.JTDZ FROM MZ_BRXX a, MZ_BRXX b")  # far more than a socket holds
                cursor.fetchmany(10)
                assert mariadb.kill_readers() >= 1
                with pytest.raises(pymysql.err.OperationalError):
                    while cursor.fetchmany(1000):
                        pass
                del cursor
                gc.collect()
                raw.invalidate()
                engine.dispose()
                del raw, engine
                gc.collect()
    finally:
        sys.unraisablehook = previous
    assert [f"{u.exc_type.__name__}: {u.exc_value} in {u.object!r}" for u in ignored] == []


@pytest.mark.real_commits
def test_a_failed_sync_prints_its_summary_without_a_traceback(app, hospital, mariadb):
    mariadb.patient("P1", "张三")
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]):
            services.update_connection(db.session.get(Connection, connection_id),
                                       {"password_env": "HCRM_HIS_PASSWORD_NOT_SET_HERE"})
    process = cli_process(app, "sync", "--hospital", "A", "--no-progress")
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 1
    assert "HIS/patients: failed" in output and "HCRM_HIS_PASSWORD_NOT_SET_HERE" in output
    assert "Traceback" not in output


def test_the_run_log_shows_the_hospitals_time(app, hospital, his):
    his.patient("P1", "张三")
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
        run_id = sync(hospital["a"], connection_id)[0]["id"]
        with hospital_scope(hospital["a"]):
            started = db.session.get(Run, run_id).started_at
        output = app.test_cli_runner().invoke(his_cli, ["runs", "--hospital", "A"]).output
    local = clock.utc_to_local(started)
    assert local != started and f"#{run_id} {local:%Y-%m-%d %H:%M}" in output
