"""Complaint statistics through the core's reports (charted, CSV/.xlsx export, whole group on
request): by category, department, staff, channel or month; handling time and on-time rate;
month by month with MoM/YoY; repeat complainants; rewards and penalties per department. Each
query runs in the caller's scope (tenancy, data scope and "not about me" apply)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from core.clock import local_sql, local_to_utc, local_today
from core.declarations import Chart, Report, ReportParam, ReportResult
from core.extensions import db
from core.i18n import lazy_gettext as _l
from core.models import Department, User
from plugins.patients.public import change, month_of

from .models import POSITIVE_KINDS, Complaint, ComplaintCategory, ComplaintChannel, ComplaintStaff, Sanction

PERMISSION = "complaints.read"
DIMENSIONS = (("category", _l("Category")), ("department", _l("Department")), ("staff", _l("Staff")),
              ("channel", _l("Channel")), ("month", _l("Month")))


def _dialect() -> str:
    return db.engine.dialect.name


def _days_sum(start, end):
    """Calendar days between two UTC stamps, summed over the group, in SQL. PostgreSQL sums the
    intervals and converts once per group: a per-row ``extract(epoch …)`` is numeric arithmetic
    that cost a third of the report at 100k complaints."""
    if _dialect() == "postgresql":
        return sa.cast(sa.extract("epoch", sa.func.sum(end - start)), sa.Float) / 86400.0
    return sa.func.sum(sa.func.julianday(end) - sa.func.julianday(start))


def _answered_at():
    return sa.func.coalesce(Complaint.replied_at, Complaint.closed_at)


def _period(params) -> tuple:
    start = params.get("from") or date(local_today().year, 1, 1)
    end = params.get("to") or local_today()
    if end < start:
        start, end = end, start
    return (Complaint.received_at >= local_to_utc(datetime.combine(start, time())),
            Complaint.received_at < local_to_utc(datetime.combine(end + timedelta(days=1), time())))


MEASURES = ("total", "justified", "closed", "answered", "on_time", "days")


def _measures():
    """Counts with FILTER (cheaper than summing CASEs) and the summed handling days (``days``,
    divided by ``answered`` in :func:`_row`, so groups can be added up exactly)."""
    answered = _answered_at()
    return (sa.func.count().label("total"),
            sa.func.count().filter(Complaint.finding.in_(("justified", "partly"))).label("justified"),
            sa.func.count().filter(Complaint.status == "closed").label("closed"),
            sa.func.count(answered).label("answered"),  # NULL (unanswered) left out, as from the days
            sa.func.count().filter(Complaint.on_time.is_(True)).label("on_time"),
            _days_sum(Complaint.received_at, answered).label("days"))


def _row(label, r) -> dict:
    answered = int(r.answered or 0)
    return {"group": label, "total": int(r.total), "justified": int(r.justified or 0), "closed": int(r.closed or 0),
            "handling_days": round(float(r.days) / answered, 1) if answered and r.days is not None else None,
            "on_time_rate": round(100.0 * int(r.on_time or 0) / answered, 1) if answered else None}


#: Dimensions grouped by the complaint's own column, named afterwards: the database aggregates
#: integers and joins the names to one row per group instead of to every complaint.
KEYED = {"category": lambda: (Complaint.category_id, ComplaintCategory, ComplaintCategory.name),
         "channel": lambda: (Complaint.channel_id, ComplaintChannel, ComplaintChannel.name),
         "department": lambda: (Complaint.department_id, Department, sa.func.coalesce(Department.name, "—"))}


def by_dimension(params: dict) -> ReportResult:
    by = params.get("by") or "category"
    where = _period(params)
    measures = _measures()
    if by in KEYED:
        key, model, label = KEYED[by]()
        grouped = sa.select(key.label("key"), *measures).where(*where).group_by(key).subquery()
        # Re-grouped by name: two choices of the same name (an old and a new one) make one row.
        stmt = (sa.select(label.label("label"), *(sa.func.sum(grouped.c[m]).label(m) for m in MEASURES))
                .select_from(grouped).outerjoin(model, model.id == grouped.c.key).group_by(label))
    elif by == "staff":
        label = sa.func.coalesce(User.display_name, ComplaintStaff.name)
        stmt = (sa.select(label.label("label"), *measures).select_from(Complaint)
                .join(ComplaintStaff, ComplaintStaff.complaint_id == Complaint.id)
                .outerjoin(User, ComplaintStaff.user_id == User.id).where(*where).group_by(label))
    else:
        label = month_of(local_sql(Complaint.received_at, _dialect()))
        stmt = sa.select(label.label("label"), *measures).where(*where).group_by(label)
    rows = db.session.execute(stmt.order_by(sa.desc("total"), label)).all()
    columns = [("group", dict(DIMENSIONS).get(by, _l("Category"))), ("total", _l("Complaints")),
               ("justified", _l("Justified or partly")), ("closed", _l("Closed")),
               ("handling_days", _l("Average handling time (days)")), ("on_time_rate", _l("On-time rate %"))]
    result_rows = [_row(r.label, r) for r in rows]
    if by == "month":
        result_rows.sort(key=lambda row: row["group"] or "")
    return ReportResult(columns=columns, rows=result_rows)


def monthly(params: dict) -> ReportResult:
    """Received complaints per month of a year, with the same month last year, MoM and YoY."""
    year = params.get("year") or local_today().year
    if not 1901 < year < 2999:
        return ReportResult(columns=[("month", _l("Month"))], rows=[])
    start, end = local_to_utc(datetime(year - 1, 1, 1)), local_to_utc(datetime(year + 1, 1, 1))
    month = month_of(local_sql(Complaint.received_at, _dialect())).label("month")
    measures = _measures()
    data = {r.month: r for r in db.session.execute(
        sa.select(month, *measures).where(Complaint.received_at >= start, Complaint.received_at < end)
        .group_by(month)).all()}
    today = local_today()
    last = 12 if year < today.year else (today.month if year == today.year else 0)
    rows = []
    for m in range(1, last + 1):
        key, before = f"{year:04d}-{m:02d}", (f"{year:04d}-{m - 1:02d}" if m > 1 else f"{year - 1:04d}-12")
        last_year = f"{year - 1:04d}-{m:02d}"
        total = data[key].total if key in data else 0
        row = _row(key, data[key]) if key in data else {"group": key, "total": 0, "justified": 0, "closed": 0,
                                                        "handling_days": None, "on_time_rate": None}
        prev_total = data[before].total if before in data else 0
        ly_total = data[last_year].total if last_year in data else 0
        row.update(last_year=ly_total, mom=change(total, prev_total), yoy=change(total, ly_total))
        rows.append(row)
    columns = [("group", _l("Month")), ("total", _l("Complaints")), ("justified", _l("Justified or partly")),
               ("closed", _l("Closed")), ("handling_days", _l("Average handling time (days)")),
               ("on_time_rate", _l("On-time rate %")), ("last_year", _l("Same month last year")),
               ("mom", _l("MoM %")), ("yoy", _l("YoY %"))]
    return ReportResult(columns=columns, rows=rows)


def repeat_complainants(params: dict) -> ReportResult:
    """Complainants with several complaints in the period: by archive patient, else by phone."""
    minimum = max(2, params.get("minimum") or 2)
    who = sa.func.coalesce(sa.cast(Complaint.patient_id, sa.String), Complaint.contact_phone)
    rows = db.session.execute(
        sa.select(who.label("who"), sa.func.count(Complaint.id).label("n"),
                  sa.func.max(Complaint.complainant_name).label("name"),
                  sa.func.max(Complaint.phone_last4).label("last4"),
                  sa.func.max(Complaint.reference).label("latest"))
        .where(*_period(params), Complaint.anonymous.is_(False), who.is_not(None))
        .group_by(who).having(sa.func.count(Complaint.id) >= minimum)
        .order_by(sa.desc("n"), who).limit(500)).all()
    patient_names = {}
    ids = [int(r.who) for r in rows if r.who and r.who.isdigit() and len(r.who) < 10]
    if ids:
        from plugins.patients.public import Patient
        patient_names = dict(db.session.execute(sa.select(Patient.id, Patient.name).where(Patient.id.in_(ids))).all())
    result = []
    for r in rows:
        is_patient = r.who.isdigit() and len(r.who) < 10 and int(r.who) in patient_names
        result.append({"complainant": patient_names[int(r.who)] if is_patient else (r.name or "—"),
                       "phone": f"****{r.last4}" if r.last4 else "", "complaints": r.n, "latest": r.latest})
    return ReportResult(columns=[("complainant", _l("Complainant")), ("phone", _l("Phone")),
                                 ("complaints", _l("Complaints")), ("latest", _l("Latest reference"))], rows=result)


def sanctions_by_department(params: dict) -> ReportResult:
    start = params.get("from") or date(local_today().year, 1, 1)
    end = params.get("to") or local_today()
    positive = Sanction.kind.in_(POSITIVE_KINDS)
    label = sa.func.coalesce(Department.name, "—")
    rows = db.session.execute(
        sa.select(label.label("department"),
                  sa.func.sum(sa.case((positive, 1), else_=0)).label("rewards"),
                  sa.func.sum(sa.case((positive, 0), else_=1)).label("penalties"),
                  sa.func.sum(sa.case((positive, Sanction.amount), else_=0)).label("reward_amount"),
                  sa.func.sum(sa.case((positive, 0), else_=Sanction.amount)).label("penalty_amount"),
                  sa.func.sum(sa.func.coalesce(Sanction.points, 0)).label("points"))
        .select_from(Sanction).outerjoin(Department, Sanction.department_id == Department.id)
        .where(Sanction.state == "approved",
               Sanction.created_at >= local_to_utc(datetime.combine(start, time())),
               Sanction.created_at < local_to_utc(datetime.combine(end + timedelta(days=1), time())))
        .group_by(label).order_by(label)).all()
    return ReportResult(
        columns=[("department", _l("Department")), ("rewards", _l("Praise and rewards")),
                 ("penalties", _l("Penalties")), ("reward_amount", _l("Rewards (yuan)")),
                 ("penalty_amount", _l("Penalties (yuan)")), ("points", _l("Points"))],
        rows=[{"department": r.department, "rewards": int(r.rewards or 0), "penalties": int(r.penalties or 0),
               "reward_amount": r.reward_amount or 0, "penalty_amount": r.penalty_amount or 0,
               "points": int(r.points or 0)} for r in rows])


def _year_start():
    today = local_today()
    return date(today.year, 1, 1)


def _period_params():
    return [ReportParam("from", _l("From"), "date", default=_year_start),
            ReportParam("to", _l("To"), "date", default=local_today)]


def reports() -> list[Report]:
    return [
        Report("complaints.statistics", _l("Complaint statistics"), PERMISSION, query=by_dimension,
               params=[ReportParam("by", _l("By"), "choice", default="category", choices=DIMENSIONS)]
               + _period_params(),
               chart=Chart("bar", "group", ("total", "justified")),
               description=_l("Complaints by category, department, staff, channel or month: how many, how many "
                              "justified, average handling time and the share answered by the deadline.")),
        Report("complaints.monthly", _l("Complaints per month"), PERMISSION, query=monthly,
               params=[ReportParam("year", _l("Year"), "int", default=lambda: local_today().year)],
               chart=Chart("line", "group", ("total", "last_year")),
               description=_l("Complaints received per month with month-on-month and year-on-year change, "
                              "handling time and on-time rate.")),
        Report("complaints.repeat", _l("Repeat complainants"), PERMISSION, query=repeat_complainants,
               params=_period_params() + [ReportParam("minimum", _l("At least"), "int", default=2)],
               description=_l("Complainants (archive patients, else by phone) with several complaints.")),
        Report("complaints.sanctions", _l("Rewards and penalties per department"), PERMISSION,
               query=sanctions_by_department, params=_period_params(),
               chart=Chart("bar", "department", ("rewards", "penalties")),
               description=_l("Approved rewards (praise letters included) and penalties per department.")),
    ]


__all__ = ["reports", "by_dimension", "monthly", "repeat_complainants", "sanctions_by_department"]
