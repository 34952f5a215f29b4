"""The hospital's complaint settings, channels, categories (with their reply limits) and calendar."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from core.choices import next_position
from core.extensions import db
from core.i18n import gettext as _
from core.models import User

from .errors import ComplaintInvalid
from .models import CalendarDay, ComplaintCategory, ComplaintChannel, ComplaintSettings

MAX_LIMIT_DAYS = 60


def settings() -> ComplaintSettings:
    """The current hospital's settings row (created with the defaults when missing)."""
    row = db.session.execute(sa.select(ComplaintSettings)).scalar_one_or_none()
    if row is None:
        row = ComplaintSettings(due_soon_days=1, survey_threshold=2, public_intake=True, public_max_per_hour=5)
        db.session.add(row)
        db.session.flush()
    return row


def _int(data: dict, key: str, errors: dict, *, low: int, high: int, required: bool = True) -> int | None:
    value = data.get(key)
    if value in (None, "") and not required:
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors[key] = _("Enter a whole number.")
        return None
    if not low <= number <= high:
        errors[key] = _("Enter a number from %(low)d to %(high)d.", low=low, high=high)
        return None
    return number


def _text(data: dict, key: str, errors: dict, *, limit: int, required: bool = False) -> str | None:
    value = str(data.get(key) or "").strip()
    if required and not value:
        errors[key] = _("This field is required.")
    elif len(value) > limit:
        errors[key] = _("At most %(n)d characters.", n=limit)
    return value or None


def update_settings(data: dict) -> ComplaintSettings:
    errors: dict[str, str] = {}
    row = settings()
    due_soon = _int(data, "due_soon_days", errors, low=0, high=10)
    threshold = _int(data, "survey_threshold", errors, low=1, high=10, required=False)
    per_hour = _int(data, "public_max_per_hour", errors, low=1, high=100)
    supervisor_id = data.get("supervisor_id") or None
    if supervisor_id is not None:
        try:
            supervisor_id = int(supervisor_id)
        except (TypeError, ValueError):
            supervisor_id = -1
        if db.session.execute(sa.select(User.id).where(User.id == supervisor_id)).first() is None:
            errors["supervisor_id"] = _("Unknown user: choose a user of this hospital.")
    if errors:
        raise ComplaintInvalid(errors)
    row.due_soon_days, row.survey_threshold, row.public_max_per_hour = due_soon, threshold, per_hour
    row.public_intake = bool(data.get("public_intake"))
    row.supervisor_id = supervisor_id
    return row


def _save_choice(model, data: dict, row, errors: dict):
    """Name, code (new rows) and active flag of a channel or category; the row, added when new."""
    name = _text(data, "name", errors, limit=64, required=True)
    code = _text(data, "code", errors, limit=32, required=row is None)
    if row is None and code and db.session.execute(sa.select(model.id).where(model.code == code)).first():
        errors["code"] = _("This code is already used.")
    if errors:
        raise ComplaintInvalid(errors)
    if row is None:
        row = model(code=code, position=next_position(model))
        db.session.add(row)
    row.name = name
    row.active = bool(data.get("active", True))
    return row


def save_category(data: dict, category: ComplaintCategory | None = None) -> ComplaintCategory:
    """Create or change a category; reply limits are working days, 1 to 60 (0 or negative refused)."""
    errors: dict[str, str] = {}
    reply = _int(data, "reply_days", errors, low=1, high=MAX_LIMIT_DAYS)
    multi = _int(data, "multi_reply_days", errors, low=1, high=MAX_LIMIT_DAYS)
    if reply is not None and multi is not None and multi < reply:
        errors["multi_reply_days"] = _("The limit for several departments cannot be shorter than the single one.")
    category = _save_choice(ComplaintCategory, data, category, errors)
    category.reply_days, category.multi_reply_days = reply, multi
    category.positive = bool(data.get("positive"))
    return category


def save_channel(data: dict, channel: ComplaintChannel | None = None) -> ComplaintChannel:
    return _save_choice(ComplaintChannel, data, channel, {})


def save_calendar_day(day: date | None, working: bool, note: str | None) -> CalendarDay:
    if day is None:
        raise ComplaintInvalid({"day": _("Enter a date.")})
    if note and len(note) > 100:
        raise ComplaintInvalid({"note": _("At most %(n)d characters.", n=100)})
    row = db.session.execute(sa.select(CalendarDay).where(CalendarDay.day == day)).scalar_one_or_none()
    if row is None:
        row = CalendarDay(day=day)
        db.session.add(row)
    row.working, row.note = working, (note or "").strip() or None
    return row


def calendar_days(year: int | None = None) -> list[CalendarDay]:
    stmt = sa.select(CalendarDay).order_by(CalendarDay.day)
    if year:
        stmt = stmt.where(CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31))
    return db.session.execute(stmt).scalars().all()
