"""The HIS connector's background work, run by the core's task queue (``hcrm worker``):

* ``his_connector.sync`` (a task): one sync of one connection, started by the "sync now" page or
  the schedule; it resumes from the stored cursor, so running it again after its consumer died
  loses and doubles nothing;
* ``his_connector.retry_quarantine`` (a task): the quarantine's "retry" of one mapping;
* ``his_connector.schedule`` (every minute): queues a sync task for each connection whose own
  schedule (``schedule_minutes``) is due, so one hospital's long sync holds one worker, not the
  others' jobs.
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from core import queue
from core.declarations import Job, Task
from core.extensions import db
from core.i18n import lazy_gettext as _l
from core.tenancy import current_scope

SYNC = "his_connector.sync"
RETRY = "his_connector.retry_quarantine"


class _Actor:
    """The user who started the run, as the run log wants a user (None for the schedule)."""

    def __init__(self, user_id):
        self.id = user_id


def _user():
    user_id = current_scope().user_id
    return _Actor(user_id) if user_id else None


def _held(connection, token: str | None) -> str | None:
    """The page's claim if it is still ours (a task run again after its consumer died may find
    the lock taken over); None lets the engine claim the lock itself."""
    return token if token and connection.sync_token == token else None


def _report(run, _batch_rows, total) -> None:
    queue.progress(run.rows_read or 0, total)


def sync_task(hospital, connection_id: int, entity: str | None = None, full: bool = False,
              token: str | None = None, trigger: str = "web") -> None:
    """Sync the connection (one entity or every enabled mapping). A failed run is recorded in the
    run log and makes the task fail with its error; a sync already running elsewhere is a
    failure for a page's request and a quiet skip for the schedule."""
    from plugins.his_connector import services
    from plugins.his_connector.models import Connection
    connection = db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one_or_none()
    if connection is None:
        if token:
            services.release_sync(connection_id, token)
        raise LookupError(f"HIS connection #{connection_id} no longer exists")
    try:
        runs = services.sync(connection, entities=[entity] if entity else None, full=full, trigger=trigger,
                             user=_user(), progress=_report, lock_token=_held(connection, token))
    except services.SyncBusy as exc:
        if trigger == "schedule":
            current_app.logger.info("HIS sync of %s skipped: %s", connection.name, exc)
            return
        raise
    failed = [f"{run.entity}: {run.error}" for run in runs if run.status != "ok"]
    if failed:
        raise RuntimeError(f"{connection.name}: " + "; ".join(failed))


def retry_task(hospital, mapping_id: int, token: str | None = None) -> None:
    from plugins.his_connector import services
    from plugins.his_connector.models import Mapping
    mapping = db.session.execute(sa.select(Mapping).where(Mapping.id == mapping_id)).scalar_one()
    run = services.retry_quarantine(mapping, trigger="web", user=_user(), lock_token=_held(mapping.connection, token))
    if run.status != "ok":
        raise RuntimeError(f"{mapping.connection.name}/{run.entity}: {run.error}")


def sync_due_connections(hospital) -> list[int]:
    """Queue a sync of every due connection that has none queued or running; returns the task ids."""
    from plugins.his_connector import services
    queued = []
    for connection in services.due_connections():
        if queue.in_flight(SYNC, hospital.id, connection_id=connection.id) is None:
            queued.append(queue.enqueue(SYNC, hospital, summary=connection.name, connection_id=connection.id,
                                        trigger="schedule").id)
    return queued


def jobs() -> list[Job | Task]:
    return [Job("his_connector.schedule", _l("Queue the HIS syncs that are due"), every=timedelta(minutes=1),
                run=sync_due_connections),
            Task(SYNC, _l("HIS sync"), run=sync_task),
            Task(RETRY, _l("Retry quarantined HIS rows"), run=retry_task)]
