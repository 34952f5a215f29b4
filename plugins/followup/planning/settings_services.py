"""Follow-up settings: methods (shared or a doctor's own), categories, the escalation delay.

A method added by a user is either shared with the hospital or private to its author (seed
§3.2.1): a private method shows only in its author's choices. Deactivated rows stay on the plans
and rules that use them and leave the choice lists.
"""
from __future__ import annotations

import re

import sqlalchemy as sa

from core import choices
from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import Category, Method, Settings
from plugins.followup.planning.errors import FollowupInvalid

NAME_MAX = 64
ESCALATE_MIN_HOURS, ESCALATE_MAX_HOURS = 1, 24 * 30


def settings() -> Settings:
    """The hospital's settings row (created with the defaults when missing)."""
    row = db.session.execute(sa.select(Settings)).scalar_one_or_none()
    if row is None:
        row = Settings(escalate_after_hours=24)
        db.session.add(row)
        db.session.flush()
    return row


def set_escalation_delay(value) -> Settings:
    try:
        hours = int(str(value).strip())
    except (TypeError, ValueError):
        raise FollowupInvalid({"escalate_after_hours": _("Enter a whole number of hours.")}) from None
    if not ESCALATE_MIN_HOURS <= hours <= ESCALATE_MAX_HOURS:
        raise FollowupInvalid({"escalate_after_hours": _("Enter between %(low)d and %(high)d hours.",
                                                         low=ESCALATE_MIN_HOURS, high=ESCALATE_MAX_HOURS)})
    row = settings()
    row.escalate_after_hours = hours
    return row


# -- choices ------------------------------------------------------------------------------------
def visible_methods(user_id: int | None, *, active_only: bool = True) -> list[Method]:
    """Shared methods and the user's own private ones, in their order."""
    return choices.ordered(Method, active_only=active_only,
                           where=[sa.or_(Method.shared.is_(True), Method.created_by_id == user_id)])


def categories(*, active_only: bool = True) -> list[Category]:
    return choices.ordered(Category, active_only=active_only)


def usable_method(method_id, user_id: int | None, *, shared_only: bool = False) -> Method | None:
    """The active method ``method_id`` if this user may choose it (shared, or their own)."""
    try:
        method_id = int(method_id)
    except (TypeError, ValueError):
        return None
    method = db.session.execute(sa.select(Method).where(Method.id == method_id, Method.active.is_(True))
                                ).scalar_one_or_none()
    if method is None or (not method.shared and (shared_only or method.created_by_id != user_id)):
        return None
    return method


def active_category(category_id) -> Category | None:
    try:
        category_id = int(category_id)
    except (TypeError, ValueError):
        return None
    return db.session.execute(sa.select(Category).where(Category.id == category_id, Category.active.is_(True))
                              ).scalar_one_or_none()


# -- adding and changing ------------------------------------------------------------------------
def _clean_name(model, name, exclude_id=None) -> str:
    name = (name or "").strip()
    if not name:
        raise FollowupInvalid({"name": _("Enter a name.")})
    if len(name) > NAME_MAX:
        raise FollowupInvalid({"name": _("At most %(n)d characters.", n=NAME_MAX)})
    clash = sa.select(model.id).where(sa.func.lower(model.name) == name.lower())
    if exclude_id is not None:
        clash = clash.where(model.id != exclude_id)
    if model is Method:  # another user's private method does not clash
        clash = clash.where(Method.shared.is_(True))
    if db.session.execute(clash.limit(1)).first() is not None:
        raise FollowupInvalid({"name": _("“%(name)s” exists already.", name=name)})
    return name


def _new_code(model, prefix: str) -> str:
    codes = set(db.session.execute(sa.select(model.code).where(model.code.like(f"{prefix}%"))).scalars())
    numbers = [int(m.group(1)) for c in codes if (m := re.fullmatch(rf"{prefix}(\d+)", c))]
    return f"{prefix}{max(numbers, default=0) + 1}"


def add_method(name, *, shared: bool, sends_sms: bool, user_id: int | None) -> Method:
    method = Method(code=_new_code(Method, "custom_"), name=_clean_name(Method, name), shared=bool(shared),
                    sends_sms=bool(sends_sms), created_by_id=user_id, position=choices.next_position(Method))
    db.session.add(method)
    db.session.flush()
    return method


def may_manage_method(method: Method, user_id: int | None, is_settings_admin: bool) -> bool:
    """Settings administrators manage every method; a user manages the methods they added."""
    return is_settings_admin or (method.created_by_id is not None and method.created_by_id == user_id)


def change_method(method: Method, *, name=None, shared=None, sends_sms=None, active=None) -> Method:
    if name is not None:
        method.name = _clean_name(Method, name, exclude_id=method.id)
    if shared is not None:
        method.shared = bool(shared)
    if sends_sms is not None:
        method.sends_sms = bool(sends_sms)
    if active is not None:
        method.active = bool(active)
    return method


def add_category(name) -> Category:
    category = Category(code=_new_code(Category, "custom_"), name=_clean_name(Category, name),
                        position=choices.next_position(Category))
    db.session.add(category)
    db.session.flush()
    return category


def change_category(category: Category, *, name=None, active=None) -> Category:
    if name is not None:
        category.name = _clean_name(Category, name, exclude_id=category.id)
    if active is not None:
        category.active = bool(active)
    return category
