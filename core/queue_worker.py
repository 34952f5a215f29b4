"""The consumer side of core.queue: running a task record, the periodic tick, recovery of tasks
whose consumer died, and ``hcrm worker``.

Every consumer's Huey scheduler queues ``hcrm.tick`` every ``jobs.worker_interval_seconds``.
A tick (1) sends again the records whose beat went stale -- a running task of a consumer that
was killed, a queued task whose message was lost -- and (2) queues each periodic job that is due
for each hospital where its plugin is live. A job is due once per *slot* (the current multiple
of its ``every`` since the epoch); the slot is claimed with one committed conditional UPDATE of
``core_job_run.last_started_at``, so however many consumers tick, one of them queues it.
"""
from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import traceback
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import g
from flask_babel import force_locale

from core import exports, queue
from core.clock import utc_to_local
from core.declarations import Job
from core.extensions import db
from core.models import Hospital, JobRun, TaskRecord, User, utcnow
from core.plugins import CORE
from core.tenancy import hospital_scope, system_scope, use_scope

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
MAX_RECOVERIES = 3   # a task whose consumer died this often is failed, not run again (it may be what kills it)
EPOCH = datetime(1970, 1, 1)


class _Actor:
    """The user who started the task, as hospital_scope wants one."""

    def __init__(self, user_id):
        self.id = user_id


def _stale_seconds(app) -> int:
    return queue.settings(app)["stale_seconds"]


# -- one task --------------------------------------------------------------------------------------
def run_record(app, record_id: int) -> str | None:
    """Run one task record, as a Huey task of a consumer. Returns its final state (None when
    another consumer has it, or it is no longer queued)."""
    with app.app_context():
        try:
            return _run(app, record_id)
        finally:
            db.session.remove()


def _run(app, record_id: int) -> str | None:
    now = utcnow()
    table = TaskRecord.__table__
    with system_scope():
        _claim_without_fsync()
        claimed = db.session.execute(
            sa.update(table).where(table.c.id == record_id, table.c.state == "queued")
            .values(state="running", worker=WORKER_ID, started_at=now, heartbeat_at=now)
            .returning(table.c.task, table.c.hospital_id, table.c.user_id, table.c.locale, table.c.args,
                       table.c.retries)).first()
        db.session.commit()
        if claimed is None:
            return None
        task = queue.declared().get(claimed.task)
        hospital = db.session.get(Hospital, claimed.hospital_id)
        reason = queue.skip_reason(task, hospital)
        requester = None
        if reason is None and getattr(task, "as_user", None):
            requester, reason = _requester(task, hospital, claimed.user_id)
    locale = claimed.locale or app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")
    if reason:
        app.logger.info("task %s #%s skipped: %s", claimed.task, record_id, reason)
        return _finish(record_id, task, "skipped", reason)
    token = queue._current.set(record_id)
    try:
        with force_locale(locale), _task_scope(hospital, claimed.user_id, requester):
            if isinstance(task, Job):
                task.run(hospital)
            else:
                task.run(hospital, **dict(claimed.args or {}))
            # "ok" is committed with the task's own writes: a task done is never run again.
            _record_outcome(record_id, task, "ok")
            db.session.commit()
    except Exception as exc:  # recorded on the row; the consumer goes on with the other tasks
        db.session.rollback()
        app.logger.exception("task %s #%s failed", claimed.task, record_id)
        error = f"{type(exc).__name__}: {exc}"
        if not isinstance(task, Job) and claimed.retries < task.retries:
            return _again(app, record_id, error)
        return _finish(record_id, task, "failed", error + "\n" + traceback.format_exc(limit=-3))
    finally:
        queue._current.reset(token)
        queue._last_progress.pop(record_id, None)
    return "ok"


def _claim_without_fsync() -> None:
    """On PostgreSQL the claim's commit does not wait for its WAL flush: should the server crash
    right after, the claim is lost with the run's own writes, which commit later and durably
    (flushing the claim with them), so the record is simply still queued and runs again."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL synchronous_commit TO OFF"))


def _requester(task, hospital: Hospital, user_id: int | None):
    """For a task run ``as_user``: ((scope, permissions), None) as its requester has them in the
    hospital now, or (None, why it must not run)."""
    from core.activation import live_for
    from core.permissions import effective_permissions
    from core.web import scope_for
    user = db.session.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:
        return None, "the user who started it is deactivated or deleted"
    if not (user.is_group_admin or user.hospital_id == hospital.id):
        return None, f"the user who started it no longer works in hospital {hospital.code}"
    live = live_for(hospital)
    permissions = effective_permissions(user, live)
    if task.as_user not in permissions:
        return None, f"the user who started it no longer holds the permission {task.as_user}"
    return (scope_for(user, hospital), frozenset(permissions), frozenset(live)), None


@contextlib.contextmanager
def _task_scope(hospital: Hospital, user_id: int | None, requester):
    """The hospital's scope on behalf of the starting user; for an ``as_user`` task, what a
    request of that user would have: their data scope, permissions and the hospital's live
    plugins (``g.hcrm_permissions`` and ``g.hcrm_live``, which permission and report checks read)."""
    if requester is None:
        with hospital_scope(hospital, _Actor(user_id)):
            yield
        return
    scope, g.hcrm_permissions, g.hcrm_live = requester
    try:
        with use_scope(scope):
            yield
    finally:
        g.pop("hcrm_permissions", None)
        g.pop("hcrm_live", None)


def _record_outcome(record_id: int, task, state: str, error: str | None = None) -> None:
    """Write the outcome in one UPDATE, in the current transaction (a finished task's progress
    reads total / total)."""
    db.session.flush()  # the task's own rows, in the task's scope, before the system scope below
    table = TaskRecord.__table__
    done = sa.case((table.c.total.isnot(None), table.c.total), else_=table.c.done) if state == "ok" else table.c.done
    with system_scope():
        db.session.execute(sa.update(table).where(table.c.id == record_id)
                           .values(state=state, error=error, finished_at=utcnow(), done=done))
        if isinstance(task, Job):
            _job_outcome(db.session.get(TaskRecord, record_id), state, error)


def _finish(record_id: int, task, state: str, error: str | None = None) -> str:
    _record_outcome(record_id, task, state, error)
    db.session.commit()
    return state


def _job_outcome(record: TaskRecord, state: str, error: str | None) -> None:
    run = db.session.execute(sa.select(JobRun).where(JobRun.hospital_id == record.hospital_id,
                                                     JobRun.job == record.task)).scalar_one_or_none()
    if run is not None:
        run.last_status, run.last_error = state, error
        if state == "ok":
            run.last_success_at = record.finished_at


def _again(app, record_id: int, error: str) -> str:
    """Queue a failed task once more, after a pause growing with its attempts."""
    with system_scope():
        record = db.session.get(TaskRecord, record_id)
        record.state, record.error, record.worker = "queued", error, None
        record.retries += 1
        record.heartbeat_at = utcnow()
        delay = min(300, 5 * 2 ** (record.retries - 1))
        db.session.commit()
    with contextlib.suppress(queue.QueueUnavailable):  # the row stays queued: recovery sends it again
        queue.send(queue.state(app), record_id, delay=delay)
    return "queued"


# -- the tick: recovery and periodic jobs ----------------------------------------------------------
def tick(app, now: datetime | None = None) -> dict:
    """One scheduler round of a consumer (see module doc). Returns counts, for tests and logs."""
    with app.app_context():
        try:
            periodic = queue.settings(app)["periodic"]
            return {"recovered": recover(app, now), "queued": len(enqueue_due(app, now)) if periodic else 0,
                    "purged": exports.purge_if_due()}
        finally:
            db.session.remove()


def recover(app, now: datetime | None = None) -> int:
    """Send again the running records whose consumer died (beat older than ``jobs.stale_seconds``,
    and not a live process of this machine) and, when the queue holds no message at all, the
    queued records older than that: their message was lost (a consumer killed between taking the
    message and claiming the row, or a send that failed after its row was committed). A backlog
    is never sent twice: while messages wait, a queued row's own message is among them."""
    now = now or utcnow()
    cutoff = now - timedelta(seconds=_stale_seconds(app))
    storage = queue.state(app).huey.storage
    states = ("running",) if storage.queue_size() or storage.schedule_size() else queue.ACTIVE
    stale = sa.and_(TaskRecord.state.in_(states), TaskRecord.heartbeat_at < cutoff)
    with system_scope():
        rows = db.session.execute(sa.select(TaskRecord.id, TaskRecord.state, TaskRecord.retries, TaskRecord.worker)
                                  .where(stale)).all()
        again = []
        for record_id, state, retries, worker in rows:
            if state == "running" and _alive_here(worker):
                continue  # silent (e.g. its beat waits for SQLite's write lock) but not dead
            if state == "running" and retries >= MAX_RECOVERIES:
                values = {"state": "failed", "finished_at": now,
                          "error": f"its consumer stopped {retries + 1} times while running it; not run again"}
            else:
                values = {"state": "queued", "heartbeat_at": now, "worker": None,
                          "retries": TaskRecord.retries + (1 if state == "running" else 0)}
            if db.session.execute(sa.update(TaskRecord).where(TaskRecord.id == record_id, stale)
                                  .values(**values)).rowcount and values["state"] == "queued":
                again.append(record_id)
        db.session.commit()
    for record_id in again:
        app.logger.warning("task #%s had no live consumer: queued again", record_id)
        queue.send(queue.state(app), record_id)
    return len(again)


def _alive_here(worker: str | None) -> bool:
    """Whether ``worker`` is a process of this machine that still exists. A long write
    transaction on SQLite keeps the beats out, and SQLite is one machine's queue: asking the
    kernel keeps such a task from being run a second time beside itself."""
    host, _, rest = (worker or "").partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def slot_of(now: datetime, every: timedelta) -> datetime:
    """The start of the period ``now`` falls in: the due time a periodic run belongs to."""
    step = every.total_seconds()
    return EPOCH + timedelta(seconds=(int((now - EPOCH).total_seconds() // step)) * step)


def enqueue_due(app, now: datetime | None = None, *, only: str | None = None) -> list[int]:
    """Queue each periodic job whose slot nobody has claimed yet, for each hospital where its
    plugin is live; returns the ids of the records queued."""
    from core.activation import live_plugins
    now = now or utcnow()
    jobs = [j for j in queue.declared().values() if isinstance(j, Job) and (only is None or j.id == only)]
    sent = []
    with system_scope():
        hospitals = db.session.execute(sa.select(Hospital).where(Hospital.active.is_(True))
                                       .order_by(Hospital.id)).scalars().all()
        for hospital in hospitals:
            live = live_plugins(hospital.id)
            for job in jobs:
                if job.plugin != CORE and job.plugin not in live:
                    continue
                record_id = _claim_slot(hospital.id, job, slot_of(now, job.every))
                if record_id is not None:
                    sent.append(record_id)
    for record_id in sent:
        queue.send(queue.state(app), record_id)  # on failure the row stays queued: recovery sends it
    return sent


def _claim_slot(hospital_id: int, job: Job, slot: datetime) -> int | None:
    """Claim (hospital, job, slot) and create its task record in one committed transaction;
    None when another consumer claimed it first."""
    if db.session.execute(sa.select(JobRun.id).where(JobRun.hospital_id == hospital_id,
                                                     JobRun.job == job.id)).first() is None:
        try:
            db.session.add(JobRun(hospital_id=hospital_id, job=job.id))
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()  # another consumer created it just now; the UPDATE below decides
    claimed = db.session.execute(
        sa.update(JobRun).where(JobRun.hospital_id == hospital_id, JobRun.job == job.id,
                                sa.or_(JobRun.last_started_at.is_(None), JobRun.last_started_at < slot))
        .values(last_started_at=slot)).rowcount
    if not claimed:
        db.session.rollback()
        return None
    record = TaskRecord(task=job.id, hospital_id=hospital_id, args={}, state="queued", retries=0,
                        summary=f"{utc_to_local(slot):%Y-%m-%d %H:%M:%S}", heartbeat_at=utcnow())
    db.session.add(record)
    db.session.commit()
    return record.id


# -- the consumer ----------------------------------------------------------------------------------
def _beat_forever(app, stop: threading.Event) -> None:
    """Keep this process's running records alive while it lives (a killed process stops)."""
    every = max(1.0, _stale_seconds(app) / 4)
    while not stop.wait(every):
        with app.app_context():
            queue.write_beat(None, worker=WORKER_ID)
            db.session.remove()


def consume(app, *, workers: int | None = None, tick_seconds: int | None = None, poll_seconds: float = 0.5):
    """Run a consumer until SIGINT/SIGTERM: ``workers`` threads taking tasks, a scheduler
    ticking every ``tick_seconds`` and a heartbeat thread."""
    from huey.consumer import Consumer, Scheduler
    configured = queue.settings(app)
    seconds = tick_seconds or configured["tick_seconds"]

    class HcrmScheduler(Scheduler):
        periodic_task_seconds = seconds

    class HcrmConsumer(Consumer):
        scheduler_class = HcrmScheduler

    with app.app_context():
        huey = queue.state(app).huey
    stop = threading.Event()
    threading.Thread(target=_beat_forever, args=(app, stop), name="hcrm-beat", daemon=True).start()
    consumer = HcrmConsumer(huey, workers=workers or configured["workers"], worker_type="thread", periodic=True,
                            initial_delay=0.05, backoff=1.5, max_delay=poll_seconds, scheduler_interval=1)
    try:
        consumer.run()
    finally:
        stop.set()


def wait_for(app, record_id: int, timeout: float = 30.0) -> TaskRecord:
    """Poll a record until it is finished (for the CLI's --wait and tests)."""
    deadline = time.monotonic() + timeout
    while True:
        with app.app_context(), system_scope():
            record = db.session.get(TaskRecord, record_id)
            db.session.expunge_all()
            if record.state not in queue.ACTIVE or time.monotonic() > deadline:
                return record
        time.sleep(0.1)
