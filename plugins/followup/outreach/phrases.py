"""短语库 — the phrase library: reusable follow-up texts (questions, reminders, guidance…).

A shared phrase belongs to the hospital (managed by holders of followup.templates); a private
one to its author only. Everyone sees the shared phrases and their own.
"""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from core.permissions import can
from plugins.followup.models import Phrase
from plugins.followup.outreach import validation
from plugins.followup.outreach.validation import OutreachInvalid

MANAGE = "followup.templates"
MAX_TEXT = 1000


def _visible(user):
    return sa.or_(Phrase.shared.is_(True), Phrase.created_by_id == user.id)


def phrases_for(user, category_id=None) -> list[Phrase]:
    """The phrases ``user`` may use (shared ones and their own), optionally of one category
    (phrases without a category fit every category), in library order."""
    stmt = sa.select(Phrase).where(_visible(user))
    if category_id:
        stmt = stmt.where(sa.or_(Phrase.category_id == int(category_id), Phrase.category_id.is_(None)))
    return db.session.execute(stmt.order_by(Phrase.position, Phrase.id)).scalars().all()


def may_edit(user, phrase: Phrase) -> bool:
    if phrase.shared:
        return can(MANAGE)
    return phrase.created_by_id == user.id


def _clean(data: dict) -> dict:
    errors: dict[str, str] = {}
    text = validation.text(data.get("text"), "text", errors, limit=MAX_TEXT, required=_("Write the phrase."))
    category_id = validation.category_id(data.get("category_id"), errors)
    shared = validation.flag(data.get("shared"))
    if shared and not can(MANAGE):
        errors["shared"] = _("Only phrase library managers may share a phrase with the hospital.")
    if errors:
        raise OutreachInvalid(errors)
    return dict(text=text, category_id=category_id, shared=shared)


def create_phrase(data: dict, user) -> Phrase:
    values = _clean(data)
    last = db.session.execute(sa.select(sa.func.max(Phrase.position))).scalar() or 0
    phrase = Phrase(created_by_id=user.id, position=last + 1, **values)
    db.session.add(phrase)
    db.session.commit()
    return phrase


def update_phrase(phrase: Phrase, data: dict, user) -> Phrase:
    if not may_edit(user, phrase):
        raise OutreachInvalid({"phrase": _("You may only change your own phrases (or, as a manager, shared ones).")})
    return validation.store(phrase, _clean(data))


def delete_phrase(phrase: Phrase, user) -> None:
    if not may_edit(user, phrase):
        raise OutreachInvalid({"phrase": _("You may only delete your own phrases (or, as a manager, shared ones).")})
    db.session.delete(phrase)
    db.session.commit()
