"""The hospitals' wall clock.

Times people type and read (visit, discharge and due times, "today", report months) are naive
local times on the clock of the hospital being worked for: its own time zone (hospital management
page, or ``hospitals[].timezone`` in config.yaml), else the deployment's ``i18n.timezone``
(default Asia/Shanghai), whatever the server's own zone: hospital servers often run in UTC. Bookkeeping stamps (``created_at``,
audit times) are naive UTC (``core.models.utcnow``); ``local_sql`` converts such a column in SQL
when a report groups by local day or month.
"""
from __future__ import annotations

from datetime import UTC, date, datetime
from time import monotonic
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, g, has_app_context, has_request_context

DEFAULT_TIMEZONE = "Asia/Shanghai"
#: No wall-clock time before this is taken: nothing a hospital records happened earlier, and before
#: the time zones were set the zone database answers local mean time (Asia/Shanghai: +08:05:43
#: until the end of 1900).
EARLIEST = datetime(1901, 1, 1)


#: How long a worker trusts a hospital's zone read outside a request (jobs, CLI); a request reads
#: it from the hospital row it loads anyway, so pages follow a change at once.
ZONE_CACHE_SECONDS = 30


def _hospital_zone(state, hospital_id: int) -> str | None:
    hospital = g.get("hcrm_hospital") if has_request_context() else None
    if hospital is not None and hospital.id == hospital_id:
        return hospital.timezone
    known = state.zone_cache.get(hospital_id)
    if known is not None and monotonic() - known[0] < ZONE_CACHE_SECONDS:
        return known[1]
    from core.extensions import db
    from core.models import Hospital
    name = db.session.execute(sa.select(Hospital.timezone).where(Hospital.id == hospital_id)).scalar()
    state.zone_cache[hospital_id] = (monotonic(), name)
    return name


def zone_name() -> str:
    """The IANA zone of the hospital being worked for: the tenancy scope's hospital (a job or
    an enable handler on its behalf), else the request's; its own zone or the deployment's."""
    if not has_app_context():
        return DEFAULT_TIMEZONE
    from core.tenancy import current_scope
    state = current_app.extensions["hcrm"]
    scope = current_scope()
    hospital_id = scope.hospital_id if scope is not None else None
    if hospital_id is None and has_request_context() and g.get("hcrm_hospital") is not None:
        hospital_id = g.hcrm_hospital.id
    name = _hospital_zone(state, hospital_id) if hospital_id is not None else None
    return name or state.config.timezone


def forget_zone(hospital_id: int) -> None:
    """After a hospital's zone changed: this worker reads it again (others within the cache time)."""
    current_app.extensions["hcrm"].zone_cache.pop(hospital_id, None)


def zone() -> ZoneInfo:
    return ZoneInfo(zone_name())


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
    """A naive UTC bookkeeping stamp (``created_at``, sign-ins, audit times) as the hospital's
    wall clock, through Flask-Babel's time zone (its selector is :func:`zone_name`)."""
    from flask_babel import format_datetime
    if value is None:
        return ""
    # Converted here rather than by Flask-Babel, which keeps one zone per app context: a job
    # working for several hospitals in turn must not show the first one's clock to the others.
    return format_datetime(utc_to_local(value), FORMATS[precision], rebase=False)


def show_wall(value: datetime | date | None, precision: str = "minute") -> str:
    """A time already on the hospitals' wall clock (a visit, a due time, a typed date), as is."""
    from flask_babel import format_date, format_datetime
    if value is None:
        return ""
    if not isinstance(value, datetime):
        return format_date(value, FORMATS["date"])
    return format_datetime(value, FORMATS[precision], rebase=False)
