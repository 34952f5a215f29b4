"""The work queue (seed §3.7): open plans in buckets by due time — overdue, today, the next 7
days, the next 30 days, later — for "mine" (plans assigned to me) or "team" (every plan my data
scope shows: my department(s) for a supervisor, the hospital for a director), plus the
escalated ones for supervisors. Counts come from one grouped query; the list is one page.

Buckets are disjoint, in local time: overdue = due before now; today = from now to midnight;
next 7 days = the 7 days after today; next 30 days = days 8–30; later = after that.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy.orm import selectinload

from core.extensions import db
from core.i18n import lazy_gettext as _l
from plugins.followup.models import OPEN_STATUSES, Plan
from plugins.followup.planning.plan_services import local_now
from plugins.patients.models import Patient

BUCKETS = ("overdue", "today", "week", "month", "later")
BUCKET_LABELS = {"overdue": _l("Overdue"), "today": _l("Today"), "week": _l("Next 7 days"),
                 "month": _l("Next 30 days"), "later": _l("Later"), "escalated": _l("Escalated")}
VIEWS = ("mine", "team")


@dataclass
class QueueFilter:
    view: str = "mine"
    bucket: str = "today"
    category_id: int | None = None
    method_id: int | None = None
    key_only: bool = False


def bucket_bounds(now: datetime | None = None) -> dict[str, tuple[datetime | None, datetime | None]]:
    """[start, end) of each bucket's due times."""
    now = now or local_now()
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time.min)
    week_end, month_end = tomorrow + timedelta(days=7), tomorrow + timedelta(days=30)
    return {"overdue": (None, now), "today": (now, tomorrow), "week": (tomorrow, week_end),
            "month": (week_end, month_end), "later": (month_end, None)}


def _base(filters: QueueFilter, user_id: int):
    """Open plans of the view with the filters; the ORM adds hospital and data scope."""
    conditions = [Plan.status.in_(OPEN_STATUSES)]
    if filters.view == "mine":
        conditions.append(Plan.owner_id == user_id)
    if filters.category_id:
        conditions.append(Plan.category_id == filters.category_id)
    if filters.method_id:
        conditions.append(Plan.method_id == filters.method_id)
    if filters.key_only:
        conditions.append(Plan.patient_id.in_(sa.select(Patient.id).where(Patient.key_patient.is_(True))))
    return conditions


def _bucket_case(now: datetime):
    bounds = bucket_bounds(now)
    return sa.case(*[(Plan.due_at < bounds[name][1], name) for name in BUCKETS[:-1]], else_="later")


def counts(filters: QueueFilter, user_id: int, now: datetime | None = None) -> dict[str, int]:
    """Plans per bucket (every bucket present) and, under ``escalated``, the escalated ones: one
    statement, run once per request for the same filters (the dashboard's cards share it)."""
    key = ("followup.queue.counts", filters.view, filters.category_id, filters.method_id, filters.key_only, user_id)
    cache = g.setdefault("followup_queue_counts", {}) if has_request_context() else {}
    if key not in cache:
        now = now or local_now()
        bucket = _bucket_case(now).label("bucket")
        rows = db.session.execute(sa.select(bucket, sa.func.count(), sa.func.count(Plan.escalated_at))
                                  .where(*_base(filters, user_id)).group_by(bucket)).all()
        result = dict.fromkeys(BUCKETS, 0) | {name: n for name, n, _escalated in rows}
        result["escalated"] = sum(escalated for _name, _n, escalated in rows)
        cache[key] = result
    return dict(cache[key])


def plans_stmt(filters: QueueFilter, user_id: int, now: datetime | None = None):
    """The selected bucket's plans, soonest first, with what the queue shows loaded."""
    conditions = _base(filters, user_id)
    if filters.bucket == "escalated":
        conditions.append(Plan.escalated_at.is_not(None))
    else:
        start, end = bucket_bounds(now)[filters.bucket]
        if start is not None:
            conditions.append(Plan.due_at >= start)
        if end is not None:
            conditions.append(Plan.due_at < end)
    return (sa.select(Plan).where(*conditions)
            .options(selectinload(Plan.category), selectinload(Plan.method),
                     selectinload(Plan.owner), selectinload(Plan.department))
            .order_by(Plan.due_at, Plan.id))
