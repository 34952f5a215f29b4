"""Dashboard cards contributed by plugins, for the current user and hospital."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, g

from core.clock import local_sql, local_to_utc, local_today
from core.extensions import db
from core.permissions import can, hcrm
from core.plugins import CORE


def widgets_for_current_user() -> list:
    """Render each card the user may see; a failing card is logged and left out, not fatal."""
    live = g.get("hcrm_live", set())
    shown = []
    for widget in hcrm().catalog.widgets:
        if (widget.plugin != CORE and widget.plugin not in live) or not can(widget.permission):
            continue
        try:
            data = widget.render()
        except Exception:
            current_app.logger.exception("dashboard widget %s failed", widget.id)
            continue
        if data is not None:
            shown.append(data)
    return shown


TREND_DAYS = 30


def daily_trend(column, today: date | None = None, *conditions, utc: bool = False, value=None,
                days: int = TREND_DAYS) -> list[tuple[str, float]]:
    """A card's trend: ``value`` (default: a row count) per day of the hospital over the last
    ``days`` days up to ``today``, oldest first, days without rows as 0. One grouped query over
    the period, in the caller's scope. ``column`` is the datetime the day is taken from: the
    hospital's wall-clock time, or a UTC stamp when ``utc`` (registration times, audit times)."""
    today = today or local_today()
    first = today - timedelta(days=days - 1)
    start, end = datetime.combine(first, time.min), datetime.combine(today + timedelta(days=1), time.min)
    if utc:
        start, end = local_to_utc(start), local_to_utc(end)
        day = sa.func.date(local_sql(column, db.session.get_bind().dialect.name))
    else:
        day = sa.func.date(column)
    day = day.label("day")
    rows = db.session.execute(sa.select(day, value if value is not None else sa.func.count())
                              .where(column >= start, column < end, *conditions).group_by(day)).all()
    found = {(d if isinstance(d, date) else date.fromisoformat(str(d))): n for d, n in rows}
    return [((first + timedelta(days=i)).isoformat(), float(found.get(first + timedelta(days=i)) or 0))
            for i in range(days)]
