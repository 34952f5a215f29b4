"""The complaints list's statement from the shared filters (page, export, API and the cards),
and what the detail needs. Tenancy, data scope and "not about me" apply in the ORM."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import joinedload

from core import clock

from .models import OPEN_STATUSES, Complaint, ComplaintStaff


def list_statement(filters: dict):
    stmt = sa.select(Complaint)
    q = (filters.get("q") or "").strip()
    if q:
        if q.isdigit() and len(q) == 4:
            stmt = stmt.where(Complaint.phone_last4 == q)
        elif q.upper().startswith("TS"):
            stmt = stmt.where(Complaint.reference.startswith(q.upper()))
        else:
            stmt = stmt.where(Complaint.complainant_name.startswith(q))
    if filters.get("status"):
        stmt = stmt.where(Complaint.status.in_(filters["status"]))
    for key, column in (("category_id", Complaint.category_id), ("channel_id", Complaint.channel_id),
                        ("department_id", Complaint.department_id), ("patient_id", Complaint.patient_id),
                        ("severity", Complaint.severity)):
        if filters.get(key) is not None:
            stmt = stmt.where(column == filters[key])
    if filters.get("staff_id"):
        stmt = stmt.where(sa.exists().where(ComplaintStaff.complaint_id == Complaint.id,
                                            ComplaintStaff.user_id == filters["staff_id"]))
    if filters.get("received_from"):
        stmt = stmt.where(Complaint.received_at >= clock.local_to_utc(datetime.combine(filters["received_from"], time())))
    if filters.get("received_to"):
        end = datetime.combine(filters["received_to"] + timedelta(days=1), time())
        stmt = stmt.where(Complaint.received_at < clock.local_to_utc(end))
    if filters.get("due_from"):
        stmt = stmt.where(Complaint.due_date >= filters["due_from"])
    if filters.get("due_to"):
        stmt = stmt.where(Complaint.due_date <= filters["due_to"])
    if filters.get("overdue") is True:
        stmt = stmt.where(overdue_condition())
    return stmt.order_by(Complaint.received_at.desc(), Complaint.id.desc())


def overdue_condition(today=None):
    return sa.and_(Complaint.status.in_(OPEN_STATUSES), Complaint.due_date < (today or clock.local_today()))


def list_loads() -> tuple:
    """Loader options for a page of the list: what each row shows, in the page's own query."""
    return (joinedload(Complaint.channel), joinedload(Complaint.category), joinedload(Complaint.department),
            joinedload(Complaint.handler), joinedload(Complaint.patient))
