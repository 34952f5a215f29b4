"""Tiers, their rules and members: validation and writes shared by pages, API, CLI and jobs.

Services check everything before writing, so a refusal (:class:`VipInvalid`) never leaves half a
change behind. A tier's rule qualifies a patient when, over the last ``window_months``, their
spending and/or visits reach its thresholds; the best tier whose rule a patient meets is theirs
(see retier.py). Two rules contradict each other when everyone meeting a lower tier's rule also
meets a higher tier's (the lower tier could never be reached): such a rule is refused with both
rules named.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from core.models import utcnow
from plugins.patients.public import Patient
from plugins.vip.models import COMBINES, Member, Tier, TierChange, TierRule

COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_WINDOW_MONTHS = 120
MAX_GRACE_DAYS = 3650
MAX_SPENDING = Decimal("9999999999.99")
MAX_VISITS = 100000
TEXT_LIMIT = 4000


class VipInvalid(ValueError):
    """Input refused: ``errors`` maps each field to a message for the person who typed it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


# -- rules as plain values ------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleSpec:
    """A tier rule as the evaluator and the overlap check see it (saved or a draft)."""

    tier_id: int
    tier_name: str
    position: int
    window_months: int
    min_spending: Decimal | None
    min_visits: int | None
    combine: str = "or"
    grace_days: int = 0

    def corners(self) -> list[tuple[Decimal, int]]:
        """The least (spending, visits) points meeting the rule: it is met exactly above one of them."""
        s, v = self.min_spending or Decimal(0), self.min_visits or 0
        if self.min_spending is None or self.min_visits is None or self.combine == "and":
            return [(s, v)]
        return [(s, 0), (Decimal(0), v)]

    def met_by(self, spending: Decimal, visits: int) -> bool:
        checks = []
        if self.min_spending is not None:
            checks.append(spending >= self.min_spending)
        if self.min_visits is not None:
            checks.append(visits >= self.min_visits)
        return all(checks) if self.combine == "and" else any(checks)

    def describe(self) -> str:
        parts = []
        if self.min_spending is not None:
            amount = format(self.min_spending, ",.2f")
            parts.append(_("spending ≥ ¥%(amount)s", amount=amount))
        if self.min_visits is not None:
            parts.append(_("≥ %(n)d visits", n=self.min_visits))
        joiner = _(" and ") if self.combine == "and" else _(" or ")
        return _("%(conditions)s in %(months)d months", conditions=joiner.join(parts), months=self.window_months)


def spec_of(rule: TierRule) -> RuleSpec:
    return RuleSpec(tier_id=rule.tier_id, tier_name=rule.tier.name, position=rule.tier.position,
                    window_months=rule.window_months,
                    min_spending=Decimal(rule.min_spending) if rule.min_spending is not None else None,
                    min_visits=rule.min_visits, combine=rule.combine, grace_days=rule.grace_days)


def active_specs(draft: RuleSpec | None = None, drop_tier_id: int | None = None) -> list[RuleSpec]:
    """The hospital's active rules of active tiers, best tier first; ``draft`` stands in for
    the saved rule of its tier (a draft being previewed or saved)."""
    rows = db.session.execute(sa.select(TierRule).join(Tier, Tier.id == TierRule.tier_id)
                              .where(TierRule.active.is_(True), Tier.active.is_(True))).scalars().all()
    specs = {rule.tier_id: spec_of(rule) for rule in rows}
    if drop_tier_id is not None:
        specs.pop(drop_tier_id, None)
    if draft is not None:
        specs[draft.tier_id] = draft
    return sorted(specs.values(), key=lambda spec: (-spec.position, spec.tier_id))


def check_overlaps(specs: list[RuleSpec]) -> None:
    """Refuse rules that contradict each other, naming them (see the module's docstring)."""
    ordered = sorted(specs, key=lambda spec: spec.position)
    for index, lower in enumerate(ordered):
        for higher in ordered[index + 1:]:
            if higher.position == lower.position:
                raise VipInvalid({"rule": _("%(a)s and %(b)s have the same order: give each tier its own place.",
                                            a=lower.tier_name, b=higher.tier_name)})
            # A longer window only adds spending and visits: the lower rule's least points then
            # meet the higher rule whenever they meet it over the same window.
            if higher.window_months >= lower.window_months and all(
                    higher.met_by(s, v) for s, v in lower.corners()):
                raise VipInvalid({"rule": _(
                    "These rules overlap: everyone meeting %(lower)s (%(lower_rule)s) also meets %(higher)s "
                    "(%(higher_rule)s), so %(lower)s could never be reached. Make %(higher)s's rule stricter "
                    "or %(lower)s's looser.", lower=lower.tier_name, lower_rule=lower.describe(),
                    higher=higher.tier_name, higher_rule=higher.describe())})


# -- input checks ---------------------------------------------------------------------------------
def _text(data: dict, field: str, errors: dict, *, required=False, limit=TEXT_LIMIT) -> str | None:
    value = data.get(field)
    value = str(value).strip() if value is not None else ""
    if not value:
        if required:
            errors[field] = _("This field is required.")
        return None
    if len(value) > limit:
        errors[field] = _("At most %(n)d characters.", n=limit)
    return value


def _int(data: dict, field: str, errors: dict, *, low: int, high: int, required=True) -> int | None:
    raw = data.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            errors[field] = _("This field is required.")
        return None
    try:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError
        value = int(str(raw).strip()) if not isinstance(raw, (int, float)) else int(raw)
    except (TypeError, ValueError):
        errors[field] = _("Enter a whole number.")
        return None
    if value < 0:
        errors[field] = _("Must not be negative.")
    elif not low <= value <= high:
        errors[field] = _("Must be between %(low)d and %(high)d.", low=low, high=high)
    return value


def _money(data: dict, field: str, errors: dict) -> Decimal | None:
    raw = data.get(field)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    try:
        value = Decimal(str(raw).strip().replace(",", ""))
    except InvalidOperation:
        errors[field] = _("Enter an amount.")
        return None
    if not value.is_finite():
        errors[field] = _("Enter an amount.")
    elif value < 0:
        errors[field] = _("Must not be negative.")
    elif value > MAX_SPENDING:
        errors[field] = _("Too large.")
    return value.quantize(Decimal("0.01")) if value.is_finite() else None


# -- tiers ----------------------------------------------------------------------------------------
TIER_FIELDS = ("code", "name", "position", "colour", "benefits", "service_norms", "active")


def _tier_values(data: dict, tier: Tier | None) -> dict:
    errors: dict[str, str] = {}
    values = {
        "code": _text(data, "code", errors, required=True, limit=32),
        "name": _text(data, "name", errors, required=True, limit=64),
        "position": _int(data, "position", errors, low=0, high=1000),
        "colour": _text(data, "colour", errors, limit=7) or "#6c757d",
        "benefits": _text(data, "benefits", errors),
        "service_norms": _text(data, "service_norms", errors),
        "active": bool(data.get("active", True)),
    }
    if "colour" not in errors and not COLOUR.match(values["colour"]):
        errors["colour"] = _("A colour like #d4a017.")
    if values["code"] and "code" not in errors and not re.match(r"^[a-z0-9_]+$", values["code"]):
        errors["code"] = _("Lower-case letters, digits and underscores only.")
    others = sa.select(Tier).where(Tier.id != (tier.id if tier else -1))
    for field in ("code", "name", "position"):
        if field not in errors and values[field] is not None and db.session.execute(
                others.where(getattr(Tier, field) == values[field]).limit(1)).first():
            errors[field] = _("Another tier already has this value.")
    if errors:
        raise VipInvalid(errors)
    return values


def save_tier(data: dict, tier: Tier | None = None) -> Tier:
    values = _tier_values(data, tier)
    if tier is None:
        tier = Tier(**values)
        db.session.add(tier)
    else:
        if tier.position != values["position"] and tier.rule is not None and tier.rule.active:
            moved = replace(spec_of(tier.rule), position=values["position"])
            check_overlaps(active_specs(draft=moved))
        for field, value in values.items():
            setattr(tier, field, value)
    db.session.flush()
    return tier


def delete_tier(tier: Tier) -> None:
    members = db.session.execute(sa.select(sa.func.count()).select_from(Member)
                                 .where(Member.tier_id == tier.id)).scalar_one()
    history = db.session.execute(sa.select(TierChange.id).where(
        sa.or_(TierChange.from_tier_id == tier.id, TierChange.to_tier_id == tier.id)).limit(1)).first()
    if members or history:
        raise VipInvalid({"tier": _("%(tier)s has members or history: deactivate it instead.", tier=tier.name)})
    if tier.rule is not None:
        db.session.delete(tier.rule)
    db.session.delete(tier)
    db.session.flush()


def ordered_tiers(active_only: bool = False) -> list[Tier]:
    stmt = sa.select(Tier).order_by(Tier.position.desc(), Tier.id)
    if active_only:
        stmt = stmt.where(Tier.active.is_(True))
    return list(db.session.execute(stmt).scalars())


# -- rules ----------------------------------------------------------------------------------------
RULE_FIELDS = ("window_months", "min_spending", "min_visits", "combine", "grace_days", "active")


def rule_spec(tier: Tier, data: dict) -> RuleSpec:
    """Check a rule's input for ``tier``; raises VipInvalid (nothing written)."""
    errors: dict[str, str] = {}
    window = _int(data, "window_months", errors, low=1, high=MAX_WINDOW_MONTHS)
    spending = _money(data, "min_spending", errors)
    visits = _int(data, "min_visits", errors, low=0, high=MAX_VISITS, required=False)
    grace = _int(data, "grace_days", errors, low=0, high=MAX_GRACE_DAYS, required=False) or 0
    combine = (data.get("combine") or "or").strip() if isinstance(data.get("combine") or "or", str) else None
    if combine not in COMBINES:
        errors["combine"] = _("Choose “or” or “and”.")
    if not errors and not (spending or visits):
        errors["min_spending"] = _("Give a spending or a visits threshold above zero.")
    if errors:
        raise VipInvalid(errors)
    return RuleSpec(tier_id=tier.id, tier_name=tier.name, position=tier.position, window_months=window,
                    min_spending=spending if spending else None, min_visits=visits if visits else None,
                    combine=combine, grace_days=grace)


def save_rule(tier: Tier, data: dict) -> TierRule:
    spec = rule_spec(tier, data)
    active = bool(data.get("active", True))
    if active and tier.active:
        check_overlaps(active_specs(draft=spec))
    rule = tier.rule
    if rule is None:
        rule = TierRule(tier=tier)
        db.session.add(rule)
    rule.window_months, rule.min_spending, rule.min_visits = spec.window_months, spec.min_spending, spec.min_visits
    rule.combine, rule.grace_days, rule.active = spec.combine, spec.grace_days, active
    db.session.flush()
    return rule


def delete_rule(tier: Tier) -> None:
    if tier.rule is not None:
        db.session.delete(tier.rule)
        db.session.flush()


# -- members --------------------------------------------------------------------------------------
def member_of(patient_id: int) -> Member | None:
    return db.session.execute(sa.select(Member).where(Member.patient_id == patient_id)).scalar_one_or_none()


def find_patient(patient_id) -> Patient:
    """A live patient of this hospital (and the caller's scope), or VipInvalid."""
    try:
        ident = int(patient_id)
    except (TypeError, ValueError):
        ident = None
    patient = None
    if ident is not None and 0 < ident < 2**31:
        patient = db.session.execute(sa.select(Patient).where(Patient.id == ident)).scalar_one_or_none()
    if patient is None or patient.merged_into_id is not None:
        raise VipInvalid({"patient_id": _("No such patient in this hospital.")})
    return patient


def change_member_tier(patient: Patient, tier_id, reason: str | None, user_id: int | None) -> Member | None:
    """A manual change (by a user holding ``vip.members``): put ``patient`` in the tier (None:
    end the membership) with a required reason; recorded in the tier history and the audit log."""
    errors: dict[str, str] = {}
    reason = _text({"reason": reason}, "reason", errors, required=True, limit=255)
    tier = None
    if tier_id not in (None, "", 0, "0"):
        try:
            ident = int(tier_id)
        except (TypeError, ValueError):
            ident = None
        if ident is not None and 0 < ident < 2**31:
            tier = db.session.execute(sa.select(Tier).where(Tier.id == ident, Tier.active.is_(True))
                                      ).scalar_one_or_none()
        if tier is None:
            errors["tier_id"] = _("Choose one of this hospital's active tiers.")
    if errors:
        raise VipInvalid(errors)
    member = member_of(patient.id)
    old_tier = member.tier if member else None
    if old_tier is tier or (old_tier is not None and tier is not None and old_tier.id == tier.id):
        raise VipInvalid({"tier_id": _("The patient is already in this tier.")})
    if old_tier is None:
        direction = "join"
    elif tier is None:
        direction = "leave"
    else:
        direction = "up" if tier.position > old_tier.position else "down"
    db.session.add(TierChange(patient_id=patient.id, from_tier_id=old_tier.id if old_tier else None,
                              to_tier_id=tier.id if tier else None, direction=direction, kind="manual",
                              reason=reason, user_id=user_id))
    if tier is None:
        db.session.delete(member)
        db.session.flush()
        return None
    if member is None:
        member = Member(patient_id=patient.id)
        db.session.add(member)
    member.tier_id, member.since, member.reason_kind, member.reason = tier.id, utcnow(), "manual", reason
    member.below_since, member.changed_by_id = None, user_id
    db.session.flush()
    return member


def history_of(patient_id: int) -> list[TierChange]:
    return list(db.session.execute(sa.select(TierChange).where(TierChange.patient_id == patient_id)
                                   .order_by(TierChange.changed_at.desc(), TierChange.id.desc())).scalars())
