"""The hospitals' wall clock.

Times people type and read (visit, discharge and due times, "today", report months) are naive
local times in the deployment's ``i18n.timezone`` (config.yaml, default Asia/Shanghai), whatever
the server's own zone: hospital servers often run in UTC. Bookkeeping stamps (``created_at``,
audit times) are naive UTC (``core.models.utcnow``); ``local_sql`` converts such a column in SQL
when a report groups by local day or month.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: No wall-clock time before this is taken: nothing a hospital records happened earlier, and before
#: the time zones were set the zone database answers local mean time (Asia/Shanghai: +08:05:43
#: until the end of 1900).
EARLIEST = datetime(1901, 1, 1)


def zone() -> ZoneInfo:
    name = current_app.extensions["hcrm"].config.timezone if has_app_context() else DEFAULT_TIMEZONE
    return ZoneInfo(name)


def local_now() -> datetime:
    """Now on the hospitals' wall clock, naive, to the second."""
    return datetime.now(zone()).replace(tzinfo=None, microsecond=0)


def local_today() -> date:
    return datetime.now(zone()).date()


def utc_to_local(value: datetime | None) -> datetime | None:
    """A naive UTC stamp as naive local wall-clock time."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(zone()).replace(tzinfo=None)


def local_sql(column, dialect_name: str):
    """SQL for a naive-UTC datetime column as naive local time.

    PostgreSQL converts with the zone's full rules. SQLite has no zone database, so it shifts by
    the zone's current UTC offset: exact for zones without daylight saving (all of China), off by
    the DST hour for rows on the other side of a change elsewhere.
    """
    name = zone().key
    if dialect_name == "postgresql":
        return sa.func.timezone(name, sa.func.timezone("UTC", column))
    offset = datetime.now(zone()).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return sa.func.datetime(column, f"{minutes:+d} minutes")


def local_to_utc(value: datetime) -> datetime:
    """A naive local wall-clock time as the naive UTC stamp to compare ``created_at`` with."""
    return value.replace(tzinfo=zone()).astimezone(UTC).replace(tzinfo=None)


# -- showing times: one path for every page, export and message ---------------------------------
#: Babel patterns: the same digits in every language (hospitals read and sort ISO-like times).
FORMATS = {"date": "yyyy-MM-dd", "minute": "yyyy-MM-dd HH:mm", "second": "yyyy-MM-dd HH:mm:ss",
           "time": "HH:mm", "short": "MM-dd HH:mm"}


def show_stamp(value: datetime | None, precision: str = "minute") -> str:
    """A naive UTC bookkeeping stamp (``created_at``, sign-ins, audit times) as the hospitals'
    wall clock, through Flask-Babel's time zone (``BABEL_DEFAULT_TIMEZONE`` = ``i18n.timezone``)."""
    from flask_babel import format_datetime
    if value is None:
        return ""
    return format_datetime(value, FORMATS[precision])


def show_wall(value: datetime | date | None, precision: str = "minute") -> str:
    """A time already on the hospitals' wall clock (a visit, a due time, a typed date), as is."""
    from flask_babel import format_date, format_datetime
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return format_date(value, FORMATS["date"])
    return format_datetime(value, FORMATS[precision], rebase=False)
