"""Reading and starting queued work, for the jobs page and ``hcrm jobs list|retry|run``.

The work itself runs in ``hcrm worker`` (core.queue_worker); this module only lists task
records and queues tasks on an administrator's request.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from core import queue
from core.declarations import Job
from core.extensions import db
from core.models import Hospital, TaskRecord
from core.tenancy import system_scope


@dataclass(frozen=True)
class TaskRow:
    id: int
    task: str
    title: str
    hospital_code: str
    state: str
    summary: str | None
    error: str | None
    done: int | None
    total: int | None
    retries: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def percent(self) -> int | None:
        return int(100 * (self.done or 0) / self.total) if self.total else None


def task_rows(*, hospital_id: int | None = None, hospital_ids=None, state: str | None = None,
              limit: int = 50) -> list[TaskRow]:
    """The newest task records (one hospital, a set of them, or all), newest first."""
    query = (sa.select(TaskRecord, Hospital.code).join(Hospital, Hospital.id == TaskRecord.hospital_id)
             .order_by(TaskRecord.id.desc()).limit(limit))
    if hospital_id is not None:
        query = query.where(TaskRecord.hospital_id == hospital_id)
    if hospital_ids is not None:
        query = query.where(TaskRecord.hospital_id.in_(hospital_ids))
    if state:
        query = query.where(TaskRecord.state == state)
    with system_scope():
        rows = db.session.execute(query).all()
    return [TaskRow(r.id, r.task, declared_title(r.task), code, r.state, r.summary,
                    r.error, r.done, r.total, r.retries, r.created_at, r.started_at, r.finished_at)
            for r, code in rows]


def declared_title(task: str) -> str:
    """The task's title as its plugin declares it (its id when no loaded plugin declares it)."""
    return str(getattr(queue.declared().get(task), "title", task))


def live_periodic_jobs() -> list[Job]:
    """The periodic jobs some active hospital runs (its plugin is live there, or the core's)."""
    from core.activation import live_plugins
    from core.plugins import CORE
    with system_scope():
        hospital_ids = db.session.execute(sa.select(Hospital.id).where(Hospital.active.is_(True))).scalars().all()
        live = {CORE}.union(*(live_plugins(h) for h in hospital_ids))
    return [job for job in queue.declared().values() if isinstance(job, Job) and job.plugin in live]


def _parse_args(pairs) -> dict:
    args = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--arg {pair!r}: write KEY=VALUE")
        try:
            args[key] = json.loads(value)
        except ValueError:
            args[key] = value
    return args


def run_now(name: str | None, *, hospital_code: str | None = None, args=(), wait: bool = False,
            timeout: float = 3600) -> list[TaskRecord]:
    """``hcrm jobs run``: queue what is due (no name), or the named task/job now."""
    from core.queue_worker import enqueue_due, wait_for
    app = current_app._get_current_object()
    named = _enqueue_named(name, hospital_code, _parse_args(args)) if name else None
    ids = [r.id for r in named] if named is not None else enqueue_due(app)
    if wait:
        return [wait_for(app, record_id, timeout) for record_id in ids]
    with system_scope():
        return [db.session.get(TaskRecord, record_id) for record_id in ids]


def _enqueue_named(name: str, hospital_code: str | None, args: dict) -> list[TaskRecord]:
    task = queue.declared_task(name)
    with system_scope():
        query = sa.select(Hospital).where(Hospital.active.is_(True)).order_by(Hospital.code)
        if hospital_code:
            query = query.where(Hospital.code == hospital_code)
        hospitals = db.session.execute(query).scalars().all()
    if hospital_code and not hospitals:
        raise LookupError(f"no active hospital with code '{hospital_code}'")
    if not hospital_code and not isinstance(task, Job):
        raise ValueError(f"{name} is a task: name its hospital with --hospital")
    records = []
    for hospital in hospitals:
        try:
            records.append(queue.enqueue(name, hospital, summary="hcrm jobs run", **args))
        except queue.TaskRefused:
            if hospital_code:
                raise
    return records
