"""The dashboard card: this month's SMS (sent, failed, waiting), from seed 001 §8's home page."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import url_for

from core.clock import local_now, local_to_utc
from core.dashboard import daily_trend
from core.declarations import WidgetData
from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import SmsMessage


def _month_start(now: datetime) -> datetime:
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_counts(now: datetime | None = None) -> dict[str, int]:
    """Messages created since the 1st of the hospitals' local month, per status."""
    start = local_to_utc(_month_start(now or local_now()))
    rows = db.session.execute(sa.select(SmsMessage.status, sa.func.count()).where(SmsMessage.created_at >= start)
                              .group_by(SmsMessage.status)).all()
    return dict(rows)


def sms_month_card():
    """This month's counts; each links to the outbox filtered the same way (status, since the
    1st), and both run in the request's scope, so a count is the length of the list it opens."""
    now = local_now()
    counts, since = month_counts(now), _month_start(now).date().isoformat()
    return WidgetData(
        title=_("SMS this month"), value=counts.get("sent", 0), subtitle=_("sent"), icon="envelope",
        trend=daily_trend(SmsMessage.created_at, now.date(), SmsMessage.status == "sent", utc=True),
        url=url_for("followup_sms.outbox", status="sent", since=since),
        items=[(_("Waiting"), counts.get("queued", 0), url_for("followup_sms.outbox", status="queued", since=since)),
               (_("Failed"), counts.get("failed", 0), url_for("followup_sms.outbox", status="failed", since=since))])
