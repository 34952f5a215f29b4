"""Escalation to the complaint office supervisor (a periodic job on the core's queue): open
complaints past their reply deadline are flagged once (``escalated_at``) and counted, as are those
due within the hospital's "due soon" working days. Supervisors see both on their dashboard card
and in the list (``overdue``); the job logs the counts, like the follow-up centre's escalation."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app

from core.clock import local_today
from core.extensions import db
from core.models import utcnow

from . import workdays
from .models import OPEN_STATUSES, Complaint
from .queries import overdue_condition
from .settings_services import settings


def due_soon_until(today: date | None = None) -> date:
    today = today or local_today()
    days = settings().due_soon_days
    return workdays.add_working_days(today, days) if days > 0 else today


def due_soon_filters(today: date | None = None) -> dict:
    """The list's filters for "open, due from today to the due-soon limit"."""
    return {"status": list(OPEN_STATUSES), "due_from": today or local_today(), "due_to": due_soon_until(today)}


def escalate(today: date | None = None) -> int:
    """Flag the hospital's overdue open complaints not flagged yet; how many were flagged now."""
    stmt = (sa.update(Complaint).where(overdue_condition(today), Complaint.escalated_at.is_(None))
            .values(escalated_at=utcnow()).execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount or 0


def run_escalation(hospital) -> dict:
    """The ``complaints.escalate`` job for one hospital (in its scope, see core.queue)."""
    today = local_today()
    overdue = db.session.execute(sa.select(sa.func.count()).select_from(Complaint)
                                 .where(overdue_condition(today))).scalar_one()
    until = due_soon_until(today)
    soon = db.session.execute(sa.select(sa.func.count()).select_from(Complaint).where(
        Complaint.status.in_(OPEN_STATUSES), Complaint.due_date >= today, Complaint.due_date <= until)).scalar_one()
    counts = {"overdue": overdue, "due_soon": soon, "escalated": escalate(today)}
    supervisor = settings().supervisor
    current_app.logger.info("complaints.escalate %s: %d overdue (%d newly escalated to %s), %d due soon",
                            hospital.code, counts["overdue"], counts["escalated"],
                            supervisor.username if supervisor else "the complaint office", counts["due_soon"])
    return counts
