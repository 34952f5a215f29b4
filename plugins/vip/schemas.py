"""Marshmallow schemas of the vip plugin. ``MemberFilterSchema`` is the one filter set of the
members list: the page, its CSV export and the API all load their query string with it."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from core.api import Reference, UtcDateTime
from core.i18n import lazy_gettext as _l
from plugins.vip.models import DIRECTIONS, REASON_KINDS, SEGMENTS

ID = {"validate": validate.Range(min=1)}


class MemberFilterSchema(Schema):
    """Filters of the members list (page, export, API)."""

    class Meta:
        unknown = EXCLUDE  # the page's own parameters (page, per_page) pass through

    tier_id = fields.Integer(**ID, metadata={"description": "Only members of this tier."})
    reason_kind = fields.String(validate=validate.OneOf(REASON_KINDS),
                                metadata={"description": "`rule` or `manual`: how the member got the tier."})
    segment = fields.String(validate=validate.OneOf(SEGMENTS), metadata={"description": "RFM segment."})
    q = fields.String(validate=validate.Length(max=64), metadata={"description": "Name starts with."})
    in_grace = fields.Boolean(metadata={"description": "Only members below their tier's rule (grace period)."})


class RefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class TierRuleSchema(Schema):
    window_months = fields.Integer()
    min_spending = fields.Decimal(as_string=True, allow_none=True)
    min_visits = fields.Integer(allow_none=True)
    combine = fields.String(metadata={"enum": ["or", "and"]})
    grace_days = fields.Integer()
    active = fields.Boolean()


class TierSchema(Schema):
    """A VIP tier with its benefits, service norms and rule."""

    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    position = fields.Integer(metadata={"description": "Higher is a better tier."})
    colour = fields.String()
    benefits = fields.String(allow_none=True)
    service_norms = fields.String(allow_none=True)
    active = fields.Boolean()
    rule = fields.Nested(TierRuleSchema, allow_none=True)


class MemberSchema(Schema):
    """A member: the patient, the tier, since when and why."""

    patient = Reference(RefSchema)
    tier = Reference(RefSchema)
    since = UtcDateTime()
    reason_kind = fields.String(metadata={"enum": list(REASON_KINDS)})
    reason = fields.String(allow_none=True)
    below_since = fields.Date(allow_none=True, metadata={"description": "Below the tier's rule since (grace)."})


class TierChangeSchema(Schema):
    from_tier = Reference(RefSchema, allow_none=True)
    to_tier = Reference(RefSchema, allow_none=True)
    direction = fields.String(metadata={"enum": list(DIRECTIONS)})
    kind = fields.String(metadata={"enum": list(REASON_KINDS)})
    reason = fields.String(allow_none=True)
    changed_at = UtcDateTime()


class ItemPointsSchema(Schema):
    code = fields.String()
    name = fields.String()
    measure = fields.Raw(allow_none=True, metadata={"type": "number"})
    points = fields.Integer(metadata={"description": "0–100 by the item's scale."})
    weight = fields.Integer()
    enabled = fields.Boolean()
    contribution = fields.Float(metadata={"description": "What the item adds to the score."})


class PatientValueSchema(Schema):
    """A patient's tier, value score with its explanation, RFM segment and churn warning."""

    patient_id = fields.Integer()
    member = fields.Nested(MemberSchema, allow_none=True)
    score = fields.Decimal(as_string=True, allow_none=True)
    explanation = fields.List(fields.Nested(ItemPointsSchema))
    r = fields.Integer(allow_none=True)
    f = fields.Integer(allow_none=True)
    m = fields.Integer(allow_none=True)
    segment = fields.String(allow_none=True, metadata={"enum": list(SEGMENTS)})
    churn = fields.Boolean()
    history = fields.List(fields.Nested(TierChangeSchema))


class TierChangeRequestSchema(Schema):
    tier_id = fields.Integer(required=True, allow_none=True, metadata={
        "description": "The new tier; null ends the membership."})
    reason = fields.String(required=True, validate=validate.Length(min=1, max=255),
                           metadata={"description": str(_l("Why (required, audited)."))})
