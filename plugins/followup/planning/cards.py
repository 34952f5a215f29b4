"""Dashboard cards: today's follow-ups for me (seed §8 今日随访计划), overdue (mine, and my
department's for supervisors, with the escalated ones), this month's follow-up calls."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _
from flask_login import current_user

from core.declarations import Widget, WidgetData
from core.extensions import db
from core.permissions import can
from plugins.followup.models import OPEN_STATUSES, Plan, Round
from plugins.followup.planning.plan_services import local_now, overdue_condition, patient_briefs

CARD_ITEMS = 5


def _count(*conditions) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Plan).where(*conditions)).scalar_one()


def today_card() -> WidgetData:
    now = local_now()
    start, end = datetime.combine(now.date(), time.min), datetime.combine(now.date() + timedelta(days=1), time.min)
    mine_today = (Plan.owner_id == current_user.id, Plan.status.in_(OPEN_STATUSES), Plan.due_at >= start,
                  Plan.due_at < end)
    plans = db.session.execute(sa.select(Plan).where(*mine_today).order_by(Plan.due_at).limit(CARD_ITEMS)
                               ).scalars().all()
    patients = patient_briefs(p.patient_id for p in plans)
    return WidgetData(title=_("Today's follow-ups for me"), value=_count(*mine_today), icon="telephone-outbound",
                      url=url_for("followup.queue", bucket="today"),
                      items=[(f"{p.due_at:%H:%M} {patients[p.patient_id].name}", "", url_for("followup.plan", plan_id=p.id))
                             for p in plans])


def overdue_card() -> WidgetData:
    mine = _count(Plan.owner_id == current_user.id, overdue_condition())
    items = [(_("Mine"), mine, url_for("followup.queue", bucket="overdue"))]
    if can("followup.supervise"):
        items.append((_("My department(s)"), _count(overdue_condition()),
                      url_for("followup.queue", view="team", bucket="overdue")))
        items.append((_("Escalated"), _count(Plan.status.in_(OPEN_STATUSES), Plan.escalated_at.is_not(None)),
                      url_for("followup.queue", view="team", bucket="escalated")))
    return WidgetData(title=_("Overdue follow-ups"), value=mine, icon="alarm", items=items,
                      url=url_for("followup.queue", bucket="overdue"))


def month_rounds_card() -> WidgetData:
    now = local_now()
    start = datetime.combine(now.date().replace(day=1), time.min)
    in_month = (Round.at >= start, Round.at <= now)
    total, mine, reached = db.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(Round.user_id == current_user.id),
                  sa.func.count().filter(Round.reached.is_(True))).where(*in_month)).one()
    return WidgetData(title=_("Follow-up calls this month"), value=total, icon="headset",
                      subtitle=_("%(mine)d by me · %(reached)d reached", mine=mine, reached=reached))


def widgets() -> list[Widget]:
    return [Widget("followup.today", "followup.read", today_card, order=20),
            Widget("followup.overdue", "followup.read", overdue_card, order=21),
            Widget("followup.month_rounds", "followup.read", month_rounds_card, order=22)]
