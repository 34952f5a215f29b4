"""Rules (回访曲线): validation and changes. Plan generation itself is in generation.py.

A rule says "when a visit of kind K in department D (optionally with diagnoses starting with
these codes) is recorded / discharged, plan a follow-up at each offset after the visit or the
discharge, by method M, category C, assigned to the visit's doctor / the patient's owner /
a member of a role / a named user". Offsets are written ``24h``, ``7d``, ``30d`` (a bare number
is days) and stored in minutes.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from core import clock
from core.extensions import db
from core.i18n import gettext as _
from core.models import Department, Role, User
from plugins.followup.models import ASSIGN_TO, RULE_TRIGGERS, Plan, Questionnaire, Rule, RuleDisease, RuleStep
from plugins.followup.planning.errors import FollowupInvalid, PlanStateError
from plugins.followup.planning.settings_services import active_category, usable_method
from plugins.patients.models import VISIT_KINDS, Disease

MINUTES = {"d": 1440, "h": 60, "m": 1}
MAX_OFFSET_MINUTES = 3 * 366 * 1440  # three years: further than that is a reminder, not a follow-up
MAX_STEPS = 20
MAX_DISEASES = 50
OFFSET_RE = re.compile(r"([+-]?)\s*(\d{1,7})\s*([dhm]?)", re.IGNORECASE)
DISEASE_RE = re.compile(r"[A-Z][0-9A-Z.]{0,15}")
NAME_MAX = 100
# A new rule applies to visits whose trigger time is at most this old: the HIS syncs with some
# lag (yesterday's discharges arrive today), while older visits need an explicit apply_since.
RECENT_VISITS = timedelta(days=7)
FIELDS = ("name", "active", "trigger", "visit_kind", "department_id", "category_id", "method_id", "assign_to",
          "assignee_role_id", "assignee_user_id", "content", "questionnaire_id", "offsets", "disease_codes")


def format_offset(minutes: int) -> str:
    for unit in ("d", "h"):
        if minutes % MINUTES[unit] == 0:
            return f"{minutes // MINUTES[unit]}{unit}"
    return f"{minutes}m"


def _items(value) -> list:
    """A list, or text separated by commas / spaces / Chinese commas."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [part for part in re.split(r"[\s,，、;；]+", str(value)) if part]


def parse_offsets(value) -> list[int]:
    """Offsets in minutes, ascending; raises FollowupInvalid naming the bad entry."""
    minutes: list[int] = []
    for raw in _items(value):
        text = str(raw).strip()
        match = OFFSET_RE.fullmatch(text)
        if match is None or isinstance(raw, bool):
            raise FollowupInvalid({"offsets": _("“%(value)s” is not an offset: write 24h, 7d or 30d.", value=text)})
        sign, number, unit = match.groups()
        amount = int(number) * MINUTES[(unit or "d").lower()]
        if sign == "-" or amount <= 0:
            raise FollowupInvalid({"offsets": _("“%(value)s”: a follow-up comes after the visit; "
                                                "offsets must be positive.", value=text)})
        if amount > MAX_OFFSET_MINUTES:
            raise FollowupInvalid({"offsets": _("“%(value)s” is more than 3 years after the visit.", value=text)})
        if amount in minutes:
            raise FollowupInvalid({"offsets": _("“%(value)s” is given twice.", value=text)})
        minutes.append(amount)
    if not minutes:
        raise FollowupInvalid({"offsets": _("Give at least one offset, e.g. 1d, 7d, 30d.")})
    if len(minutes) > MAX_STEPS:
        raise FollowupInvalid({"offsets": _("At most %(n)d offsets per rule.", n=MAX_STEPS)})
    return sorted(minutes)


def parse_disease_codes(value) -> list[str]:
    """ICD-10 code prefixes (``I10`` matches I10 and I10.x), each matching the catalogue."""
    codes: list[str] = []
    for raw in _items(value):
        code = str(raw).strip().upper()
        if not DISEASE_RE.fullmatch(code):
            raise FollowupInvalid({"disease_codes": _("“%(code)s” is not an ICD-10 code or prefix.", code=raw)})
        if code not in codes:
            codes.append(code)
    if len(codes) > MAX_DISEASES:
        raise FollowupInvalid({"disease_codes": _("At most %(n)d disease codes per rule.", n=MAX_DISEASES)})
    for code in codes:
        if db.session.execute(sa.select(Disease.id).where(Disease.code.like(code + "%")).limit(1)).first() is None:
            raise FollowupInvalid({"disease_codes": _("No disease of the catalogue starts with “%(code)s”.",
                                                      code=code)})
    return codes


def _reference(model, value, field: str, errors: dict, *extra):
    if value in (None, ""):
        return None
    try:
        ident = int(value)
    except (TypeError, ValueError):
        errors[field] = _("Unknown choice: it does not exist in this hospital.")
        return None
    row = db.session.execute(sa.select(model).where(model.id == ident, *extra)).scalar_one_or_none()
    if row is None:
        errors[field] = _("Unknown choice: it does not exist in this hospital.")
    return row


def clean_rule(data: dict, user_id: int | None = None) -> dict:
    """Check a whole rule (every field); returns the values to store, or raises FollowupInvalid
    with every field's problem at once."""
    unknown = set(data) - set(FIELDS)
    if unknown:
        raise FollowupInvalid({name: _("Unknown field.") for name in sorted(unknown)})
    errors: dict[str, str] = {}
    values: dict = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = _("Enter a name.")
    elif len(name) > NAME_MAX:
        errors["name"] = _("At most %(n)d characters.", n=NAME_MAX)
    values["name"] = name
    values["active"] = bool(data.get("active", True))
    values["trigger"] = data.get("trigger") or "discharged"
    if values["trigger"] not in RULE_TRIGGERS:
        errors["trigger"] = _("Choose “recorded”, “discharged” or “birthday”.")
    values["visit_kind"] = data.get("visit_kind") or None
    if values["visit_kind"] is not None and values["visit_kind"] not in VISIT_KINDS:
        errors["visit_kind"] = _("Unknown visit kind.")
    elif values["visit_kind"] is not None and values["trigger"] == "birthday":
        errors["visit_kind"] = _("A birthday rule greets patients, not visits: leave the visit kind empty.")
    department = _reference(Department, data.get("department_id"), "department_id", errors, Department.active.is_(True))
    values["department_id"] = department.id if department else None
    category = active_category(data.get("category_id"))
    if category is None:
        errors["category_id"] = _("Choose an active category of this hospital.")
    values["category_id"] = category.id if category else None
    method = usable_method(data.get("method_id"), user_id, shared_only=True)
    if method is None:
        errors["method_id"] = _("Choose an active shared method of this hospital.")
    values["method_id"] = method.id if method else None
    questionnaire = _reference(Questionnaire, data.get("questionnaire_id"), "questionnaire_id", errors,
                               Questionnaire.active.is_(True))
    values["questionnaire_id"] = questionnaire.id if questionnaire else None
    values["assign_to"] = data.get("assign_to") or "doctor"
    values["assignee_role_id"] = values["assignee_user_id"] = None
    if values["assign_to"] not in ASSIGN_TO:
        errors["assign_to"] = _("Choose the visit's doctor, the patient's owner, a role or a user.")
    elif values["assign_to"] == "role":
        role = _reference(Role, data.get("assignee_role_id"), "assignee_role_id", errors)
        if role is None:
            errors.setdefault("assignee_role_id", _("Choose the role whose member gets the plans."))
        values["assignee_role_id"] = role.id if role else None
    elif values["assign_to"] == "user":
        user = _reference(User, data.get("assignee_user_id"), "assignee_user_id", errors, User.active.is_(True))
        if user is None:
            errors.setdefault("assignee_user_id", _("Choose the user who gets the plans."))
        values["assignee_user_id"] = user.id if user else None
    values["content"] = (data.get("content") or "").strip() or None
    for field, parser in (("offsets", parse_offsets), ("disease_codes", parse_disease_codes)):
        try:
            values[field] = parser(data.get(field))
        except FollowupInvalid as exc:
            errors.update(exc.errors)
    if values["trigger"] == "birthday" and any(m >= MINUTES["d"] for m in values.get("offsets") or ()):
        errors["offsets"] = _("A birthday greeting is due on the birthday: give the time of day, e.g. 9h.")
    if errors:
        raise FollowupInvalid(errors)
    return values


def rule_data(rule: Rule) -> dict:
    """A rule as clean_rule's input (to merge a partial change into)."""
    data = {f: getattr(rule, f) for f in FIELDS if f not in ("offsets", "disease_codes")}
    data["offsets"] = [format_offset(s.offset_minutes) for s in rule.steps]
    data["disease_codes"] = [d.code for d in rule.diseases]
    return data


def _apply(rule: Rule, values: dict) -> None:
    offsets, codes = values.pop("offsets"), values.pop("disease_codes")
    for field, value in values.items():
        setattr(rule, field, value)
    removed = [s for s in rule.steps if s.offset_minutes not in offsets]
    if removed:
        # Plans already made from a removed step stay (they are work people were given); they
        # only stop pointing at the step.
        ids = [s.id for s in removed if s.id is not None]
        if ids:
            db.session.execute(sa.update(Plan).where(Plan.rule_step_id.in_(ids)).values(rule_step_id=None)
                               .execution_options(synchronize_session=False))
        for step in removed:
            rule.steps.remove(step)
    have = {s.offset_minutes for s in rule.steps}
    rule.steps.extend(RuleStep(offset_minutes=m) for m in offsets if m not in have)
    rule.diseases = [d for d in rule.diseases if d.code in codes]
    have_codes = {d.code for d in rule.diseases}
    rule.diseases.extend(RuleDisease(code=c) for c in codes if c not in have_codes)


def create_rule(data: dict, user_id: int | None = None) -> Rule:
    """A new rule; it plans the visits of the last week and later ones (see :func:`apply_since`
    for earlier ones)."""
    values = clean_rule(data, user_id)
    rule = Rule(applies_from=datetime.combine(clock.local_today() - RECENT_VISITS, time.min))
    db.session.add(rule)
    _apply(rule, values)
    db.session.flush()
    return rule


def update_rule(rule: Rule, data: dict, user_id: int | None = None) -> Rule:
    """Change some of a rule's fields (the others keep their values)."""
    values = clean_rule({**rule_data(rule), **data}, user_id)
    _apply(rule, values)
    db.session.flush()
    return rule


def plan_count(rule: Rule) -> int:
    return db.session.execute(sa.select(sa.func.count()).select_from(Plan).where(Plan.rule_id == rule.id)
                              ).scalar_one()


def delete_rule(rule: Rule) -> None:
    """Delete a rule that has planned nothing yet; one with plans is deactivated instead, so the
    plans keep saying where they came from."""
    if plan_count(rule):
        raise PlanStateError(_("This rule has planned follow-ups already: deactivate it instead of deleting it."))
    db.session.delete(rule)
    db.session.flush()


def apply_since(rule: Rule, since) -> int:
    """Apply the rule to the visits since ``since`` (a date) too: plan the follow-ups it would
    have planned (never twice). Returns how many plans were made."""
    from plugins.followup.planning.generation import plan_rule_backlog
    if isinstance(since, str):
        try:
            since = date.fromisoformat(since.strip())
        except ValueError:
            raise FollowupInvalid({"since": _("Enter a date as YYYY-MM-DD.")}) from None
    if not isinstance(since, date):
        raise FollowupInvalid({"since": _("Enter a date as YYYY-MM-DD.")})
    start = datetime.combine(since, time.min)
    if start > clock.local_now():
        raise FollowupInvalid({"since": _("The date is in the future.")})
    if not rule.active:
        raise PlanStateError(_("Activate the rule before applying it."))
    rule.applies_from = min(rule.applies_from, start)
    db.session.flush()
    return plan_rule_backlog(rule.hospital_id, rule.id, start)
