"""VIP API (/api/v1/vip): tiers, members, a patient's tier, score and explanation, manual tier
changes. Thin views over the services the pages use; another hospital's patient is a 404."""
from __future__ import annotations

from flask import Blueprint
from flask_login import current_user
from marshmallow import ValidationError

from core.api import api_route, paginate
from core.extensions import db
from core.tenancy import get_or_404
from plugins.patients.public import Patient
from plugins.vip import members, tiering
from plugins.vip.panel import patient_value
from plugins.vip.schemas import (
    MemberFilterSchema,
    MemberSchema,
    PatientValueSchema,
    TierChangeRequestSchema,
    TierSchema,
)

bp = Blueprint("vip_api", __name__, url_prefix="/api/v1/vip")


@api_route(bp, "/tiers", permission="vip.read", response=TierSchema, many=True)
def list_tiers():
    """List the hospital's VIP tiers, best first, with their rules."""
    return tiering.ordered_tiers()


@api_route(bp, "/members", permission="vip.read", query=MemberFilterSchema, response=MemberSchema, paginated=True)
def list_members(query):
    """List VIP members (the same filters as the members page)."""
    return paginate(members.members_stmt(query))


@api_route(bp, "/patients/<int:patient_id>", permission="vip.read", response=PatientValueSchema)
def patient(patient_id):
    """A patient's tier, value score with the points of each item, RFM segment and history."""
    get_or_404(Patient, patient_id)
    return patient_value(patient_id)


@api_route(bp, "/patients/<int:patient_id>/tier", methods=("POST",), permission="vip.members",
           body=TierChangeRequestSchema, response=PatientValueSchema)
def change_tier(patient_id, body):
    """Change a patient's tier by hand (a reason is required; audited in the tier history)."""
    found = get_or_404(Patient, patient_id)
    try:
        tiering.change_member_tier(found, body.get("tier_id"), body.get("reason"), current_user.id)
    except tiering.VipInvalid as exc:
        raise ValidationError({field: [message] for field, message in exc.errors.items()}) from None
    db.session.commit()
    return patient_value(patient_id)
