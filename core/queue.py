"""The task queue: background work of every plugin, on Huey, behind this one seam.

Plugins declare one-off :class:`core.declarations.Task` s and periodic ``Job`` s (hook
``hcrm_jobs``) and start work with :func:`enqueue`; they never import Huey, so the storage can
change without them. The storage is ``jobs.backend`` in config.yaml (``HCRM_JOBS_BACKEND``):

* ``sqlite`` -- a file (``instance/queue.sqlite3``, or ``jobs.url``): no server, one machine;
* ``postgresql`` -- tables ``hcrmq_*`` in the CRM's own database (or the DSN in ``jobs.url``);
* ``redis`` -- the server at ``jobs.url`` (``redis://host:6379/0``).

Huey carries only the id of a :class:`core.models.TaskRecord`; the row in the CRM's database is
the truth. A consumer claims a row with a committed conditional UPDATE (``queued`` ->
``running``), so a message delivered twice runs once; it beats while it works, so a consumer
killed mid-task leaves a row whose beat goes stale, and any other consumer runs it again
(core.queue_worker). Huey drops a message once dequeued; the row is what makes work survive.
"""
from __future__ import annotations

import json
import threading
import time
from contextvars import ContextVar
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale

from core.declarations import Job, Task
from core.extensions import db
from core.i18n import _m
from core.models import Hospital, TaskRecord, utcnow
from core.plugins import CORE

QUEUE_NAME = "hcrm"
TABLE_PREFIX = "hcrmq"          # PostgreSQL storage tables: hcrmq_task, hcrmq_schedule, hcrmq_kv
ACTIVE = ("queued", "running")
STATES = ("queued", "running", "ok", "failed", "skipped")
PROGRESS_EVERY_SECONDS = 1.0    # progress() writes at most this often (plus the last call)

_build_lock = threading.Lock()
_current: ContextVar[int | None] = ContextVar("hcrm_task", default=None)
_last_progress: dict[int, float] = {}


class QueueError(Exception):
    """Work that cannot be queued; ``message`` is for the user (a lazy translation)."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class QueueUnavailable(QueueError):
    """The queue's storage (Redis, PostgreSQL, the file) did not answer: nothing was queued."""


class UnknownTask(QueueError, LookupError):
    """No plugin declares a task of that name; the message lists the known ones."""


class TaskRefused(QueueError):
    """The task's plugin is not live for the hospital, or the hospital is closed."""


# -- the Huey instance -----------------------------------------------------------------------------
def settings(app) -> dict:
    """The queue's settings: config.yaml's ``jobs`` section, which app.config keys
    (``HCRM_JOBS_BACKEND``, ``HCRM_JOBS_URL``, ``HCRM_QUEUE_NAME``, ``HCRM_JOBS_STALE_SECONDS``,
    ``HCRM_JOBS_TICK_SECONDS``) override -- tests point every app of a run at one private queue."""
    config = app.extensions["hcrm"].config
    get = app.config.get
    return {"backend": get("HCRM_JOBS_BACKEND") or config.jobs_backend,
            "url": get("HCRM_JOBS_URL") or config.jobs_url,
            "name": get("HCRM_QUEUE_NAME") or QUEUE_NAME,
            "stale_seconds": int(get("HCRM_JOBS_STALE_SECONDS") or config.jobs_stale_seconds),
            "tick_seconds": int(get("HCRM_JOBS_TICK_SECONDS") or config.worker_interval_seconds),
            "workers": config.jobs_workers, "database_url": config.database_url,
            "periodic": get("HCRM_JOBS_PERIODIC", True)}  # False: this consumer queues no periodic job


def _postgres_storage():
    """Huey's PostgreSQL storage with the enqueue in one round trip: the INSERT and its NOTIFY in
    one autocommitted statement, instead of BEGIN / INSERT / NOTIFY / COMMIT. Made on first use:
    importing huey's storage module imports psycopg 3 and redis (~18 MB), which a process that
    never queues (a web worker of a SQLite setup, a sync in the CLI) should not carry."""
    from huey.storage import PostgresStorage

    class _PostgresStorage(PostgresStorage):
        def enqueue(self, data, priority=None):
            with self.db() as curs:
                table = self.table_task
                curs.execute(f"with added as (insert into {table} (queue, data, priority) values (%s, %s, %s) "
                             "returning 1) select pg_notify(%s, '') from added", (self.name, data, priority or 0,
                                                                                 self.channel))
    return _PostgresStorage


def make_huey(backend: str, url: str, *, database_url: str, instance_path: str, name: str = QUEUE_NAME):
    """A Huey instance on the configured storage (nothing connects before first use, except
    SQLite and PostgreSQL, which create their tables if they are missing)."""
    from huey import PostgresHuey, RedisHuey, SqliteHuey
    common = {"name": name, "results": False, "utc": True}
    if backend == "sqlite":
        path = url.removeprefix("sqlite:///") if url else str(Path(instance_path) / "queue.sqlite3")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteHuey(filename=path, **common)
    if backend == "postgresql":
        dsn = url or database_url
        dsn = sa.engine.make_url(dsn).set(drivername="postgresql").render_as_string(hide_password=False)
        # The messages need no fsync of their own: a message lost in a server crash leaves its
        # task record queued, and the consumers' recovery sends it again (core.queue_worker.tick).
        return PostgresHuey(dsn=dsn, table_prefix=TABLE_PREFIX, connect_timeout=5, storage_class=_postgres_storage(),
                            options="-c synchronous_commit=off", **common)
    if backend == "redis":
        import redis
        pool = redis.ConnectionPool.from_url(url or "redis://127.0.0.1:6379/0", socket_connect_timeout=5)
        return RedisHuey(connection_pool=pool, **common)
    raise ValueError(f"unknown jobs backend {backend!r}")


class _QueueState:
    """The app's Huey instance and the two Huey tasks every piece of work goes through."""

    def __init__(self, app):
        from core import queue_worker
        self.settings = settings(app)
        self.backend = self.settings["backend"]
        self.huey = make_huey(self.backend, self.settings["url"], database_url=self.settings["database_url"],
                              instance_path=app.instance_path, name=self.settings["name"])
        self.run = self.huey.task(name="hcrm.run")(lambda record_id: queue_worker.run_record(app, record_id))
        self.tick = self.huey.periodic_task(lambda _when: True, name="hcrm.tick")(
            lambda: queue_worker.tick(app))


def state(app=None) -> _QueueState:
    app = app or current_app._get_current_object()
    found = app.extensions.get("hcrm_queue")
    if found is None:
        with _build_lock:
            found = app.extensions.get("hcrm_queue")
            if found is None:
                try:
                    found = _QueueState(app)
                except Exception as exc:  # e.g. PostgreSQL down while creating its tables
                    raise _unavailable(exc) from exc
                app.extensions["hcrm_queue"] = found
    return found


def _unavailable(exc: Exception) -> QueueUnavailable:
    current_app.logger.error("task queue unavailable: %s: %s", type(exc).__name__, exc)
    return QueueUnavailable(_m("The task queue is not reachable right now (%(error)s): nothing was started. "
                               "Try again in a moment or tell your administrator.",
                               error=type(exc).__name__))


# -- declared tasks --------------------------------------------------------------------------------
def declared() -> dict[str, Job | Task]:
    return current_app.extensions["hcrm"].catalog.jobs


def declared_task(name: str) -> Job | Task:
    found = declared().get(name)
    if found is None:
        known = ", ".join(sorted(declared())) or "none"
        raise UnknownTask(_m("No task is called “%(name)s” (known: %(known)s).", name=name, known=known))
    return found


def skip_reason(task: Job | Task | None, hospital: Hospital | None) -> str | None:
    """Why a task must not run for the hospital now (None: it may). Read in the system scope;
    the live plugins come from the per-app cache keyed by the row's ``plugins_version``, which
    every enable/disable bumps, so a plugin disabled a moment ago is seen."""
    from core.activation import live_for
    if task is None:
        return "the task is no longer declared by any loaded plugin"
    if hospital is None or not hospital.active:
        return "the hospital is closed"
    if task.plugin != CORE and task.plugin not in live_for(hospital):
        return f"the plugin '{task.plugin}' is disabled for hospital {hospital.code}"
    return None


# -- starting work ---------------------------------------------------------------------------------
def enqueue(name: str, hospital, *, user=None, locale: str | None = None, summary: str | None = None,
            delay: float | None = None, **args) -> TaskRecord:
    """Queue the declared task ``name`` for ``hospital`` (a row or an id) on behalf of ``user``
(a periodic job too: it then runs now, besides its schedule).

    Commits the current transaction (the consumer must see the task's row, and whatever the
    caller prepared for it). ``args`` are JSON values passed to ``run(hospital, **args)``.
    Raises UnknownTask, TaskRefused (plugin disabled there), ValueError (args not JSON) or
    QueueUnavailable -- then no row is left and nothing will run.
    """
    from core.tenancy import system_scope
    task = declared_task(name)
    if isinstance(task, Job) and args:
        raise ValueError(f"{name} is a periodic job: it takes no arguments")
    try:
        json.dumps(args)
    except TypeError as exc:
        raise ValueError(f"arguments of task {name} must be JSON values: {exc}") from None
    hospital_id = hospital if isinstance(hospital, int) else hospital.id
    with system_scope():
        reason = skip_reason(task, db.session.get(Hospital, hospital_id))
    if reason:
        raise TaskRefused(_m("This cannot be started: %(reason)s.", reason=reason))
    queue = state()
    record = TaskRecord(task=name, hospital_id=hospital_id, user_id=getattr(user, "id", user),
                        locale=locale or str(get_locale() or "") or None, args=args,
                        summary=(summary or "")[:255] or None, state="queued", retries=0, heartbeat_at=utcnow())
    db.session.add(record)
    db.session.flush()
    record_id = record.id  # read before the commit expires the row: no reload to learn it
    db.session.commit()
    send(queue, record_id, delay=delay, undo=True)
    return record


def send(queue: _QueueState, record_id: int, *, delay: float | None = None, undo: bool = False) -> None:
    """Put the record's message on the queue; on failure the record is removed when ``undo``
    (a fresh enqueue), otherwise left queued for the consumers' recovery to send again."""
    try:
        if delay:
            queue.run.schedule(args=(record_id,), delay=delay)
        else:
            queue.run(record_id)
    except Exception as exc:
        if undo:
            db.session.execute(sa.delete(TaskRecord).where(TaskRecord.id == record_id))
            db.session.commit()
        raise _unavailable(exc) from exc


def retry(record_id: int) -> TaskRecord:
    """Queue a failed or skipped task again (the jobs page's button, ``hcrm jobs retry``)."""
    record = db.session.get(TaskRecord, record_id)
    if record is None:
        raise LookupError(record_id)
    if record.state in ACTIVE or record.state == "ok":
        raise TaskRefused(_m("Task %(id)d is %(state)s: only a failed or skipped task can be retried.",
                             id=record_id, state=record.state))
    queue = state()
    count = db.session.execute(
        sa.update(TaskRecord).where(TaskRecord.id == record_id, TaskRecord.state.in_(("failed", "skipped")))
        .values(state="queued", retries=TaskRecord.retries + 1, error=None, worker=None, done=None, total=None,
                heartbeat_at=utcnow(), finished_at=None)).rowcount
    db.session.commit()
    if count:
        send(queue, record_id)
    db.session.refresh(record)
    return record


# -- inside a task ---------------------------------------------------------------------------------
def current_task_id() -> int | None:
    """The id of the TaskRecord being run in this context (None outside a queued task)."""
    return _current.get()


def progress(done: int, total: int | None = None) -> None:
    """Report how far the running task is ("32,000 / 200,000 rows"); cheap to call often.

    Written at most once a second in a connection of its own (so the figures show while the
    task's own transaction is still open) and doubling as the task's heartbeat. A no-op
    outside a queued task (e.g. a sync run in the foreground from the command line)."""
    record_id = _current.get()
    if record_id is None:
        return
    now = time.monotonic()
    if now - _last_progress.get(record_id, 0.0) < PROGRESS_EVERY_SECONDS and done != total:
        return
    _last_progress[record_id] = now
    write_beat(record_id, done=done, total=total)


def write_beat(record_id: int | None, *, worker: str | None = None, **values) -> None:
    """Move a running record's heartbeat (and progress) in its own short transaction. A SQLite
    database locked by the task's own open transaction is not waited for: the next beat comes."""
    table = TaskRecord.__table__
    statement = sa.update(table).where(table.c.state == "running").values(heartbeat_at=utcnow(), **values)
    statement = statement.where(table.c.id == record_id) if record_id is not None else \
        statement.where(table.c.worker == worker)
    try:
        with db.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA busy_timeout = 200")
            try:
                conn.execute(statement)
                conn.commit()
            finally:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("PRAGMA busy_timeout = 5000")
    except sa.exc.OperationalError as exc:
        current_app.logger.info("task heartbeat not written (%s)", exc.orig)


def active(name: str, hospital_id: int) -> list[TaskRecord]:
    """The hospital's queued and running records of task ``name``, newest first."""
    return list(db.session.execute(sa.select(TaskRecord).where(
        TaskRecord.task == name, TaskRecord.hospital_id == hospital_id, TaskRecord.state.in_(ACTIVE))
        .order_by(TaskRecord.id.desc())).scalars())


def in_flight(name: str, hospital_id: int, **args) -> TaskRecord | None:
    """The newest active record of ``name`` for the hospital whose args include ``args`` (the
    schedule asks "is a sync of this connection still queued?")."""
    return next((r for r in active(name, hospital_id) if all((r.args or {}).get(k) == v for k, v in args.items())),
                None)


def status(record: TaskRecord) -> dict:
    """What a page's poll shows of a task (JSON)."""
    percent = int(100 * record.done / record.total) if record.total and record.done is not None else None
    return {"id": record.id, "task": record.task, "state": record.state, "done": record.done,
            "total": record.total, "percent": percent, "error": record.error, "retries": record.retries,
            "finished": record.state not in ACTIVE}
