"""Starting a sync (or a quarantine retry) from a page: on the core's task queue.

A sync of millions of rows cannot run inside a web request. The page claims the connection's
lock (locks.py: a committed conditional UPDATE, seen by the command line, the schedule and every
server alike) so a refusal reaches the page as a message, then queues the task (jobs.py) with
the claim; a consumer (``hcrm worker``) runs it in the hospital's scope and the user's language.
The engine updates the run row after every committed batch, so the runs page shows rows read so
far; a consumer that dies mid-sync leaves a run with the cursor of its last good batch, and the
queue runs the task again, which resumes there. When the queue cannot be reached, the claim is
given back and nothing runs.
"""
from __future__ import annotations

from flask_login import current_user

from core import queue
from core.i18n import gettext as _
from core.models import TaskRecord
from plugins.his_connector import services
from plugins.his_connector.jobs import RETRY, SYNC
from plugins.his_connector.models import Connection, Mapping

running_run = services.running_run  # the pages ask it too (refresh while running, refuse a delete)


class SyncRefused(Exception):
    """Why a sync cannot start now (the message is for the page)."""


def _claim(connection: Connection, mappings: list[Mapping]) -> str:
    """Check the sync can start and take the connection's lock; the token to hand over."""
    if not mappings:
        raise SyncRefused(_("“%(name)s” has no enabled mapping for that: map the tables first.", name=connection.name))
    if services.connection_password_state(connection) == "missing":
        raise SyncRefused(_("The environment variable %(env)s, which should hold the HIS password, is not set for "
                            "this server.", env=connection.password_env))
    try:
        return services.claim_sync(connection)
    except services.SyncBusy as exc:
        raise SyncRefused(exc.translated()) from None


def _enqueue(connection: Connection, token: str, name: str, **args) -> TaskRecord:
    connection_id, hospital_id = connection.id, connection.hospital_id
    try:
        return queue.enqueue(name, hospital_id, user=current_user.id, summary=connection.name, token=token, **args)
    except queue.QueueError as exc:
        services.release_sync(connection_id, token)
        raise SyncRefused(exc.message.translated()) from None


def start_sync(connection: Connection, *, entity: str | None, full: bool) -> TaskRecord:
    """Queue ``services.sync`` for the connection (one entity or every enabled mapping). Raises
    SyncRefused when it cannot start; returns the task record."""
    mappings = [m for m in connection.mappings if m.enabled and (entity is None or m.entity == entity)]
    token = _claim(connection, mappings)
    return _enqueue(connection, token, SYNC, connection_id=connection.id, entity=entity, full=full)


def start_retry(mapping: Mapping) -> TaskRecord:
    """Queue ``services.retry_quarantine`` for the mapping."""
    token = _claim(mapping.connection, [mapping])
    return _enqueue(mapping.connection, token, RETRY, mapping_id=mapping.id)


def waiting(hospital_id: int) -> list[TaskRecord]:
    """The hospital's syncs and retries queued or running on the task queue (newest first)."""
    return [r for name in (SYNC, RETRY) for r in queue.active(name, hospital_id)]
