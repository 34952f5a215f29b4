"""The dashboard card: this month's SMS (sent, failed, waiting), from seed 001 §8's home page."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask import url_for
from flask_babel import gettext as _

from core.clock import local_now, local_to_utc
from core.declarations import WidgetData
from core.extensions import db
from plugins.followup.models import SmsMessage


def month_counts(now: datetime | None = None) -> dict[str, int]:
    """Messages created since the 1st of the hospitals' local month, per status."""
    now = now or local_now()
    start = local_to_utc(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    rows = db.session.execute(sa.select(SmsMessage.status, sa.func.count()).where(SmsMessage.created_at >= start)
                              .group_by(SmsMessage.status)).all()
    return dict(rows)


def sms_month_card():
    counts = month_counts()
    return WidgetData(
        title=_("SMS this month"), value=counts.get("sent", 0), subtitle=_("sent"), icon="envelope",
        url=url_for("followup_sms.outbox"),
        items=[(_("Waiting"), counts.get("queued", 0), url_for("followup_sms.outbox", status="queued")),
               (_("Failed"), counts.get("failed", 0), url_for("followup_sms.outbox", status="failed"))])
