"""Churn warnings (流失预警): the patients the last re-score flagged (see value.py), listed per
owner and department in the user's data scope, and "create follow-up plans for these" through
the hook the followup plugin publishes (vip does not import it; nothing happens where it is off)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from core import events
from core.activation import live_plugins
from core.clock import local_today
from core.extensions import db
from core.i18n import gettext as _
from core.tenancy import current_scope
from plugins.vip.models import Score

MAX_REQUESTS = 2000  # plans asked for at once


def followup_live() -> bool:
    scope = current_scope()
    return scope is not None and scope.hospital_id is not None and "followup" in live_plugins(scope.hospital_id)


def churn_stmt(filters: dict):
    # Scores exist for live patients only (a merge deletes the duplicate's) and carry the
    # patient's owner and department, so the list needs no join: the partial churn indexes
    # give it in order.
    stmt = (sa.select(Score).where(Score.churn == sa.true())
            .options(selectinload(Score.patient)).order_by(Score.last_visit_at, Score.patient_id))
    for name in ("owner_id", "department_id"):
        if filters.get(name):
            stmt = stmt.where(getattr(Score, name) == filters[name])
    return stmt


def counts_by(column: str) -> dict:
    rows = db.session.execute(sa.select(getattr(Score, column), sa.func.count()).where(Score.churn == sa.true())
                              .group_by(getattr(Score, column))).all()
    return dict(rows)


def _day(score: Score) -> str:
    return score.last_visit_at.strftime("%Y-%m-%d") if score.last_visit_at else "—"


def request_followups(filters: dict, user_id: int | None) -> int:
    """Ask the followup plugin for a phone follow-up tomorrow 09:00 for each listed patient (up to
    MAX_REQUESTS), assigned to the patient's owner. Returns how many were asked for."""
    if not followup_live():
        return 0
    due = datetime.combine(local_today() + timedelta(days=1), time(9, 0))
    listed = db.session.execute(churn_stmt(filters).limit(MAX_REQUESTS)).scalars().all()
    requests = [{"patient_id": score.patient_id, "due_at": due, "category": "revisit", "method": "phone",
                 "content": _("Churn warning: last visit %(date)s; invite the patient back.", date=_day(score))}
                for score in listed]
    if requests:
        events.emit("followup.plans_requested", requests=requests)
    return len(requests)
