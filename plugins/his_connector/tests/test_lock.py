"""One sync per connection at a time: a second run (another thread, the CLI, the scheduler, a
page) is refused while the first is alive, and a run left "running" by a dead process is
recognised by its silent heartbeat and marked failed when the next run starts."""
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import Hospital, utcnow
from core.tenancy import hospital_scope
from core.testing import login
from plugins.his_connector import services
from plugins.his_connector.cli import his_cli
from plugins.his_connector.jobs import sync_due_connections
from plugins.his_connector.models import Connection, Mapping, Run
from plugins.his_connector.tests.conftest import connect, sync
from plugins.patients.public import Patient


@pytest.fixture
def his_file(sqlite_his):
    sqlite_his.clear()
    yield sqlite_his
    sqlite_his.clear()


def _patients(his, n):
    for i in range(n):
        his.patient(f"P{i:03d}", f"病人{i}")
        his.tick()


def _patients_his(app, his, hospital_id, n=3, **settings) -> int:
    """``n`` patients in the HIS and a connection with the patients mapping; its id."""
    _patients(his, n)
    with app.app_context():
        return connect(his, hospital_id, entities=("patients",), **{"safety_lag": 0, **settings})


def _lock_state(app, hospital_id, connection_id):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.get(Connection, connection_id).sync_token


def _runs(app, hospital_id):
    with app.app_context(), hospital_scope(hospital_id):
        return [(r.id, r.status, r.error) for r in db.session.execute(sa.select(Run).order_by(Run.id)).scalars()]


def _other_process_holds_the_lock(app, hospital_id, connection_id, *, silent_for=timedelta(0)) -> int:
    """What a CLI sync in another process leaves in the database while it runs: the claim and a
    running run whose heartbeat is ``silent_for`` old. Returns the run's id."""
    with app.app_context(), hospital_scope(hospital_id):
        services.claim_sync(db.session.get(Connection, connection_id))
        mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "patients")).scalar_one()
        then = utcnow() - silent_for
        run = Run(hospital_id=hospital_id, connection_id=connection_id, mapping_id=mapping.id, entity="patients",
                  trigger="cli", status="running", started_at=then, updated_at=then, rows_read=5000)
        db.session.add(run)
        db.session.execute(sa.update(Connection).values(sync_claimed_at=then))
        db.session.commit()
        return run.id


@pytest.mark.real_commits  # a second sync in another thread must see the first one's claim
def test_a_second_sync_of_the_same_connection_is_refused_while_the_first_runs(app, hospital, his_file):
    connection_id = _patients_his(app, his_file, hospital["a"], 250)
    seen = {}

    def second_sync():  # another thread with its own session, as another worker would be
        with app.app_context():
            try:
                sync(hospital["a"], connection_id)
            except services.SyncBusy as exc:
                seen["refused"] = str(exc)

    def progress(run, rows, total):
        if "refused" not in seen and "ran" not in seen:
            seen["first_run"] = run.id
            thread = threading.Thread(target=second_sync)
            thread.start()
            thread.join(30)
            seen.setdefault("ran", True)

    with app.app_context():
        runs = sync(hospital["a"], connection_id, progress=progress)
    assert runs[0]["status"] == "ok" and runs[0]["inserted"] == 250
    assert f"run #{seen['first_run']}" in seen["refused"] and "already running" in seen["refused"]
    assert [r[0] for r in _runs(app, hospital["a"])] == [seen["first_run"]]  # the refused sync left no run
    assert _lock_state(app, hospital["a"], connection_id) is None  # back with the end of the first sync
    with app.app_context():
        again = sync(hospital["a"], connection_id)
        assert again[0]["status"] == "ok" and again[0]["rows_read"] == 0


def test_a_failed_sync_gives_the_lock_back(app, hospital, his_file):
    app.config["HCRM_HIS_RETRIES"] = 0  # retrying is test_resilience's subject: a minute of backoff here
    connection_id = _patients_his(app, his_file, hospital["a"])
    with app.app_context(), hospital_scope(hospital["a"]):  # the HIS dropped the table since: the run fails
        db.session.execute(sa.update(Mapping).values(query="SELECT * FROM MZ_BRXX_GONE"))
        db.session.commit()
    with app.app_context():
        assert sync(hospital["a"], connection_id)[0]["status"] == "failed"
    assert _lock_state(app, hospital["a"], connection_id) is None


def test_the_cli_names_the_running_run_and_exits_1(app, hospital, his_file):
    connection_id = _patients_his(app, his_file, hospital["a"])
    run_id = _other_process_holds_the_lock(app, hospital["a"], connection_id, silent_for=timedelta(minutes=2))
    result = app.test_cli_runner().invoke(his_cli, ["sync", "--hospital", "A", "--no-progress"])
    assert result.exit_code == 1
    assert f"run #{run_id}" in result.output and "already running" in result.output and "5000 rows" in result.output
    with app.app_context(), hospital_scope(hospital["a"]):
        assert db.session.execute(sa.select(sa.func.count(Patient.id))).scalar() == 0
    assert _runs(app, hospital["a"]) == [(run_id, "running", None)]  # the live run is left alone


def test_a_run_whose_process_died_is_shown_stalled_and_failed_by_the_next_sync(app, client, hospital, his_file):
    connection_id = _patients_his(app, his_file, hospital["a"])
    app.config["HCRM_HIS_STALE_MINUTES"] = 10
    dead = _other_process_holds_the_lock(app, hospital["a"], connection_id, silent_for=timedelta(minutes=11))
    login(client, "a_admin")
    page = client.get("/his_connector/runs").get_data(as_text=True)
    assert "已无响应" in page and 'http-equiv="refresh"' not in page  # stalled, not "running": no refresh
    result = app.test_cli_runner().invoke(his_cli, ["sync", "--hospital", "A", "--no-progress"])
    assert result.exit_code == 0, result.output
    runs = _runs(app, hospital["a"])
    assert runs[0][0] == dead and runs[0][1] == "failed" and "ended without finishing" in runs[0][2]
    assert runs[1][1] == "ok"
    with app.app_context(), hospital_scope(hospital["a"]):
        assert db.session.execute(sa.select(sa.func.count(Patient.id))).scalar() == 3
        assert db.session.get(Connection, connection_id).sync_token is None


def test_the_statement_timeout_stretches_the_stale_limit(app, hospital, his_file):
    """A run may sit inside one HIS statement for the whole timeout: not dead before twice that."""
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=("patients",), statement_timeout=900)
    app.config["HCRM_HIS_STALE_MINUTES"] = 10
    run_id = _other_process_holds_the_lock(app, hospital["a"], connection_id, silent_for=timedelta(minutes=20))
    with app.app_context(), hospital_scope(hospital["a"]):
        connection = db.session.get(Connection, connection_id)
        with pytest.raises(services.SyncBusy, match=f"run #{run_id}"):
            services.sync(connection)
        assert services.running_run(connection).id == run_id


def test_the_scheduler_skips_a_busy_connection_without_failing(app, hospital, his_file):
    connection_id = _patients_his(app, his_file, hospital["a"], schedule_minutes=5)
    run_id = _other_process_holds_the_lock(app, hospital["a"], connection_id, silent_for=timedelta(minutes=6))
    with app.app_context(), hospital_scope(hospital["a"]):
        sync_due_connections(db.session.get(Hospital, hospital["a"]))  # does not raise
    assert _runs(app, hospital["a"]) == [(run_id, "running", None)]


def test_the_page_flashes_who_holds_the_lock(app, client, hospital, his_file):
    connection_id = _patients_his(app, his_file, hospital["a"])
    run_id = _other_process_holds_the_lock(app, hospital["a"], connection_id)
    login(client, "a_admin")
    with app.app_context(), hospital_scope(hospital["a"]):
        mapping_id = db.session.execute(sa.select(Mapping.id)).scalar_one()
    retry = client.post(f"/his_connector/quarantine/retry/{mapping_id}", follow_redirects=True)
    assert f"第 {run_id} 次运行" in retry.get_data(as_text=True)
    assert _runs(app, hospital["a"]) == [(run_id, "running", None)]
