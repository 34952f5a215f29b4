"""Referrer grading (铁牌/铜牌/银牌/金牌): referrers ranked by the patients they brought and what
those patients spent (one GROUP BY over the hospital's patients and visits), each holding the
best grade whose two thresholds it reaches."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from plugins.patients.public import Patient, Referrer, Visit
from plugins.vip.models import ReferrerGrade
from plugins.vip.tiering import VipInvalid, _int, _money, _text

RANKING_LIMIT = 200


def grades() -> list[ReferrerGrade]:
    return list(db.session.execute(sa.select(ReferrerGrade).order_by(ReferrerGrade.position)).scalars())


def save_grades(rows: dict[int, dict]) -> None:
    """Save every grade's name and thresholds; a better grade must ask at least as much."""
    current = grades()
    errors: dict[str, str] = {}
    parsed = []
    for grade in current:
        data, field_errors = rows.get(grade.id, {}), {}
        name = _text(data, "name", field_errors, required=True, limit=32)
        patients = _int(data, "min_patients", field_errors, low=0, high=1000000)
        spending = _money(data, "min_spending", field_errors)
        for field, message in field_errors.items():
            errors[f"{grade.id}.{field}"] = message
        parsed.append((grade, name, patients, spending if spending is not None else Decimal(0)))
    if not errors:
        for (lower, _n, lp, ls), (_higher, hname, hp, hs) in zip(parsed, parsed[1:], strict=False):
            if hp < lp or hs < ls:
                errors["grades"] = _("%(higher)s must ask at least as much as %(lower)s.",
                                     higher=hname, lower=lower.name)
        if len({name for _g, name, _p, _s in parsed}) != len(parsed):
            errors["grades"] = _("Each grade needs its own name.")
    if errors:
        raise VipInvalid(errors)
    for grade, name, patients, spending in parsed:
        grade.name, grade.min_patients, grade.min_spending = name, patients, spending
    db.session.flush()


@dataclass(frozen=True)
class RankedReferrer:
    referrer: Referrer
    patients: int
    spending: Decimal
    grade: str | None


def ranking(limit: int = RANKING_LIMIT) -> list[RankedReferrer]:
    spent = (sa.select(Visit.patient_id, sa.func.sum(Visit.spending).label("spent"))
             .where(Visit.status != "cancelled").group_by(Visit.patient_id).subquery())
    rows = db.session.execute(
        sa.select(Referrer, sa.func.count(Patient.id), sa.func.coalesce(sa.func.sum(spent.c.spent), 0))
        .join(Patient, Patient.referrer_id == Referrer.id)
        .outerjoin(spent, spent.c.patient_id == Patient.id)
        .where(Patient.merged_into_id.is_(None))
        .group_by(Referrer.id).order_by(sa.func.coalesce(sa.func.sum(spent.c.spent), 0).desc(), Referrer.id)
        .limit(limit)).all()
    ladder = sorted(grades(), key=lambda grade: grade.position, reverse=True)
    ranked = []
    for referrer, patients, spending in rows:
        spending = Decimal(spending or 0)
        grade = next((g.name for g in ladder if patients >= g.min_patients and spending >= g.min_spending), None)
        ranked.append(RankedReferrer(referrer, patients, spending, grade))
    return ranked
