"""Scheduled jobs: ``hcrm jobs run`` (once, for cron/systemd timers) and ``hcrm jobs worker``.

Each job runs for each hospital where its plugin is live, in that hospital's scope and its own
transaction; a failure is rolled back and recorded, and the other jobs still run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from core.activation import live_plugins
from core.extensions import db
from core.models import Hospital, JobRun, utcnow
from core.plugins import CORE
from core.tenancy import hospital_scope, system_scope


@dataclass(frozen=True)
class JobOutcome:
    hospital: str
    job: str
    status: str          # ok / failed / skipped (not due)
    error: str | None = None


def _run_record(hospital_id: int, job_id: str) -> JobRun:
    record = db.session.execute(sa.select(JobRun).where(JobRun.hospital_id == hospital_id,
                                                        JobRun.job == job_id)).scalar_one_or_none()
    if record is None:
        record = JobRun(hospital_id=hospital_id, job=job_id)
        db.session.add(record)
    return record


def run_due(now: datetime | None = None, *, hospital_code: str | None = None, job_id: str | None = None,
            force: bool = False) -> list[JobOutcome]:
    """Run every due job once; ``force`` ignores the schedule. Returns one outcome per pair."""
    now = now or utcnow()
    catalog = current_app.extensions["hcrm"].catalog
    jobs = [j for j in catalog.jobs.values() if job_id is None or j.id == job_id]
    if job_id is not None and not jobs:
        raise LookupError(f"no job named '{job_id}' (known: {', '.join(sorted(catalog.jobs)) or 'none'})")
    with system_scope():
        query = sa.select(Hospital).where(Hospital.active.is_(True)).order_by(Hospital.code)
        if hospital_code:
            query = query.where(Hospital.code == hospital_code)
        hospitals = db.session.execute(query).scalars().all()
    if hospital_code and not hospitals:
        raise LookupError(f"no active hospital with code '{hospital_code}'")
    outcomes = []
    for hospital in hospitals:
        with system_scope():
            live = live_plugins(hospital.id)
        for job in jobs:
            if job.plugin != CORE and job.plugin not in live:
                continue
            outcomes.append(_run_one(hospital, job, now, force))
    return outcomes


def _run_one(hospital: Hospital, job, now: datetime, force: bool) -> JobOutcome:
    with system_scope():
        record = _run_record(hospital.id, job.id)
        if not force and record.last_success_at and record.last_success_at + job.every > now:
            db.session.rollback()
            return JobOutcome(hospital.code, job.id, "skipped")
        record.last_started_at = now
        db.session.commit()
    error = None
    try:
        with hospital_scope(hospital):
            job.run(hospital)
            db.session.commit()
    except Exception as exc:  # a job's failure is recorded, never fatal to the other jobs
        db.session.rollback()
        current_app.logger.exception("job %s failed for %s", job.id, hospital.code)
        error = f"{type(exc).__name__}: {exc}"
    with system_scope():
        record = _run_record(hospital.id, job.id)
        record.last_status = "failed" if error else "ok"
        record.last_error = error
        if error is None:
            record.last_success_at = now
        db.session.commit()
    return JobOutcome(hospital.code, job.id, "failed" if error else "ok", error)


def worker(interval_seconds: int, *, iterations: int | None = None, echo=print) -> None:
    """Run due jobs every ``interval_seconds`` until stopped (or ``iterations`` rounds, for tests)."""
    done = 0
    while iterations is None or done < iterations:
        for outcome in run_due():
            if outcome.status != "skipped":
                echo(f"{outcome.hospital} {outcome.job}: {outcome.status}" + (f" ({outcome.error})" if outcome.error else ""))
        db.session.remove()
        done += 1
        if iterations is None or done < iterations:
            time.sleep(interval_seconds)
