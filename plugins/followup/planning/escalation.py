"""Overdue escalation: plans overdue by more than the hospital's delay are flagged
(``escalated_at``) once, so supervisors see them in their queue's "escalated" section and on
their dashboard. Overdue itself is derived from the due time; the job logs the counts.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from core.extensions import db
from core.models import utcnow
from plugins.followup.models import OPEN_STATUSES, Plan
from plugins.followup.planning.plan_services import local_now, overdue_condition
from plugins.followup.planning.settings_services import settings


def escalation_cutoff(now: datetime | None = None) -> datetime:
    """Plans due before this (local time) and still open are escalated."""
    return (now or local_now()) - timedelta(hours=settings().escalate_after_hours)


def escalate(now: datetime | None = None) -> int:
    """Flag the current hospital's plans overdue past the delay and not yet flagged; returns how
    many were flagged now (0 when run again)."""
    stmt = (sa.update(Plan)
            .where(Plan.status.in_(OPEN_STATUSES), Plan.escalated_at.is_(None), Plan.due_at < escalation_cutoff(now))
            .values(escalated_at=utcnow())
            .execution_options(synchronize_session=False))
    return db.session.execute(stmt).rowcount or 0


def overdue_count(now: datetime | None = None) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Plan).where(overdue_condition(now))).scalar_one()


def run_escalation(hospital) -> dict:
    """The ``followup.escalate`` job for one hospital (run in its scope by core.jobs)."""
    counts = {"overdue": overdue_count(), "escalated": escalate()}
    current_app.logger.info("followup.escalate %s: %d overdue, %d newly escalated", hospital.code,
                            counts["overdue"], counts["escalated"])
    return counts
