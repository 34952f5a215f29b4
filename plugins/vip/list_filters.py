"""The patient list's VIP filters (the patients plugin's extension point): tier and RFM segment."""
from __future__ import annotations

import sqlalchemy as sa

from core.i18n import lazy_gettext as _l
from plugins.patients.public import ListFilter, Patient
from plugins.vip import tiering, value
from plugins.vip.models import Member, Score


def _tiers() -> list[tuple[str, str]]:
    return [(str(tier.id), tier.name) for tier in tiering.ordered_tiers()]


def _segments() -> list[tuple[str, str]]:
    return [(code, str(label)) for code, label in value.SEGMENT_LABELS.items()]


def _in_tier(stmt, chosen: str):
    return stmt.where(Patient.id.in_(sa.select(Member.patient_id).where(Member.tier_id == int(chosen))))


def _in_segment(stmt, chosen: str):
    return stmt.where(Patient.id.in_(sa.select(Score.patient_id).where(Score.segment == chosen)))


def filters() -> list[ListFilter]:
    return [ListFilter("vip_tier", _l("VIP tier"), choices=_tiers, apply=_in_tier),
            ListFilter("vip_segment", _l("RFM segment"), choices=_segments, apply=_in_segment)]
