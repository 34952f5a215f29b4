"""The task queue with real consumers (separate processes): periodic jobs once per due time
however many consumers run, a killed consumer's task run again, failures recorded, tasks of a
disabled plugin skipped. A throwaway plugin "jobber" declares the work; its rows (departments)
and files are what the tests observe, as a user would."""
from __future__ import annotations

import sys
import time
from collections import Counter

import pytest
import sqlalchemy as sa

from core import activation, queue
from core.extensions import db
from core.models import Department, Hospital, TaskRecord
from core.tenancy import system_scope
from core.testing import finder_with, make_hospital, write_plugin
from core.testing_queue import BACKENDS, FAST, consumers, queue_settings, wait_until

pytestmark = pytest.mark.real_commits

PLUGIN = '''
import os
import time
from datetime import timedelta
from pathlib import Path

from core import hookimpl, queue
from core.declarations import Job, Task
from core.extensions import db
from core.models import Department
from core.tenancy import current_scope


def tick(hospital):
    db.session.add(Department(code=f"T{time.time_ns()}"[:32], name="tick"))


def write(hospital, code, fail=False):
    db.session.add(Department(code=code, name=f"scope {current_scope().hospital_id}"))
    db.session.flush()
    if fail:
        raise RuntimeError("the HIS did not answer")


def slow(hospital, code, flag):
    """Writes, then (first attempt only) hangs before its commit until the consumer is killed."""
    db.session.add(Department(code=code, name="slow"))
    db.session.flush()
    if not Path(flag).exists():
        Path(flag).write_text(str(os.getpid()))
        time.sleep(120)


def count_to(hospital, n):
    for done in range(1, n + 1):
        queue.progress(done, n)
    db.session.add(Department(code=f"N{n}", name="counted"))


@hookimpl
def hcrm_jobs():
    return [Job("jobber.tick", "Tick", every=timedelta(seconds=2), run=tick),
            Task("jobber.write", "Write", run=write),
            Task("jobber.slow", "Slow", run=slow),
            Task("jobber.count", "Count", run=count_to)]
'''


@pytest.fixture
def jobber_dir(tmp_path, monkeypatch):
    package = write_plugin(tmp_path, "jobber", code=PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("jobber", None)
    yield package
    sys.modules.pop("jobber", None)


@pytest.fixture(params=["sqlite"])
def backend(request):
    return request.param


@pytest.fixture
def jobs_app(app_factory, jobber_dir, backend, tmp_path, database_url):
    settings = queue_settings(backend, tmp_path, database_url)
    return app_factory(finder=finder_with(jobber_dir), **settings, **FAST)


@pytest.fixture
def hospitals(jobs_app):
    """A and C run jobber; B never enabled it; D disabled it again."""
    with jobs_app.app_context():
        ids = {code: make_hospital(code, plugins=plugins).id for code, plugins in (
            ("A", ["jobber"]), ("B", []), ("C", ["jobber"]), ("D", ["jobber"]))}
        with system_scope():
            activation.disable(db.session.get(Hospital, ids["D"]), "jobber")
        db.session.commit()
    return ids


def departments(app, name=None):
    with app.app_context(), system_scope():
        query = sa.select(Department.hospital_id, Department.code, Department.name)
        if name:
            query = query.where(Department.name == name)
        return db.session.execute(query).all()


def records(app, task=None):
    with app.app_context(), system_scope():
        query = sa.select(TaskRecord).order_by(TaskRecord.id)
        if task:
            query = query.where(TaskRecord.task == task)
        found = db.session.execute(query).scalars().all()
        db.session.expunge_all()
        return found


def finished(app, *ids):
    def check():
        rows = [r for r in records(app) if r.id in ids]
        return rows if rows and all(r.state not in queue.ACTIVE for r in rows) else None
    return wait_until(check, timeout=40)


def enqueue(app, name, hospital_id, **args):
    with app.app_context():
        return queue.enqueue(name, hospital_id, **args).id


def test_tasks_run_in_their_hospital_scope_and_a_failure_is_recorded(jobs_app, hospitals, jobber_dir):
    ids = [enqueue(jobs_app, "jobber.write", hospitals["A"], code="BAD", fail=True),
           enqueue(jobs_app, "jobber.write", hospitals["A"], code="GOOD"),
           enqueue(jobs_app, "jobber.write", hospitals["C"], code="GOOD")]
    with consumers(jobs_app, plugin_dirs=[jobber_dir]):
        bad, good_a, good_c = finished(jobs_app, *ids)
    assert (bad.state, good_a.state, good_c.state) == ("failed", "ok", "ok")
    assert bad.error.startswith("RuntimeError: the HIS did not answer")
    written = {(h, code, name) for h, code, name in departments(jobs_app) if code in ("BAD", "GOOD")}
    assert written == {(hospitals["A"], "GOOD", f"scope {hospitals['A']}"),
                       (hospitals["C"], "GOOD", f"scope {hospitals['C']}")}  # the failure left nothing


def test_a_task_of_a_plugin_disabled_meanwhile_is_skipped_and_recorded(jobs_app, hospitals, jobber_dir):
    record_id = enqueue(jobs_app, "jobber.write", hospitals["A"], code="LATE")
    with jobs_app.app_context(), system_scope():
        activation.disable(db.session.get(Hospital, hospitals["A"]), "jobber")
        db.session.commit()
    with consumers(jobs_app, plugin_dirs=[jobber_dir]):
        (record,) = finished(jobs_app, record_id)
    assert record.state == "skipped" and "disabled for hospital A" in record.error
    assert not [row for row in departments(jobs_app) if row.code == "LATE"]


def test_enqueue_refuses_unknown_tasks_and_disabled_plugins(jobs_app, hospitals):
    with jobs_app.app_context():
        with pytest.raises(queue.UnknownTask) as unknown:
            queue.enqueue("jobber.nope", hospitals["A"])
        assert "jobber.count, jobber.slow, jobber.tick, jobber.write" in str(unknown.value)
        with pytest.raises(queue.TaskRefused):
            queue.enqueue("jobber.write", hospitals["B"], code="X")
        with pytest.raises(ValueError):
            queue.enqueue("jobber.write", hospitals["A"], code=object())
    assert records(jobs_app) == []


def test_an_unreachable_queue_is_a_clear_error_and_leaves_nothing(app_factory, jobber_dir):
    app = app_factory(finder=finder_with(jobber_dir), HCRM_JOBS_BACKEND="redis",
                      HCRM_JOBS_URL="redis://127.0.0.1:1/0", HCRM_QUEUE_NAME="nowhere")
    with app.app_context():
        hospital_id = make_hospital("A", plugins=["jobber"]).id
        with pytest.raises(queue.QueueUnavailable) as refused:
            queue.enqueue("jobber.write", hospital_id, code="X")
    assert "not reachable" in str(refused.value.message) and "nothing was started" in str(refused.value.message)
    assert records(app) == []


def test_progress_is_recorded_and_a_failed_task_can_be_retried(jobs_app, hospitals, jobber_dir):
    first = enqueue(jobs_app, "jobber.write", hospitals["A"], code="ONCE", fail=True)
    counted = enqueue(jobs_app, "jobber.count", hospitals["A"], n=500)
    with consumers(jobs_app, plugin_dirs=[jobber_dir]):
        failed, done = finished(jobs_app, first, counted)
        assert (done.state, done.done, done.total) == ("ok", 500, 500), done.error
        with jobs_app.app_context(), system_scope():
            record = db.session.get(TaskRecord, first)
            record.args = {"code": "ONCE"}  # the cause was fixed meanwhile
            db.session.commit()
            queue.retry(first)
        (again,) = finished(jobs_app, first)
    assert failed.state == "failed"
    assert (again.state, again.retries, again.error) == ("ok", 1, None)
    assert [row.code for row in departments(jobs_app) if row.code == "ONCE"] == ["ONCE"]


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_two_consumers_run_a_periodic_job_once_per_due_time(jobs_app, hospitals, jobber_dir):
    with consumers(jobs_app, 2, plugin_dirs=[jobber_dir]):
        time.sleep(7)
    ran = records(jobs_app, "jobber.tick")
    per_slot = Counter((r.hospital_id, r.summary) for r in ran)
    assert per_slot and max(per_slot.values()) == 1, per_slot
    assert {h for h, _slot in per_slot} == {hospitals["A"], hospitals["C"]}  # live there only
    assert min(Counter(h for h, _slot in per_slot).values()) >= 2  # a new due time every 2 s
    ok = [r for r in ran if r.state == "ok"]
    assert len(departments(jobs_app, "tick")) == len(ok)  # one run per record, none doubled


@pytest.mark.parametrize("backend", BACKENDS, indirect=True)
def test_a_task_whose_consumer_is_killed_runs_again_once(jobs_app, hospitals, jobber_dir, tmp_path):
    flag = tmp_path / "started"
    record_id = enqueue(jobs_app, "jobber.slow", hospitals["A"], code="SLOW", flag=str(flag))
    with consumers(jobs_app, plugin_dirs=[jobber_dir]) as (first,):
        wait_until(flag.exists)
        first.kill()
    assert not [row for row in departments(jobs_app) if row.code == "SLOW"]  # died before its commit
    with consumers(jobs_app, plugin_dirs=[jobber_dir]):
        (record,) = finished(jobs_app, record_id)
    assert (record.state, record.retries) == ("ok", 1)
    assert [row.code for row in departments(jobs_app) if row.code == "SLOW"] == ["SLOW"]
