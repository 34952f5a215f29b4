"""Working days on the Chinese calendar (statutory holidays and adjusted working days, from the
``chinesecalendar`` package) plus the days a hospital enters itself (closures, extra working days).

The package knows only the years already announced. For a later year the calendar falls back to
weekends plus the hospital's own days: a deadline never crashes; ``uncovered_years`` lets the
settings page warn while next year's official arrangement is missing, so nobody mistakes the
fallback for the official calendar.
"""
from __future__ import annotations

import functools
from datetime import date, timedelta

import chinese_calendar
import sqlalchemy as sa

from core.extensions import db

from .models import CalendarDay

#: A deadline further than this many calendar days away is refused as a configuration mistake.
MAX_SPAN_DAYS = 366 * 2


@functools.lru_cache(maxsize=64)
def official_year(year: int) -> bool:
    """Whether the package carries the official arrangement of ``year``."""
    try:
        chinese_calendar.is_workday(date(year, 6, 1))
    except NotImplementedError:
        return False
    return True


def uncovered_years(today: date) -> list[int]:
    """This year and next year, where the official arrangement is not known yet."""
    return [year for year in (today.year, today.year + 1) if not official_year(year)]


def hospital_days(start: date, end: date) -> dict[date, bool]:
    """The current hospital's own entries between ``start`` and ``end`` (day → working)."""
    rows = db.session.execute(sa.select(CalendarDay.day, CalendarDay.working)
                              .where(CalendarDay.day >= start, CalendarDay.day <= end)).all()
    return {row.day: row.working for row in rows}


def is_working_day(day: date, own: dict[date, bool] | None = None) -> bool:
    """A hospital's own entry first; then the official calendar; beyond it Monday–Friday."""
    if own and day in own:
        return own[day]
    if official_year(day.year):
        return chinese_calendar.is_workday(day)
    return day.weekday() < 5


def add_working_days(start: date, days: int) -> date:
    """The ``days``-th working day after ``start`` (the day of receipt does not count).
    Raises ValueError for a count that is not positive."""
    if days <= 0:
        raise ValueError("the number of working days must be positive")
    own = hospital_days(start, start + timedelta(days=MAX_SPAN_DAYS))
    day, counted = start, 0
    while counted < days:
        day += timedelta(days=1)
        if (day - start).days > MAX_SPAN_DAYS:
            raise ValueError("no working day found within two years: check the hospital's closures")
        if is_working_day(day, own):
            counted += 1
    return day


def working_days_between(start: date, end: date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when ``end`` <= ``start``)."""
    if end <= start:
        return 0
    own = hospital_days(start, end)
    return sum(1 for n in range(1, (end - start).days + 1) if is_working_day(start + timedelta(days=n), own))
