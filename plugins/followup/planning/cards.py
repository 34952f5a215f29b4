"""Dashboard cards: today's follow-ups for me (seed §8 今日随访计划), overdue (mine, and my
department's for supervisors, with the escalated ones), this month's follow-up calls. The
counts come from the work queue's own statements, so a card never disagrees with the list it
opens; both run in the request's scope (the chosen hospital, the user's data scope)."""
from __future__ import annotations

from datetime import datetime, time

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user

from core.declarations import Widget, WidgetData
from core.extensions import db
from core.i18n import gettext as _
from core.permissions import can
from plugins.followup.models import Round
from plugins.followup.planning.plan_services import local_now, patient_briefs
from plugins.followup.planning.queue import QueueFilter, counts, plans_stmt

CARD_ITEMS = 5


def today_card() -> WidgetData:
    """The queue's "today" bucket of my plans: the same statement as the list the card opens."""
    now = local_now()
    mine = QueueFilter(view="mine", bucket="today")
    plans = db.session.execute(plans_stmt(mine, current_user.id, now).limit(CARD_ITEMS)).scalars().all()
    patients = patient_briefs(p.patient_id for p in plans)
    return WidgetData(title=_("Today's follow-ups for me"), value=counts(mine, current_user.id, now)["today"],
                      icon="telephone-outbound", url=url_for("followup.queue", bucket="today"),
                      items=[(f"{p.due_at:%H:%M} {patients[p.patient_id].name}", "", url_for("followup.plan", plan_id=p.id))
                             for p in plans])


def overdue_card() -> WidgetData:
    """Overdue and escalated counts as the queue counts them, so each equals the list it opens."""
    now = local_now()
    mine = counts(QueueFilter(view="mine"), current_user.id, now)["overdue"]
    items = [(_("Mine"), mine, url_for("followup.queue", bucket="overdue"))]
    if can("followup.supervise"):
        team = counts(QueueFilter(view="team"), current_user.id, now)
        items.append((_("My department(s)"), team["overdue"], url_for("followup.queue", view="team", bucket="overdue")))
        items.append((_("Escalated"), team["escalated"], url_for("followup.queue", view="team", bucket="escalated")))
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
