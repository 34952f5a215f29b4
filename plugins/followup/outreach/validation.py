"""Input checks shared by the outreach services, and the error they raise."""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import Category

TRUE_VALUES = (True, 1, "1", "true", "on", "y", "yes")


class OutreachInvalid(ValueError):
    """Input refused; ``errors`` maps each field to its message. Nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def flag(value) -> bool:
    return value in TRUE_VALUES


def category_id(value, errors: dict, field: str = "category_id") -> int | None:
    """A category of this hospital by id (empty: none); an unknown one is an error."""
    if value in (None, "", 0, "0"):
        return None
    try:
        ident = int(value)
    except (TypeError, ValueError):
        ident = None
    if ident is None or db.session.execute(sa.select(Category.id).where(Category.id == ident)).first() is None:
        errors[field] = _("Unknown category: it does not exist in this hospital.")
        return None
    return ident


def text(value, field: str, errors: dict, *, limit: int, required: str | None = None) -> str:
    """Stripped text; ``required`` is the message when it is empty."""
    result = (value or "").strip() if isinstance(value, str) or value is None else str(value).strip()
    if not result and required:
        errors[field] = required
    elif len(result) > limit:
        errors[field] = _("At most %(n)d characters.", n=limit)
    return result


def store(row, values: dict):
    """Set ``values`` on ``row`` (new or existing), save it and commit; return the row."""
    for key, value in values.items():
        setattr(row, key, value)
    db.session.add(row)
    db.session.commit()
    return row
