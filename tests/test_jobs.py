"""Scheduled jobs: where they run, in which scope, when they are due, how failures are contained,
the worker loop and ``hcrm jobs run``. A throwaway plugin "jobber" declares the jobs."""
from __future__ import annotations

import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import activation
from core.cli import main
from core.extensions import db
from core.jobs import run_due, worker
from core.models import AuditLog, Department, Hospital, JobRun, utcnow
from core.tenancy import system_scope
from core.testing import finder_with, make_department, make_hospital, write_plugin

PLUGIN = '''
from datetime import timedelta

import sqlalchemy as sa

from core import hookimpl
from core.declarations import Job
from core.extensions import db
from core.models import Department
from core.tenancy import current_scope

CALLS = []           # (job, hospital code, scope's hospital id) of every run
BROKEN = {"on": True}


def count(hospital):
    CALLS.append(("count", hospital.code, current_scope().hospital_id))
    seen = len(db.session.execute(sa.select(Department)).scalars().all())
    db.session.add(Department(code=f"RUN{seen + 1}", name="written by jobber.count"))


def explode(hospital):
    CALLS.append(("explode", hospital.code, current_scope().hospital_id))
    db.session.add(Department(code="PARTIAL", name="half-written by jobber.explode"))
    db.session.flush()
    if BROKEN["on"]:
        raise RuntimeError("the HIS did not answer")


@hookimpl
def hcrm_jobs():
    # The failing job comes first: it must not keep the other one from running.
    return [Job(id="jobber.explode", title="Explode", every=timedelta(hours=1), run=explode),
            Job(id="jobber.count", title="Count", every=timedelta(hours=1), run=count)]
'''

ERROR = "RuntimeError: the HIS did not answer"


@pytest.fixture
def jobs_app(app_factory, tmp_path, monkeypatch):
    package = write_plugin(tmp_path, "jobber", code=PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("jobber", None)  # every test imports its own fresh copy
    application = app_factory(finder=finder_with(package))
    yield application
    sys.modules.pop("jobber", None)


@pytest.fixture
def jobber():
    """The imported plugin module (its CALLS and BROKEN switch)."""
    return sys.modules["jobber"]


@pytest.fixture
def hospitals(jobs_app):
    """A and C run jobber; B never enabled it; D disabled it again; E is closed (inactive)."""
    with jobs_app.app_context():
        ids = {code: make_hospital(code, plugins=plugins).id for code, plugins in (
            ("A", ["jobber"]), ("B", []), ("C", ["jobber"]), ("D", ["jobber"]), ("E", ["jobber"]))}
        with system_scope():
            activation.disable(db.session.get(Hospital, ids["D"]), "jobber")
            db.session.get(Hospital, ids["E"]).active = False
        db.session.commit()
    return ids


def summary(outcomes):
    return [(o.hospital, o.job, o.status) for o in outcomes]


def departments():
    with system_scope():
        return sorted(db.session.execute(sa.select(Department.hospital_id, Department.code)).all())


def job_run(hospital_id, job):
    with system_scope():
        return db.session.execute(sa.select(JobRun).where(JobRun.hospital_id == hospital_id,
                                                          JobRun.job == job)).scalar_one()


def test_jobs_run_only_where_the_plugin_is_live(jobs_app, hospitals, jobber):
    with jobs_app.app_context():
        outcomes = run_due()
        assert summary(outcomes) == [("A", "jobber.explode", "failed"), ("A", "jobber.count", "ok"),
                                     ("C", "jobber.explode", "failed"), ("C", "jobber.count", "ok")]
        with system_scope():
            ran_for = set(db.session.execute(sa.select(JobRun.hospital_id)).scalars())
        assert ran_for == {hospitals["A"], hospitals["C"]}
    assert {code for _job, code, _scope in jobber.CALLS} == {"A", "C"}


def test_jobs_run_in_their_hospitals_scope(jobs_app, hospitals, jobber):
    with jobs_app.app_context():
        for code in ("X1", "X2"):  # another hospital's rows are invisible to A's job
            make_department(db.session.get(Hospital, hospitals["C"]), code)
        run_due(hospital_code="A")
        assert [(job, code, scope) for job, code, scope in jobber.CALLS] == [
            ("explode", "A", hospitals["A"]), ("count", "A", hospitals["A"])]
        assert departments() == [(hospitals["A"], "RUN1"), (hospitals["C"], "X1"), (hospitals["C"], "X2")]
        with system_scope():
            created = db.session.execute(sa.select(AuditLog.hospital_id).where(
                AuditLog.model == "Department", AuditLog.action == "create")).scalars().all()
        assert created.count(hospitals["A"]) == 1  # the job's write is audited in A


def test_failing_job_is_rolled_back_recorded_and_does_not_stop_the_other(jobs_app, hospitals):
    with jobs_app.app_context():
        outcomes = run_due(hospital_code="A")
        failed = [o for o in outcomes if o.status == "failed"]
        assert [(o.job, o.error) for o in failed] == [("jobber.explode", ERROR)]
        assert departments() == [(hospitals["A"], "RUN1")]  # no PARTIAL: the failure left nothing
        with system_scope():
            written = [r.after.get("code") for r in db.session.execute(
                sa.select(AuditLog).where(AuditLog.model == "Department")).scalars()]
        assert written == ["RUN1"]  # nor an audit row for the rolled-back write

        record = job_run(hospitals["A"], "jobber.explode")
        assert (record.last_status, record.last_error, record.last_success_at) == ("failed", ERROR, None)
        assert record.last_started_at is not None
        record = job_run(hospitals["A"], "jobber.count")
        assert (record.last_status, record.last_error) == ("ok", None)
        assert record.last_success_at is not None


def test_a_job_is_not_due_again_within_its_interval_unless_forced(jobs_app, hospitals, jobber):
    with jobs_app.app_context():
        start = utcnow()
        run_due(start, hospital_code="A")
        # count succeeded: skipped for an hour; explode failed: due again at once (a retry).
        assert summary(run_due(start + timedelta(minutes=59), hospital_code="A")) == [
            ("A", "jobber.explode", "failed"), ("A", "jobber.count", "skipped")]
        assert departments() == [(hospitals["A"], "RUN1")]
        assert summary(run_due(start + timedelta(minutes=59), hospital_code="A", job_id="jobber.count",
                               force=True)) == [("A", "jobber.count", "ok")]
        assert departments() == [(hospitals["A"], "RUN1"), (hospitals["A"], "RUN2")]
        later = start + timedelta(minutes=59) + timedelta(hours=1, seconds=1)
        assert summary(run_due(later, hospital_code="A", job_id="jobber.count")) == [("A", "jobber.count", "ok")]
        assert summary(run_due(later, hospital_code="A", job_id="jobber.count")) == [
            ("A", "jobber.count", "skipped")]


def test_a_fixed_job_succeeds_and_clears_its_error(jobs_app, hospitals, jobber):
    with jobs_app.app_context():
        run_due(hospital_code="A", job_id="jobber.explode")
        jobber.BROKEN["on"] = False
        assert summary(run_due(hospital_code="A", job_id="jobber.explode")) == [("A", "jobber.explode", "ok")]
        record = job_run(hospitals["A"], "jobber.explode")
        assert (record.last_status, record.last_error) == ("ok", None)
        assert (hospitals["A"], "PARTIAL") in departments()


def test_unknown_job_or_hospital_is_a_clear_error(jobs_app, hospitals):
    with jobs_app.app_context():
        with pytest.raises(LookupError, match=r"no job named 'nope' \(known: (\S+, )*jobber.count, jobber.explode[,)]"):
            run_due(job_id="nope")
        with pytest.raises(LookupError, match="no active hospital with code 'NOPE'"):
            run_due(hospital_code="NOPE")
        with pytest.raises(LookupError, match="no active hospital with code 'E'"):
            run_due(hospital_code="E")  # closed hospitals run nothing
        with system_scope():
            assert db.session.execute(sa.select(JobRun)).first() is None


def test_worker_runs_rounds(jobs_app, hospitals, monkeypatch):
    naps = []
    monkeypatch.setattr("core.jobs.time.sleep", naps.append)
    lines = []
    with jobs_app.app_context():
        worker(7, iterations=2, echo=lines.append)
    assert naps == [7]  # between the rounds, not after the last
    assert lines == [
        f"A jobber.explode: failed ({ERROR})", "A jobber.count: ok",
        f"C jobber.explode: failed ({ERROR})", "C jobber.count: ok",
        # the second round retries the failure; count is not due (skips are not printed)
        f"A jobber.explode: failed ({ERROR})", f"C jobber.explode: failed ({ERROR})",
    ]


# -- hcrm jobs run ----------------------------------------------------------------------------
def cli(app, *args):
    """``hcrm jobs run ARGS`` against this test app (result.stdout holds stdout only)."""
    result = app.test_cli_runner().invoke(main, ["jobs", "run", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def test_cli_prints_outcomes_and_exits_1_when_a_job_failed(jobs_app, hospitals):
    result = cli(jobs_app)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"A jobber.explode: failed ({ERROR})", "A jobber.count: ok",
        f"C jobber.explode: failed ({ERROR})", "C jobber.count: ok"]
    assert "Traceback" not in result.output


def test_cli_exits_0_when_every_job_succeeded(jobs_app, hospitals):
    result = cli(jobs_app, "--job", "jobber.count", "--hospital", "C")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["C jobber.count: ok"]
    result = cli(jobs_app, "--job", "jobber.count", "--hospital", "C")
    assert (result.exit_code, result.stdout.splitlines()) == (0, ["C jobber.count: skipped"])
    result = cli(jobs_app, "--job", "jobber.count", "--hospital", "C", "--force")
    assert (result.exit_code, result.stdout.splitlines()) == (0, ["C jobber.count: ok"])


@pytest.mark.parametrize("args, message", [
    (["--job", "unknown"], "Error: no job named 'unknown' (known: "),  # the list includes the built-in plugins' jobs
    (["--hospital", "NOPE"], "Error: no active hospital with code 'NOPE'"),
])
def test_cli_unknown_job_or_hospital(jobs_app, hospitals, args, message):
    result = cli(jobs_app, *args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    with jobs_app.app_context(), system_scope():
        assert db.session.execute(sa.select(JobRun)).first() is None
