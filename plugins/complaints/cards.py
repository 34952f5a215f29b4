"""Dashboard cards: this month's complaints (new / open / overdue), each counted with the list's
own statement and linking to the list with the same filters; and, for the office, the escalated
ones (overdue) and those due soon."""
from __future__ import annotations

from datetime import date

from flask import url_for

from core.clock import local_today
from core.declarations import Widget, WidgetData
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import pgettext
from core.paging import count_rows

from .escalation import due_soon_filters
from .models import OPEN_STATUSES, Complaint
from .queries import list_statement

OLDEST_SHOWN = 5  # the longest overdue complaints, listed on the office's card


def count_listed(filters: dict) -> int:
    """How many complaints the list shows with ``filters``: its own statement, counted."""
    return count_rows(list_statement(filters))[0]


def month_card(today: date | None = None) -> WidgetData:
    today = today or local_today()
    since = date(today.year, today.month, 1)
    month = {"received_from": since}
    opened = {"status": list(OPEN_STATUSES)}
    overdue = {"overdue": True}
    return WidgetData(
        title=_("Complaints this month"), value=count_listed(month), subtitle=_("received"), icon="megaphone",
        url=url_for("complaints.index", received_from=since.isoformat()),
        items=[(pgettext("complaint status", "New"), count_listed({**month, "status": ["new"]}),
                url_for("complaints.index", received_from=since.isoformat(), status="new")),
               (pgettext("complaints card", "Open"), count_listed(opened), url_for("complaints.index", status=list(OPEN_STATUSES))),
               (_("Overdue"), count_listed(overdue), url_for("complaints.index", overdue="true"))])


def escalation_card() -> WidgetData | None:
    overdue = count_listed({"overdue": True})
    soon_filters = due_soon_filters()
    soon = count_listed(soon_filters)
    if not overdue and not soon:
        return None
    args = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in soon_filters.items()}
    oldest = db.session.execute(list_statement({"overdue": True}).order_by(None)
                                .order_by(Complaint.due_date, Complaint.id).limit(OLDEST_SHOWN)).scalars().all()
    return WidgetData(title=_("Complaints needing a reply"), value=overdue, subtitle=_("overdue"),
                      icon="exclamation-triangle", url=url_for("complaints.index", overdue="true"),
                      items=[(_("Due soon"), soon, url_for("complaints.index", **args))]
                      + [(f"{c.reference} · {c.category.name}", c.due_date.isoformat(),
                          url_for("complaints.detail", complaint_id=c.id)) for c in oldest])


def widgets() -> list[Widget]:
    return [Widget("complaints.month", "complaints.read", month_card, order=40),
            Widget("complaints.escalated", "complaints.close", escalation_card, order=41)]
