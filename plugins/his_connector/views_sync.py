"""Starting a sync (or a quarantine retry) from a page.

A sync of millions of rows cannot run inside a web request, and the core's job worker runs
scheduled jobs only (there is no queue to put a one-off run on). So the page starts the
engine's ``services.sync`` in a background thread of this server process, in the hospital's
scope and the user's language, and returns at once. The engine updates the run row after every
committed batch, so the runs page (which refreshes itself while a run is going) shows rows read
so far; a sync that dies leaves its run "failed" with the cursor of its last good batch, and the
next run resumes there.

Two syncs of one connection must not overlap: the request claims the connection's lock
(locks.py: a committed conditional UPDATE, seen by the command line, the scheduler and every
server process alike) before the thread starts, so a refusal reaches the page as a message; the
thread hands the claim to the engine, which releases it when the sync ends.
"""
from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.his_connector import services
from plugins.his_connector.models import Connection, Mapping

THREAD_PREFIX = "hcrm-his-"
running_run = services.running_run  # the pages ask it too (refresh while running, refuse a delete)


class SyncRefused(Exception):
    """Why a sync cannot start now (the message is for the page)."""


class _Actor:
    """The user who started the run, as hospital_scope and the run log want a user."""

    def __init__(self, user_id):
        self.id = user_id


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


def start_sync(connection: Connection, *, entity: str | None, full: bool) -> threading.Thread:
    """Start ``services.sync`` for the connection (one entity or every enabled mapping) in the
    background. Raises SyncRefused when it cannot start; returns the thread (tests join it)."""
    mappings = [m for m in connection.mappings if m.enabled and (entity is None or m.entity == entity)]
    token = _claim(connection, mappings)
    connection_id, user_id = connection.id, current_user.id

    def work():
        return services.sync(connection_in_scope(connection_id), entities=[entity] if entity else None, full=full,
                             trigger="web", user=_Actor(user_id), lock_token=token)
    return _start(connection, token, work, f"sync-{connection.id}")


def start_retry(mapping: Mapping) -> threading.Thread:
    """Start ``services.retry_quarantine`` for the mapping in the background."""
    connection = mapping.connection
    token = _claim(connection, [mapping])
    mapping_id, user_id = mapping.id, current_user.id

    def work():
        target = db.session.execute(sa.select(Mapping).where(Mapping.id == mapping_id)).scalar_one()
        return services.retry_quarantine(target, trigger="web", user=_Actor(user_id), lock_token=token)
    return _start(connection, token, work, f"retry-{mapping.id}")


def connection_in_scope(connection_id: int) -> Connection:
    return db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one()


def _start(connection: Connection, token: str, work, label: str) -> threading.Thread:
    app = current_app._get_current_object()
    args = (app, connection.hospital_id, connection.id, current_user.id, str(get_locale() or "zh_CN"), token, work)
    thread = threading.Thread(target=_run, args=args, name=THREAD_PREFIX + label, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        services.release_sync(connection.id, token)
        raise
    return thread


def _run(app, hospital_id: int, connection_id: int, user_id: int, locale: str, token: str, work) -> None:
    """The thread body: its own app context and session, the hospital's scope. The engine
    records failures on the run row; anything escaping it is logged (the page cannot be told).
    The engine releases the lock; releasing again here covers a thread that failed before."""
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
            services.release_sync(connection_id, token)
            db.session.remove()
