"""A queued HIS sync whose consumer is killed (SIGKILL) half-way: the queue runs the task again
on another consumer, which takes over the dead attempt's lock at once and resumes from the
committed cursor -- every visit arrives exactly once."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing_queue import consumers, drain, wait_until
from plugins.his_connector.cli import his_cli
from plugins.his_connector.testing import connect, load_visits
from plugins.patients.public import Visit

pytestmark = pytest.mark.real_commits
VISITS = 30_000


def _load(his) -> None:
    load_visits(his, VISITS)


def _visits(app, hospital_id) -> tuple[int, int]:
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(sa.func.count(Visit.id), sa.func.count(sa.distinct(Visit.external_id)))
                                  ).one()


def test_a_sync_whose_worker_is_killed_resumes_on_another_worker(app, hospital, mariadb):
    _load(mariadb)
    app.config.update(HCRM_HIS_WINDOW_BATCHES=1)  # a commit per batch, so the kill lands between two
    with app.app_context():
        connect(mariadb, hospital["a"], batch_size=100, safety_lag=0)
    with consumers(app, workers=1) as (first,):
        result = app.test_cli_runner().invoke(his_cli, ["sync", "--hospital", "A", "--queue"])
        assert result.exit_code == 0, result.output
        wait_until(lambda: _visits(app, hospital["a"])[0] >= 500, timeout=120, every=0.02)
        first.kill()
    arrived, distinct = _visits(app, hospital["a"])
    assert 500 <= arrived < VISITS and arrived == distinct  # it died half-way, each batch whole
    with consumers(app):  # its recovery (periodic) sends the dead attempt's task again
        (task,) = [t for t in drain(app, timeout=300) if t.task == "his_connector.sync"]
    assert (task.task, task.state, task.retries) == ("his_connector.sync", "ok", 1), task.error
    assert _visits(app, hospital["a"]) == (VISITS, VISITS)
