"""Ctrl-C in ``hcrm his sync`` (issue 21, defect 6): the sync stops at the next batch boundary,
its run is marked cancelled, the connection's lock is released, and the next sync resumes."""
from __future__ import annotations

import signal
import time

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing_queue import wait_until
from plugins.his_connector.models import Connection, Run
from plugins.his_connector.testing import cli_process, connect, load_visits, sync
from plugins.patients.public import Visit

pytestmark = pytest.mark.real_commits
VISITS = 20_000


def _visits(app, hospital_id) -> tuple[int, int]:
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(sa.func.count(Visit.id), sa.func.count(sa.distinct(Visit.external_id)))
                                  ).one()


def test_ctrl_c_stops_at_a_batch_boundary_marks_the_run_cancelled_and_releases_the_lock(app, hospital, mariadb):
    load_visits(mariadb, VISITS)
    app.config.update(HCRM_HIS_WINDOW_BATCHES=1)
    with app.app_context():
        connection_id = connect(mariadb, hospital["a"], batch_size=100, safety_lag=0)
    process = cli_process(app, "sync", "--hospital", "A", "--no-progress")
    try:
        wait_until(lambda: _visits(app, hospital["a"])[0] >= 300, timeout=120, every=0.02)
        started = time.monotonic()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert time.monotonic() - started < 30
    assert process.returncode == 130, output
    assert "cancelled at a batch boundary" in output and "Traceback" not in output
    arrived, distinct = _visits(app, hospital["a"])
    assert 300 <= arrived < VISITS and arrived == distinct
    with app.app_context(), hospital_scope(hospital["a"]):
        visits_run = db.session.execute(sa.select(Run).where(Run.entity == "visits")).scalar_one()
        assert (visits_run.status, visits_run.finished_at is not None) == ("cancelled", True)
        assert visits_run.rows_read == arrived
        assert db.session.get(Connection, connection_id).sync_token is None
    with app.app_context():
        resumed = sync(hospital["a"], connection_id, entities=["visits"])[0]
    assert (resumed["status"], resumed["inserted"]) == ("ok", VISITS - arrived)
    assert _visits(app, hospital["a"]) == (VISITS, VISITS)
