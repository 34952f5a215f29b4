"""Dashboard cards: today's follow-ups for me (seed §8 今日随访计划), overdue (mine, and my
department's for supervisors, with the escalated ones), this month's phone follow-ups (seed §8
shows them apart from the SMS, which the outreach part's card counts). The
counts come from the work queue's own statements, so a card never disagrees with the list it
opens; both run in the request's scope (the chosen hospital, the user's data scope)."""
from __future__ import annotations

from datetime import datetime, time

import sqlalchemy as sa
from flask import url_for
from flask_login import current_user

from core.dashboard import daily_trend
from core.declarations import Widget, WidgetData
from core.extensions import db
from core.i18n import gettext as _
from core.permissions import can
from plugins.followup.models import Method, Plan, Round
from plugins.followup.planning.plan_services import local_now, patient_briefs
from plugins.followup.planning.queue import QueueFilter, counts, plans_stmt

CARD_ITEMS = 5
CONTENT_CHARS = 24
PHONE_METHOD = "phone"


def today_card() -> WidgetData:
    """The queue's "today" bucket of my plans: the same statement as the list the card opens."""
    now = local_now()
    mine = QueueFilter(view="mine", bucket="today")
    plans = db.session.execute(plans_stmt(mine, current_user.id, now).limit(CARD_ITEMS)).scalars().all()
    patients = patient_briefs(p.patient_id for p in plans)
    return WidgetData(title=_("Today's follow-ups for me"), value=counts(mine, current_user.id, now)["today"],
                      trend=daily_trend(Plan.due_at, now.date(), Plan.owner_id == current_user.id),
                      icon="telephone-outbound", url=url_for("followup.queue", bucket="today"),
                      items=[(_item_label(p, patients[p.patient_id].name), "", url_for("followup.plan", plan_id=p.id))
                             for p in plans])


def _item_label(plan, name: str) -> str:
    """Due time, patient and the start of what the plan is about (its content)."""
    content = " ".join((plan.content or "").split())
    if len(content) > CONTENT_CHARS:
        content = content[:CONTENT_CHARS - 1] + "…"
    return f"{plan.due_at:%H:%M} {name}" + (f" · {content}" if content else "")


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


def _phone_rounds():
    """Rounds by telephone: by the hospital's method coded ``phone`` (the default list's 电话)."""
    return Round.method_id.in_(sa.select(Method.id).where(Method.code == PHONE_METHOD))


def month_calls_card() -> WidgetData:
    """This month's phone follow-ups (seed §8: 本月电话统计), mine and reached among them, with the
    last 30 days' calls per day."""
    now = local_now()
    start = datetime.combine(now.date().replace(day=1), time.min)
    total, mine, reached = db.session.execute(
        sa.select(sa.func.count(), sa.func.count().filter(Round.user_id == current_user.id),
                  sa.func.count().filter(Round.reached.is_(True)))
        .where(Round.at >= start, Round.at <= now, _phone_rounds())).one()
    return WidgetData(title=_("Phone follow-ups this month"), value=total, icon="telephone",
                      subtitle=_("%(mine)d by me · %(reached)d reached", mine=mine, reached=reached),
                      url=_report_url(), trend=daily_trend(Round.at, now.date(), _phone_rounds()))


def _report_url() -> str | None:
    if not can("followup.reports"):
        return None
    return url_for("reports.report", report_id="followup.method_crosstab")


def widgets() -> list[Widget]:
    return [Widget("followup.today", "followup.read", today_card, order=20),
            Widget("followup.overdue", "followup.read", overdue_card, order=21),
            Widget("followup.month_calls", "followup.read", month_calls_card, order=22)]
