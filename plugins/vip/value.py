"""Customer value (客户价值): weighted items, scales, RFM segments and the churn warning.

``rescore`` brings ``vip_score`` up to date for the whole hospital with one INSERT…SELECT … ON
CONFLICT DO UPDATE that writes only the rows whose values changed: visits are aggregated per patient in one pass, referrals joined by phone (a patient is a
referrer when a referrer of the hospital has their phone), each item's points taken from its
scale by a CASE, the score weighted in SQL, RFM quintiles by NTILE(5) and the segment from them;
satisfaction comes from the followup plugin's published hook ``followup_satisfaction`` where
it is live (vip does not import it; a patient without answers scores without that item); the
churn flag compares the time since the last visit with the patient's own usual interval
between visits times the hospital's factor (one-visit patients: a fixed number of days).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite

from core.activation import live_plugins
from core.clock import local_now
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import utcnow
from core.tenancy import system_scope
from plugins.patients.public import Patient, Referrer, Visit
from plugins.vip.models import SEGMENTS, Score, Settings, ValueItem
from plugins.vip.retier import months_back
from plugins.vip.tiering import VipInvalid, _int

SCORES = Score.__table__

ITEM_LABELS = {
    "profile": _l("Profile completeness (%)"),
    "spending": _l("Spending in the window (¥)"),
    "frequency": _l("Visits in the window"),
    "recency": _l("Days since the last visit"),
    "referrals": _l("Patients referred"),
    "referral_spending": _l("What referred patients spent (¥)"),
    "satisfaction": _l("Survey satisfaction (%, follow-up centre)"),
}
SEGMENT_LABELS = {
    "champions": _l("Champions"), "loyal": _l("Loyal"), "potential": _l("Potential"),
    "need_attention": _l("Needs attention"), "at_risk": _l("At risk"), "hibernating": _l("Hibernating"),
    "lost": _l("Lost"),
}
PROFILE_FIELDS = ("phone", "birth_date", "id_number", "address", "occupation", "region_id", "insurance_no",
                  "source_id")
MAX_SCALE_STEPS = 10


# -- settings and items ---------------------------------------------------------------------------
def settings() -> Settings:
    row = db.session.execute(sa.select(Settings)).scalar_one_or_none()
    if row is None:
        row = Settings(churn_factor=Decimal(2), churn_single_visit_days=180, window_months=12)
        db.session.add(row)
        db.session.flush()
    return row


def save_settings(data: dict) -> Settings:
    errors: dict[str, str] = {}
    days = _int(data, "churn_single_visit_days", errors, low=1, high=3650)
    window = _int(data, "window_months", errors, low=1, high=120)
    try:
        factor = Decimal(str(data.get("churn_factor", "")).strip())
        if not factor.is_finite() or not Decimal("1") <= factor <= Decimal("20"):
            errors["churn_factor"] = _("Must be between 1 and 20.")
    except InvalidOperation:
        errors["churn_factor"] = _("Enter a number.")
    if errors:
        raise VipInvalid(errors)
    row = settings()
    row.churn_factor, row.churn_single_visit_days, row.window_months = factor.quantize(Decimal("0.01")), days, window
    db.session.flush()
    return row


def parse_scale(text: str) -> list[tuple[Decimal, int]]:
    """``"1000:20, 5000:60"`` → [(1000, 20), (5000, 60)] (points 0–100); raises ValueError."""
    steps = []
    for part in (p.strip() for p in (text or "").replace("，", ",").split(",")):
        if not part:
            continue
        threshold, sep, points = part.partition(":")
        if not sep:
            raise ValueError(_("Write each step as threshold:points, e.g. 1000:20."))
        try:
            value, score = Decimal(threshold.strip()), int(points.strip())
        except (InvalidOperation, ValueError):
            raise ValueError(_("“%(step)s” is not threshold:points.", step=part)) from None
        if not value.is_finite() or value < 0:
            raise ValueError(_("Thresholds must not be negative (“%(step)s”).", step=part))
        if not 0 <= score <= 100:
            raise ValueError(_("Points are between 0 and 100 (“%(step)s”).", step=part))
        steps.append((value, score))
    if not steps:
        raise ValueError(_("Give at least one step."))
    if len(steps) > MAX_SCALE_STEPS:
        raise ValueError(_("At most %(n)d steps.", n=MAX_SCALE_STEPS))
    if len({value for value, _score in steps}) != len(steps):
        raise ValueError(_("Each threshold once only."))
    return sorted(steps)


def items() -> list[ValueItem]:
    return list(db.session.execute(sa.select(ValueItem).order_by(ValueItem.position, ValueItem.id)).scalars())


def save_items(rows: dict[int, dict]) -> list[ValueItem]:
    """Save every item at once (weights, scales, enabled): ``rows`` maps item ids to their input.
    Refused as a whole when a value is wrong or the enabled weights sum to 0."""
    current = {item.id: item for item in items()}
    errors: dict[str, str] = {}
    parsed = {}
    for item_id, item in current.items():
        data = rows.get(item_id, {})
        field_errors: dict[str, str] = {}
        weight = _int(data, "weight", field_errors, low=0, high=100)
        scale = str(data.get("scale", item.scale) or "")
        try:
            parse_scale(scale)
        except ValueError as exc:
            field_errors["scale"] = str(exc)
        for field, message in field_errors.items():
            errors[f"{item.code}.{field}"] = message
        parsed[item_id] = (weight, scale.strip(), bool(data.get("enabled")))
    if not errors and sum(weight for weight, _s, enabled in parsed.values() if enabled) == 0:
        errors["weight"] = _("The enabled items' weights sum to 0: give at least one enabled item a weight.")
    if errors:
        raise VipInvalid(errors)
    for item_id, (weight, scale, enabled) in parsed.items():
        current[item_id].weight, current[item_id].scale, current[item_id].enabled = weight, scale, enabled
    db.session.flush()
    return list(current.values())


# -- the set-based re-score -------------------------------------------------------------------------
def _days(later, earlier, dialect: str):
    """Days between two datetimes (SQL, fractional)."""
    if dialect == "postgresql":
        return sa.func.extract("epoch", later - earlier) / 86400.0
    return sa.func.julianday(later) - sa.func.julianday(earlier)


def _points(measure, steps: list[tuple[Decimal, int]], *, at_most=False):
    """The points of the best step ``measure`` reaches (recency: at most that many days)."""
    ordered = sorted(steps, key=lambda step: step[0], reverse=not at_most)
    whens = [((measure <= value) if at_most else (measure >= value), points) for value, points in ordered]
    return sa.case(*whens, else_=0)


def satisfaction_source(hospital_id: int):
    """The followup plugin's (patient_id, satisfaction) SELECT where it is live, else None."""
    with system_scope():
        live = live_plugins(hospital_id)
    caller = getattr(current_app.extensions["hcrm"].registry.hooks_for(live), "followup_satisfaction", None)
    for offered in (caller(hospital_id=hospital_id) if caller else []):
        if offered is not None:
            return offered.subquery("satisfaction")
    return None


def score_select(hospital_id: int, dialect: str):
    """SELECT of every ``vip_score`` column for the hospital's live patients."""
    conf = settings()
    now = local_now()
    cutoff = months_back(now, conf.window_months)
    visits, patients, referrers = Visit.__table__, Patient.__table__, Referrer.__table__
    recent = visits.c.visit_at >= cutoff
    agg = (sa.select(visits.c.patient_id,
                     sa.func.sum(sa.case((recent, visits.c.spending), else_=0)).label("spending"),
                     sa.func.sum(sa.case((recent, 1), else_=0)).label("visits"),
                     sa.func.sum(visits.c.spending).label("lifetime"),
                     sa.func.count().label("total_visits"),
                     sa.func.min(visits.c.visit_at).label("first_at"),
                     sa.func.max(visits.c.visit_at).label("last_at"))
           .where(visits.c.hospital_id == hospital_id, visits.c.status != "cancelled", visits.c.visit_at <= now)
           .group_by(visits.c.patient_id).cte("agg"))
    referred = patients.alias("referred")
    refs = (sa.select(referrers.c.phone, sa.func.count(referred.c.id).label("referrals"),
                      sa.func.coalesce(sa.func.sum(agg.c.lifetime), 0).label("referral_spending"))
            .join(referred, referred.c.referrer_id == referrers.c.id)
            .outerjoin(agg, agg.c.patient_id == referred.c.id)
            .where(referrers.c.hospital_id == hospital_id, referrers.c.phone.is_not(None),
                   referred.c.merged_into_id.is_(None))
            .group_by(referrers.c.phone).cte("refs"))
    filled = sum(sa.case((sa.and_(patients.c[name].is_not(None), sa.cast(patients.c[name], sa.String) != ""), 1),
                         else_=0) for name in PROFILE_FIELDS)
    has_visits = sa.case((agg.c.patient_id.is_(None), 0), else_=1)
    answered = satisfaction_source(hospital_id)
    joined = (patients.outerjoin(agg, agg.c.patient_id == patients.c.id)
              .outerjoin(refs, refs.c.phone == patients.c.phone))
    if answered is not None:
        joined = joined.outerjoin(answered, answered.c.patient_id == patients.c.id)
    satisfaction = answered.c.satisfaction if answered is not None else sa.null()
    spending, visit_count = sa.func.coalesce(agg.c.spending, 0), sa.func.coalesce(agg.c.visits, 0)
    base = (sa.select(
        patients.c.id.label("patient_id"), patients.c.owner_id, patients.c.department_id,
        (filled * 100 / len(PROFILE_FIELDS)).label("completeness"),
        spending.label("spending"), visit_count.label("visits"),
        sa.func.coalesce(agg.c.total_visits, 0).label("total_visits"),
        agg.c.first_at.label("first_visit_at"), agg.c.last_at.label("last_visit_at"),
        sa.func.coalesce(refs.c.referrals, 0).label("referrals"),
        sa.func.coalesce(refs.c.referral_spending, 0).label("referral_spending"),
        sa.cast(satisfaction, sa.Numeric(5, 2)).label("satisfaction"), has_visits.label("has_visits"),
        sa.func.ntile(5).over(partition_by=has_visits, order_by=(agg.c.last_at, patients.c.id)).label("r"),
        sa.func.ntile(5).over(partition_by=has_visits, order_by=(visit_count, patients.c.id)).label("f"),
        sa.func.ntile(5).over(partition_by=has_visits, order_by=(spending, patients.c.id)).label("m"))
        .select_from(joined)
        .where(patients.c.hospital_id == hospital_id, patients.c.merged_into_id.is_(None))
        .subquery("base"))
    days_since = _days(sa.literal(now, sa.DateTime), base.c.last_visit_at, dialect)
    measures = {"profile": base.c.completeness, "spending": base.c.spending, "frequency": base.c.visits,
                "recency": days_since, "referrals": base.c.referrals,
                "referral_spending": base.c.referral_spending, "satisfaction": base.c.satisfaction}
    points, weighted, total_weight, unknown_weight = {}, [], 0, 0
    for item in items():
        try:
            steps = parse_scale(item.scale)
        except ValueError:
            steps = []
        expr = _points(measures[item.code], steps, at_most=item.code == "recency") if steps else sa.literal(0)
        if item.code == "recency":
            expr = sa.case((base.c.last_visit_at.is_(None), 0), else_=expr)
        if item.code == "satisfaction":
            expr = sa.case((base.c.satisfaction.is_(None), 0), else_=expr)
        points[item.code] = expr
        if item.enabled and item.weight:
            weighted.append(expr * item.weight)
            total_weight += item.weight
            if item.code == "satisfaction":
                unknown_weight = item.weight  # not counted for a patient without answers
    weights = (sa.case((base.c.satisfaction.is_(None), total_weight - unknown_weight), else_=total_weight)
               if unknown_weight else sa.literal(total_weight))
    score = (sum(weighted) * 1.0 / sa.func.nullif(weights, 0)) if total_weight else sa.literal(0)
    visited = base.c.has_visits == 1
    r, f, m = (sa.case((visited, col), else_=None) for col in (base.c.r, base.c.f, base.c.m))
    segment = sa.case(
        (~visited, None),
        (sa.and_(base.c.r >= 4, base.c.f >= 4, base.c.m >= 4), "champions"),
        (sa.and_(base.c.r >= 3, base.c.f >= 4), "loyal"),
        (sa.and_(base.c.r >= 4, base.c.f <= 2), "potential"),
        (sa.and_(base.c.r <= 2, base.c.f >= 3), "at_risk"),
        (sa.and_(base.c.r == 1, base.c.f <= 2), "lost"),
        (sa.and_(base.c.r == 2, base.c.f <= 2), "hibernating"),
        else_="need_attention")
    interval_days = _days(base.c.last_visit_at, base.c.first_visit_at, dialect)
    factor = float(conf.churn_factor)
    churn = sa.case(
        (base.c.total_visits == 0, False),
        (base.c.total_visits == 1, days_since > conf.churn_single_visit_days),
        else_=days_since * (base.c.total_visits - 1) > interval_days * factor)
    stamp = utcnow()
    columns = {
        "hospital_id": sa.literal(hospital_id), "patient_id": base.c.patient_id, "owner_id": base.c.owner_id,
        "department_id": base.c.department_id, "completeness": base.c.completeness, "spending": base.c.spending,
        "visits": base.c.visits, "total_visits": base.c.total_visits, "first_visit_at": base.c.first_visit_at,
        "last_visit_at": base.c.last_visit_at, "referrals": base.c.referrals,
        "referral_spending": base.c.referral_spending, "satisfaction": base.c.satisfaction,
        **{f"points_{code}": expr for code, expr in points.items()},
        "score": sa.cast(sa.func.coalesce(score, 0), sa.Numeric(6, 2)), "r": r, "f": f, "m": m, "segment": segment,
        "churn": churn, "computed_at": sa.literal(stamp, sa.DateTime),
    }
    return list(columns), sa.select(*[expr.label(name) if hasattr(expr, "label") else expr
                                      for name, expr in columns.items()])


def _upsert(dialect: str, names: list[str], select):
    """INSERT … ON CONFLICT (patient) DO UPDATE of the scores, only where a value changed: a
    nightly run rewrites the patients whose measures, points, quintiles or flag moved, not the
    whole hospital (``computed_at`` is then when the row last changed)."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SCORES).from_select(names, select)
    compared = [name for name in names if name not in ("hospital_id", "patient_id", "computed_at")]
    return insert.on_conflict_do_update(
        index_elements=[SCORES.c.patient_id],
        set_={name: insert.excluded[name] for name in compared + ["computed_at"]},
        where=sa.or_(*[SCORES.c[name].is_distinct_from(insert.excluded[name]) for name in compared]))


def rescore(hospital_id: int) -> int:
    """Bring the hospital's scores up to date in one upsert (each changed row written once) and
    drop those of merged patients; returns how many patients have a score."""
    dialect = db.session.get_bind().dialect.name
    names, select = score_select(hospital_id, dialect)
    select = select.where(sa.true())  # SQLite reads an upsert's SELECT without WHERE ambiguously
    patients = Patient.__table__
    db.session.execute(sa.delete(SCORES).where(SCORES.c.hospital_id == hospital_id, SCORES.c.patient_id.in_(
        sa.select(patients.c.id).where(patients.c.hospital_id == hospital_id, patients.c.merged_into_id.is_not(None)))))
    db.session.execute(_upsert(dialect, names, select))
    settings().scored_at = utcnow()
    db.session.flush()
    return db.session.execute(sa.select(sa.func.count()).select_from(SCORES)
                              .where(SCORES.c.hospital_id == hospital_id)).scalar_one()


def run_task(hospital, **_args) -> None:
    """The queue's entry (task ``vip.rescore`` and the nightly job)."""
    rescore(hospital.id)


# -- reading ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemPoints:
    code: str
    name: str
    measure: object
    points: int
    weight: int
    enabled: bool
    contribution: float  # points × weight / total enabled weight


def score_of(patient_id: int) -> Score | None:
    return db.session.execute(sa.select(Score).where(Score.patient_id == patient_id)).scalar_one_or_none()


def explain(score: Score) -> list[ItemPoints]:
    """Which items gave how many points (with today's weights: the re-score uses the same)."""
    listed = items()
    counted = [item for item in listed if item.enabled and (item.code != "satisfaction" or score.satisfaction is not None)]
    total = sum(item.weight for item in counted) or 1
    measures = {"profile": score.completeness, "spending": score.spending, "frequency": score.visits,
                "recency": (local_now() - score.last_visit_at).days if score.last_visit_at else None,
                "referrals": score.referrals, "referral_spending": score.referral_spending,
                "satisfaction": score.satisfaction}
    explained = []
    for item in listed:
        points = getattr(score, f"points_{item.code}")
        contribution = round(points * item.weight / total, 2) if item in counted else 0.0
        explained.append(ItemPoints(item.code, item.name, measures[item.code], points, item.weight, item.enabled,
                                    contribution))
    return explained


def segment_counts() -> dict[str, int]:
    rows = db.session.execute(sa.select(Score.segment, sa.func.count()).where(Score.segment.is_not(None))
                              .group_by(Score.segment)).all()
    counts = dict(rows)
    return {segment: counts.get(segment, 0) for segment in SEGMENTS}


def rfm_grid() -> dict[tuple[int, int], int]:
    """Patients per (recency, frequency) quintile."""
    rows = db.session.execute(sa.select(Score.r, Score.f, sa.func.count()).where(Score.r.is_not(None))
                              .group_by(Score.r, Score.f)).all()
    return {(r, f): n for r, f, n in rows}


DISTRIBUTION_BANDS = (0, 20, 40, 60, 80)


def distribution() -> list[tuple[str, int]]:
    """Patients per score band (0–19, 20–39, … 80–100)."""
    band = sa.case(*[(Score.score >= low, low) for low in reversed(DISTRIBUTION_BANDS)], else_=0)
    counts = dict(db.session.execute(sa.select(band, sa.func.count()).group_by(band)).all())
    return [(f"{low}–{low + 19 if low < 80 else 100}", counts.get(low, 0)) for low in DISTRIBUTION_BANDS]
