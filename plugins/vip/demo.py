"""Demo data for `hcrm init --demo`: the demo patients re-tiered, scored and given their service
tasks, plus one manual tier change with its reason (idempotent: re-running moves no one)."""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from plugins.patients.public import Patient
from plugins.vip import retier, service_plans, tiering, value
from plugins.vip.models import TierChange


def load(hospital) -> None:
    retier.apply(hospital.id)
    value.rescore(hospital.id)
    service_plans.generate(hospital.id)
    if db.session.execute(sa.select(TierChange.id).where(TierChange.kind == "manual").limit(1)).first() is None:
        patient = db.session.execute(sa.select(Patient).where(Patient.merged_into_id.is_(None))
                                     .order_by(Patient.id).limit(1)).scalar_one_or_none()
        diamond = next((tier for tier in tiering.ordered_tiers(active_only=True)), None)
        member = tiering.member_of(patient.id) if patient else None
        if patient is not None and diamond is not None and (member is None or member.tier_id != diamond.id):
            tiering.change_member_tier(patient, diamond.id, "院长批准：长期合作单位职工", None)
    db.session.flush()
