"""The members list: one statement for the page, its export and the API (filters loaded with
``schemas.MemberFilterSchema``)."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from plugins.patients.public import Patient
from plugins.vip.models import Member, Score, Tier


def members_stmt(filters: dict):
    stmt = (sa.select(Member).join(Patient, Patient.id == Member.patient_id).join(Tier, Tier.id == Member.tier_id)
            .options(selectinload(Member.patient), selectinload(Member.tier))
            .order_by(Tier.position.desc(), Member.since.desc(), Member.id.desc()))
    if filters.get("tier_id"):
        stmt = stmt.where(Member.tier_id == filters["tier_id"])
    if filters.get("reason_kind"):
        stmt = stmt.where(Member.reason_kind == filters["reason_kind"])
    if filters.get("q"):
        stmt = stmt.where(Patient.name.startswith(filters["q"], autoescape=True))
    if filters.get("in_grace") is not None:
        stmt = stmt.where(Member.below_since.is_not(None) if filters["in_grace"] else Member.below_since.is_(None))
    if filters.get("segment"):
        stmt = stmt.where(Member.patient_id.in_(sa.select(Score.patient_id).where(Score.segment == filters["segment"])))
    return stmt
