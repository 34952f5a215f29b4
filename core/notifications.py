"""Notifications: the core's one channel for telling users something (an overdue complaint, a
finished export…). Plugins call :func:`notify`; the user sees a bell with the unread count in
the top bar and the list at ``/notifications``. Each new notification is also handed to the
``hcrm_notification_created`` hook, so a plugin can forward it by SMS, e-mail or WeChat
without the callers knowing such channels exist.

``notify`` is idempotent per (user, kind, key): periodic jobs run again, are retried after a
consumer died, or find the same overdue record every hour, and must not repeat themselves.
"""
from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from flask import current_app

from core.extensions import db
from core.models import Notification, User, utcnow
from core.tenancy import current_scope, system_scope


def _user_ids(users: Iterable) -> list[int]:
    ids = []
    for user in users:
        uid = user if isinstance(user, int) else getattr(user, "id", None)
        if uid is not None and uid not in ids:
            ids.append(uid)
    return ids


def notify(users: Iterable, kind: str, title, body=None, link: str | None = None, *, key: str | None = None,
           hospital_id: int | None = None) -> list[Notification]:
    """Notify ``users`` (users or ids) of the current scope's hospital (or ``hospital_id``).

    ``kind`` names what happened (``<plugin>.<what>``, e.g. ``complaints.overdue``); ``key``
    names the occasion (default: ``link``, else ``title``): a user who already has a
    notification of that kind and key gets nothing new. Users of another hospital and
    deactivated users are skipped. ``title``/``body`` are stored as text in the current
    language (a job runs in its starter's or the default one). Returns the notifications
    created now, after handing each to the ``hcrm_notification_created`` hook.
    """
    scope = current_scope()
    hospital_id = hospital_id if hospital_id is not None else (scope.hospital_id if scope else None)
    if hospital_id is None:
        raise RuntimeError(f"notification {kind!r} without a hospital")
    ids = _user_ids(users)
    if not ids:
        return []
    key = str(key if key is not None else (link or title))[:200]
    with system_scope():  # recipients and earlier notices are checked whatever the caller's data scope
        recipients = db.session.execute(sa.select(User.id).where(
            User.id.in_(ids), User.hospital_id == hospital_id, User.active.is_(True))).scalars().all()
        already = set(db.session.execute(sa.select(Notification.user_id).where(
            Notification.user_id.in_(ids), Notification.kind == kind, Notification.key == key)).scalars())
        created = []
        for uid in sorted(set(recipients) - already):
            row = Notification(hospital_id=hospital_id, user_id=uid, kind=kind, key=key, title=str(title)[:200],
                               body=str(body) if body is not None else None, link=link)
            try:
                with db.session.begin_nested():  # two consumers racing for the same notice: one wins
                    db.session.add(row)
            except sa.exc.IntegrityError:
                continue
            created.append(row)
    if created:
        _deliver(hospital_id, created)
    return created


def _deliver(hospital_id: int, created: list[Notification]) -> None:
    from core.events import _live_for
    relay = current_app.extensions["hcrm"].registry.hooks_for(_live_for(hospital_id))
    for row in created:
        relay.hcrm_notification_created(notification=row)


# -- what a user sees: their own notifications, in the request's hospital (tenancy) -------------
def mine(user_id: int):
    return sa.select(Notification).where(Notification.user_id == user_id)


def unread_count(user_id: int) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Notification).where(
        Notification.user_id == user_id, Notification.read_at.is_(None))).scalar_one()


def listing(user_id: int, *, unread_only: bool = False, limit: int = 200) -> list[Notification]:
    stmt = mine(user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return db.session.execute(stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
                              .limit(limit)).scalars().all()


def own_or_none(user_id: int, notification_id: int) -> Notification | None:
    return db.session.execute(mine(user_id).where(Notification.id == notification_id)).scalar_one_or_none()


def mark_read(notification: Notification) -> None:
    if notification.read_at is None:
        notification.read_at = utcnow()


def mark_all_read(user_id: int) -> int:
    """Mark every unread notification of the user (in the request's hospital) read; how many."""
    stmt = (sa.update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=utcnow()).execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount or 0
