"""One sync per connection at a time, across threads, processes and servers.

Two runs of one connection (a page's background sync, the command line, the scheduler, another
gunicorn worker) would read the same rows and race on the stored cursor. Before its first batch
a sync *claims* the connection with one conditional UPDATE, committed at once::

    UPDATE his_connector_connection SET sync_token = :token, sync_claimed_at = :now
    WHERE id = :id AND (sync_token IS NULL OR <the holder is stale>)

The database serialises concurrent UPDATEs of one row (PostgreSQL re-checks the WHERE after the
first commits; SQLite has one writer), so exactly one claimant sees a row count of 1. This works
the same on every database and needs no session held open for the run (an advisory lock would
tie the lock to one connection of the pool and say nothing about *which* run holds it).

A holder is alive while it beats: every committed batch moves its run's ``updated_at`` (the
heartbeat, written in the batch transaction at no extra cost), and so does every reconnect
attempt. A claim is stale when it was taken, and its newest running run last beat, more than
``stale_after()`` ago: HCRM_HIS_STALE_MINUTES (default 10), never less than twice the
connection's statement timeout (the longest a healthy run can spend inside one HIS statement).
Only a process killed mid-run (OOM, kill -9, a power cut) leaves that behind; the next claim
takes the lock over and marks the dead process's runs failed.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from core import clock
from core.extensions import db
from core.i18n import _m
from core.models import utcnow
from plugins.his_connector.errors import HisError
from plugins.his_connector.models import Connection, Run

DEFAULT_STALE_MINUTES = 10


class SyncBusy(HisError):
    """Another sync of the connection is running; ``run`` is its newest run (None before its
    first run row exists)."""

    def __init__(self, message, run: Run | None = None):
        super().__init__(message)
        self.run = run


def stale_after(connection: Connection) -> timedelta:
    """How long a running sync may stay silent before it counts as dead (see module doc)."""
    minutes = float(current_app.config.get("HCRM_HIS_STALE_MINUTES", DEFAULT_STALE_MINUTES))
    return max(timedelta(minutes=minutes), timedelta(seconds=2 * int(connection.statement_timeout or 0)))


def _live_runs(connection_id: int, since):
    return sa.select(Run.id).where(Run.connection_id == connection_id, Run.status == "running",
                                   Run.updated_at >= since)


def running_run(connection: Connection) -> Run | None:
    """The newest run of the connection that is running and still beating, if any."""
    since = utcnow() - stale_after(connection)
    return db.session.execute(sa.select(Run).where(Run.id.in_(_live_runs(connection.id, since)))
                              .order_by(Run.id.desc()).limit(1)).scalar_one_or_none()


def run_state(run: Run) -> str:
    """The run's status for display: ``stalled`` for a run still marked running whose process
    stopped beating (the next sync of the connection marks it failed)."""
    if run.status == "running" and run.updated_at < utcnow() - stale_after(run.connection):
        return "stalled"
    return run.status


def claim(connection: Connection) -> str:
    """Take the connection's sync lock and commit; returns the token to release it with.
    Raises SyncBusy (naming the running run) when a live sync holds it. Runs left "running" by
    a dead holder are marked failed."""
    now = utcnow()
    since = now - stale_after(connection)
    token, earlier_attempt = _token()
    free = sa.or_(Connection.sync_token.is_(None),
                  sa.and_(Connection.sync_claimed_at < since, ~sa.exists(_live_runs(connection.id, since))))
    if earlier_attempt is not None:
        free = sa.or_(free, Connection.sync_token.like(earlier_attempt))
    claimed = db.session.execute(
        sa.update(Connection).where(Connection.id == connection.id, free)
        .values(sync_token=token, sync_claimed_at=now, updated_at=Connection.updated_at),
        execution_options={"synchronize_session": False}).rowcount
    if claimed != 1:
        db.session.rollback()
        raise _busy(connection)
    _fail_abandoned(connection, now)
    db.session.commit()
    return token


def _token() -> tuple[str, str | None]:
    """A new claim token, and inside a queued task the LIKE pattern of the tokens its earlier
    attempts took. The queue runs a task again only once its consumer stopped beating
    (``jobs.stale_seconds``) -- killed, or its machine gone -- so a claim of an earlier attempt of
    the *same* task is a dead one: the new attempt takes it over at once and resumes from the
    cursor, instead of failing as "already running" until ``stale_after`` has passed."""
    from core.queue import current_task_id
    task_id = current_task_id()
    if task_id is None:
        return uuid.uuid4().hex, None
    prefix = f"t{task_id}-"
    return prefix + uuid.uuid4().hex[:32 - len(prefix)], prefix + "%"


def _local(moment) -> str:
    return f"{clock.utc_to_local(moment):%Y-%m-%d %H:%M:%S}" if moment else "-"


def _busy(connection: Connection) -> SyncBusy:
    run = running_run(connection)
    if run is None:
        claimed_at = db.session.execute(sa.select(Connection.sync_claimed_at)
                                        .where(Connection.id == connection.id)).scalar()
        return SyncBusy(_m("A sync of connection '%(name)s' is already running (started %(when)s): wait for "
                           "it to end.", name=connection.name, when=_local(claimed_at)))
    return SyncBusy(_m("A sync of connection '%(name)s' is already running (run #%(id)d, started %(when)s, "
                       "%(rows)d rows read so far): wait for it to end.", name=connection.name,
                       id=run.id, when=_local(run.started_at), rows=run.rows_read),
                    run)


def _fail_abandoned(connection: Connection, now) -> None:
    """We hold the lock, so any run of the connection still marked running has no process left."""
    for run in db.session.execute(sa.select(Run).where(Run.connection_id == connection.id,
                                                       Run.status == "running")).scalars():
        run.status, run.finished_at = "failed", now
        run.error = (f"stopped: the process running it ended without finishing (last sign of life "
                     f"{_local(run.updated_at)})")


def release(connection_id: int, token: str) -> None:
    """Give the lock back (only if still ours: a holder declared dead must not free its
    successor's lock) and commit."""
    db.session.rollback()  # whatever the failed run left pending is not ours to commit
    db.session.execute(sa.update(Connection).where(Connection.id == connection_id, Connection.sync_token == token)
                       .values(sync_token=None, sync_claimed_at=None, updated_at=Connection.updated_at),
                       execution_options={"synchronize_session": False})
    db.session.commit()


@contextmanager
def holding(connection: Connection, token: str | None = None):
    """Hold the connection's lock for the block: ``token`` is a claim the caller already took
    and hands over (a page claims in the request, then syncs in a thread); released either way."""
    connection_id = connection.id
    token = token or claim(connection)
    try:
        yield token
    finally:
        release(connection_id, token)


def beat(run_id: int) -> None:
    """Show the run is alive outside a batch (e.g. while waiting to reconnect); commits."""
    db.session.execute(sa.update(Run).where(Run.id == run_id).values(updated_at=utcnow()),
                       execution_options={"synchronize_session": False})
    db.session.commit()
