"""Hospital-configurable choice lists: a patient's source channel, a follow-up's category or
method… Each row has a stable ``code`` (what imports, the HIS mapping and the API use), the
``name`` staff see, an ``active`` flag (an inactive choice is hidden from forms but kept on the
records that used it) and a ``position`` in the list.

Queries go through the session, so the tenancy layer keeps them to the current hospital.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr

from core.extensions import db
from core.tenancy import HospitalOwned


class ChoiceList(HospitalOwned):
    """Mixin for a choice list's table; the code is unique within a hospital."""

    @declared_attr.directive
    def __table_args__(cls):
        return (sa.UniqueConstraint("hospital_id", "code"),)

    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(32), nullable=False)
    name = sa.Column(sa.String(64), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    position = sa.Column(sa.Integer, nullable=False, default=0)

    def __str__(self) -> str:
        return self.name


def ordered(model, *, active_only: bool = False, where=()) -> list:
    """The rows of ``model`` in list order (position, then age), optionally only the active ones."""
    stmt = sa.select(model).where(*where).order_by(model.position, model.id)
    if active_only:
        stmt = stmt.where(model.active.is_(True))
    return db.session.execute(stmt).scalars().all()


def next_position(model) -> int:
    """The position that puts a new row last."""
    return (db.session.execute(sa.select(sa.func.max(model.position))).scalar() or 0) + 1


def move(row, step: int) -> None:
    """Move ``row`` one place up (``step`` < 0) or down in its list, renumbering the list;
    the caller commits."""
    rows = ordered(type(row))
    index = rows.index(row)
    target = index + (1 if step > 0 else -1)
    if 0 <= target < len(rows):
        rows[index], rows[target] = rows[target], rows[index]
    for position, item in enumerate(rows):
        item.position = position
