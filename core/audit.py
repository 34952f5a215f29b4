"""Audit log (日志管理): every create/update/delete of an audited model, with before/after values.

Plugins get it without code: every hospital-owned model is audited (opt out with
``__hcrm_audit__ = False``, hide columns with ``__hcrm_audit_exclude__``). Rows are written in
the same transaction as the change, so a rolled-back change leaves no audit trail either.
"""
from __future__ import annotations

import datetime as dt
import decimal
import uuid

import sqlalchemy as sa
from flask import has_request_context
from flask_login import current_user
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from core.extensions import db
from core.models import AuditLog, Hospital, utcnow
from core.tenancy import HospitalOwned, current_scope

_SESSION_KEY = "hcrm_audit_rows"


def is_audited(obj) -> bool:
    cls = type(obj)
    if cls is AuditLog:
        return False
    return getattr(cls, "__hcrm_audit__", isinstance(obj, (HospitalOwned, Hospital)))


def _plain(value):
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    return value


def _columns(obj):
    exclude = set(getattr(type(obj), "__hcrm_audit_exclude__", ()))
    return [c for c in inspect(obj).mapper.column_attrs if c.key not in exclude]


def _snapshot(obj) -> dict:
    state = inspect(obj)
    return {c.key: _plain(state.dict.get(c.key)) for c in _columns(obj) if c.key in state.dict}


def _changes(obj) -> tuple[dict, dict]:
    state = inspect(obj)
    before, after = {}, {}
    for col in _columns(obj):
        hist = state.attrs[col.key].history
        if hist.has_changes():
            before[col.key] = _plain(hist.deleted[0]) if hist.deleted else None
            after[col.key] = _plain(hist.added[0]) if hist.added else None
    return before, after


def _actor() -> tuple[int | None, str | None]:
    if has_request_context() and current_user and getattr(current_user, "is_authenticated", False):
        return current_user.id, current_user.username
    scope = current_scope()
    return (scope.user_id if scope else None), None


def _row(obj, action: str, before, after, note=None) -> dict:
    user_id, username = _actor()
    scope = current_scope()
    hospital_id = getattr(obj, "hospital_id", None)
    if isinstance(obj, Hospital):
        hospital_id = obj.id
    if hospital_id is None and scope is not None:
        hospital_id = scope.hospital_id
    state = inspect(obj)
    # New rows get their identity only after the flush: read their primary key instead.
    ident = state.identity or state.mapper.primary_key_from_instance(obj)
    if ident and any(i is None for i in ident):
        ident = None
    return dict(at=utcnow(), user_id=user_id, username=username, action=action,
                model=type(obj).__name__, hospital_id=hospital_id,
                record_id=",".join(str(i) for i in ident) if ident else None,
                before=before or None, after=after or None, note=note)


@event.listens_for(Session, "after_flush")
def _record_changes(session, flush_context) -> None:
    rows = []
    for obj in session.new:
        if is_audited(obj):
            rows.append(_row(obj, "create", None, _snapshot(obj)))
    for obj in session.dirty:
        if is_audited(obj) and session.is_modified(obj, include_collections=False):
            before, after = _changes(obj)
            if after or before:
                rows.append(_row(obj, "update", before, after))
    for obj in session.deleted:
        if is_audited(obj):
            rows.append(_row(obj, "delete", _snapshot(obj), None))
    if rows:
        session.connection().execute(sa.insert(AuditLog.__table__), rows)


def commit_keeping_loaded() -> None:
    """Commit what a read wrote (the audit rows of an unmasked view) without expiring the objects
    the request loaded: the page goes on to show them, and expiring them would reload each one,
    a query per row, for data this transaction has just read. Only for reads that log: a request
    that changed rows commits as usual, so the rows it shows are read back as stored."""
    session = db.session()
    expire = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def log_event(action: str, model: str, record_id=None, *, hospital_id=None, note=None,
              before=None, after=None) -> None:
    """Record an event that is not a row change: a sign-in, an unmasked view of sensitive data.

    Written with the caller's session, committed with the caller's transaction.
    """
    user_id, username = _actor()
    scope = current_scope()
    if hospital_id is None and scope is not None:
        hospital_id = scope.hospital_id
    db.session.execute(sa.insert(AuditLog.__table__), [dict(
        at=utcnow(), user_id=user_id, username=username, action=action, model=model,
        hospital_id=hospital_id, record_id=None if record_id is None else str(record_id),
        before=before, after=after, note=note)])
