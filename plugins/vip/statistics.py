"""VIP reports (charted and exported by core.reports): tier distribution, tier movement per
month, value distribution, the RFM grid, the churn list and service-plan completion. Each runs in
the caller's scope and aggregates in the database."""
from __future__ import annotations

from datetime import date, datetime, time

import sqlalchemy as sa

from core import clock
from core.clock import local_today
from core.declarations import Chart, Report, ReportParam, ReportResult
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import Department, User
from plugins.patients.public import Patient
from plugins.vip import service_plans, value
from plugins.vip.models import Member, Score, Tier, TierChange

PERMISSION = "vip.read"
CHURN_LIMIT = 5000


def tier_distribution(params) -> ReportResult:
    counts = dict(db.session.execute(sa.select(Member.tier_id, sa.func.count()).group_by(Member.tier_id)).all())
    rows = [{"tier": tier.name, "members": counts.get(tier.id, 0)}
            for tier in db.session.execute(sa.select(Tier).order_by(Tier.position.desc())).scalars()]
    return ReportResult(columns=[("tier", _("Tier")), ("members", _("Members"))], rows=rows)


def tier_movement(params) -> ReportResult:
    """Joins, ups, downs and leaves per month (the hospital's months) since ``since``."""
    dialect = db.session.get_bind().dialect.name
    local = clock.local_sql(TierChange.changed_at, dialect)
    month = sa.func.to_char(local, "YYYY-MM") if dialect == "postgresql" else sa.func.strftime("%Y-%m", local)
    since = clock.local_to_utc(datetime.combine(params["since"], time.min))
    rows = db.session.execute(sa.select(month.label("month"), TierChange.direction, sa.func.count())
                              .where(TierChange.changed_at >= since).group_by(month, TierChange.direction)
                              .order_by(month)).all()
    by_month: dict[str, dict] = {}
    for key, direction, n in rows:
        by_month.setdefault(key, {"month": key, "join": 0, "up": 0, "down": 0, "leave": 0})[direction] = n
    return ReportResult(columns=[("month", _("Month")), ("join", _("Joined")), ("up", _("Up")), ("down", _("Down")),
                                 ("leave", _("Left"))], rows=list(by_month.values()))


def value_distribution(params) -> ReportResult:
    return ReportResult(columns=[("band", _("Score")), ("patients", _("Patients"))],
                        rows=[{"band": band, "patients": n} for band, n in value.distribution()])


def rfm_grid(params) -> ReportResult:
    grid = value.rfm_grid()
    rows = [{"r": r, **{f"f{f}": grid.get((r, f), 0) for f in range(1, 6)}} for r in range(5, 0, -1)]
    return ReportResult(columns=[("r", _("Recency quintile"))] + [(f"f{f}", _("F%(n)d", n=f)) for f in range(1, 6)],
                        rows=rows)


def segments(params) -> ReportResult:
    return ReportResult(columns=[("segment", _("Segment")), ("patients", _("Patients"))],
                        rows=[{"segment": str(value.SEGMENT_LABELS[code]), "patients": n}
                              for code, n in value.segment_counts().items()])


def churn_list(params) -> ReportResult:
    stmt = (sa.select(Patient.name, Score.last_visit_at, Score.total_visits, Score.score, User.display_name,
                      Department.name)
            .join(Patient, Patient.id == Score.patient_id)
            .outerjoin(User, User.id == Score.owner_id).outerjoin(Department, Department.id == Score.department_id)
            .where(Score.churn == sa.true()).order_by(Score.last_visit_at).limit(CHURN_LIMIT))
    rows = [{"patient": name, "last_visit": f"{last:%Y-%m-%d}" if last else "", "visits": visits,
             "score": float(score), "owner": owner or "", "department": dept or ""}
            for name, last, visits, score, owner, dept in db.session.execute(stmt).all()]
    return ReportResult(columns=[("patient", _("Patient")), ("last_visit", _("Last visit")), ("visits", _("Visits")),
                                 ("score", _("Score")), ("owner", _("Owner")), ("department", _("Department"))],
                        rows=rows)


def plan_completion(params) -> ReportResult:
    rows = service_plans.completion(params["group"])
    return ReportResult(columns=[("name", _("Name")), ("total", _("Tasks")), ("in_progress", _("In progress")),
                                 ("done", _("Done")), ("rate", _("Completion (%)"))], rows=rows)


def _year_ago() -> date:
    today = local_today()
    return today.replace(year=today.year - 1, day=min(today.day, 28))


def reports() -> list[Report]:
    return [
        Report("vip.tiers", _l("VIP tier distribution"), PERMISSION, query=tier_distribution,
               chart=Chart("bar", x="tier", y=("members",))),
        Report("vip.movement", _l("VIP tier movement per month"), PERMISSION, query=tier_movement,
               chart=Chart("bar", x="month", y=("join", "up", "down", "leave")),
               params=[ReportParam("since", _l("Since"), "date", default=_year_ago)]),
        Report("vip.value", _l("Customer value distribution"), PERMISSION, query=value_distribution,
               chart=Chart("bar", x="band", y=("patients",))),
        Report("vip.segments", _l("RFM segments"), PERMISSION, query=segments,
               chart=Chart("pie", x="segment", y=("patients",))),
        Report("vip.rfm", _l("RFM grid (recency × frequency)"), PERMISSION, query=rfm_grid),
        Report("vip.churn", _l("Churn warnings"), PERMISSION, query=churn_list),
        Report("vip.plan_completion", _l("VIP service plan completion"), PERMISSION, query=plan_completion,
               chart=Chart("bar", x="name", y=("rate",)),
               params=[ReportParam("group", _l("Per"), "choice", default="plan",
                                   choices=(("plan", _l("Plan")), ("tier", _l("Tier"))))]),
    ]
