"""Starting a sync (or a quarantine retry) from a page.

A sync of millions of rows cannot run inside a web request, and the core's job worker runs
scheduled jobs only (there is no queue to put a one-off run on). So the page starts the
engine's ``services.sync`` in a background thread of this server process, in the hospital's
scope and the user's language, and returns at once. The engine updates the run row after every
committed batch, so the runs page (which refreshes itself while a run is going) shows rows read
so far; a sync that dies leaves its run "failed" with the cursor of its last good batch, and the
next run resumes there.

Two syncs of one connection must not overlap: this process keeps the set of connections it is
syncing, and a run row still "running" (from the command line, the scheduler or another server
process) also blocks a new start — unless it began more than STALE_AFTER ago, which only a
process killed mid-run leaves behind (the run row has no heartbeat to tell better).
"""
from __future__ import annotations

import threading
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from core.extensions import db
from core.models import utcnow
from core.tenancy import hospital_scope
from plugins.his_connector import services
from plugins.his_connector.models import Connection, Mapping, Run

STALE_AFTER = timedelta(hours=6)
THREAD_PREFIX = "hcrm-his-"
_ACTIVE: set[int] = set()
_ACTIVE_LOCK = threading.Lock()


class SyncRefused(Exception):
    """Why a sync cannot start now (the message is for the page)."""


class _Actor:
    """The user who started the run, as hospital_scope and the run log want a user."""

    def __init__(self, user_id):
        self.id = user_id


def running_run(connection: Connection) -> Run | None:
    """A run of this connection still going (started less than STALE_AFTER ago)."""
    return db.session.execute(
        sa.select(Run).where(Run.connection_id == connection.id, Run.status == "running",
                             Run.started_at >= utcnow() - STALE_AFTER)
        .order_by(Run.id.desc()).limit(1)).scalar_one_or_none()


def _check_startable(connection: Connection, mappings: list[Mapping]) -> None:
    if not mappings:
        raise SyncRefused(_("“%(name)s” has no enabled mapping for that: map the tables first.", name=connection.name))
    if services.connection_password_state(connection) == "missing":
        raise SyncRefused(_("The environment variable %(env)s, which should hold the HIS password, is not set for "
                            "this server.", env=connection.password_env))
    running = running_run(connection)
    if running is not None or connection.id in _ACTIVE:
        raise SyncRefused(_("A sync of “%(name)s” is already running: wait for it to end.", name=connection.name))


def start_sync(connection: Connection, *, entity: str | None, full: bool) -> threading.Thread:
    """Start ``services.sync`` for the connection (one entity or every enabled mapping) in the
    background. Raises SyncRefused when it cannot start; returns the thread (tests join it)."""
    mappings = [m for m in connection.mappings if m.enabled and (entity is None or m.entity == entity)]
    _check_startable(connection, mappings)

    connection_id, user_id = connection.id, current_user.id

    def work():
        return services.sync(connection_in_scope(connection_id), entities=[entity] if entity else None, full=full,
                             trigger="web", user=_Actor(user_id))
    return _start(connection, work, f"sync-{connection.id}")


def start_retry(mapping: Mapping) -> threading.Thread:
    """Start ``services.retry_quarantine`` for the mapping in the background."""
    connection = mapping.connection
    _check_startable(connection, [mapping])
    mapping_id, user_id = mapping.id, current_user.id

    def work():
        target = db.session.execute(sa.select(Mapping).where(Mapping.id == mapping_id)).scalar_one()
        return services.retry_quarantine(target, trigger="web", user=_Actor(user_id))
    return _start(connection, work, f"retry-{mapping.id}")


def connection_in_scope(connection_id: int) -> Connection:
    return db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one()


def _start(connection: Connection, work, label: str) -> threading.Thread:
    with _ACTIVE_LOCK:
        if connection.id in _ACTIVE:
            raise SyncRefused(_("A sync of “%(name)s” is already running: wait for it to end.", name=connection.name))
        _ACTIVE.add(connection.id)
    app = current_app._get_current_object()
    args = (app, connection.hospital_id, connection.id, current_user.id, str(get_locale() or "zh_CN"), work)
    thread = threading.Thread(target=_run, args=args, name=THREAD_PREFIX + label, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        _ACTIVE.discard(connection.id)
        raise
    return thread


def _run(app, hospital_id: int, connection_id: int, user_id: int, locale: str, work) -> None:
    """The thread body: its own app context and session, the hospital's scope. The engine
    records failures on the run row; anything escaping it is logged (the page cannot be told)."""
    try:
        with app.app_context(), force_locale(locale), hospital_scope(hospital_id, _Actor(user_id)):
            try:
                work()
            except services.HisError as exc:
                db.session.rollback()
                app.logger.warning("HIS sync of connection %s refused: %s", connection_id, exc)
            except Exception:
                db.session.rollback()
                app.logger.exception("HIS sync of connection %s failed outside its run log", connection_id)
            finally:
                db.session.remove()
    finally:
        with _ACTIVE_LOCK:
            _ACTIVE.discard(connection_id)
