"""The hotline's report and dashboard card. Both run in the user's scope: no hospital filter."""
from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import url_for

from core.clock import local_sql, local_to_utc, local_today
from core.declarations import ReportResult, WidgetData
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from hcrm_hotline import services
from hcrm_hotline.models import Call


def since_a_month_ago():
    return local_today() - timedelta(days=30)


def calls_per_day(params):
    day = sa.func.date(local_sql(Call.received_at, db.engine.dialect.name))   # the hospital's day
    since = local_to_utc(datetime.combine(params["since"], time.min))
    rows = db.session.execute(sa.select(day.label("day"), sa.func.count().label("calls"))
                              .where(Call.received_at >= since)
                              .group_by(day).order_by(day)).all()
    return ReportResult(columns=[("day", _l("Day")), ("calls", _l("Calls"))],
                        rows=[{"day": str(r.day), "calls": r.calls} for r in rows])


def calls_today_card():
    today = local_today()
    # Counted with the statement of the list the card opens, so both always agree.
    count = db.session.execute(services.calls_query(since=today).with_only_columns(sa.func.count())
                               .order_by(None)).scalar_one()
    return WidgetData(title=_("Hotline calls today"), value=count, icon="telephone",
                      url=url_for("hotline.index", since=today.isoformat()))
