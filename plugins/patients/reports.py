"""Reports and the dashboard card of the patients plugin: the statistics of seed 000 (门诊量,
住院量, 创收, 人均消费, 零消费, monthly analysis with 同比 YoY and 环比 MoM).

Every figure is aggregated by the database (GROUP BY month); Python only lays the few grouped
rows out as a table. Queries run in the caller's tenancy scope, so a hospital (and a user with an
own/department data scope) only ever counts what it may see. Cancelled visits are not counted;
merged duplicates are not new patients.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import url_for
from werkzeug.routing import BuildError

from core.clock import local_sql, local_to_utc, local_today
from core.dashboard import daily_trend
from core.declarations import Chart, Report, ReportParam, ReportResult, Widget, WidgetData
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.i18n import lazy_pgettext
from core.models import Department
from core.paging import count_rows
from plugins.patients import services
from plugins.patients.models import Patient, Source, Visit

PERMISSION = "patients.read"
FIRST_YEAR, LAST_YEAR = 1900, 2999  # outside: an empty report rather than a date overflow
CENT = Decimal("0.01")
KIND_CHOICES = (("all", _l("All visits")), ("outpatient", _l("Outpatient")), ("inpatient", _l("Inpatient")),
                ("emergency", _l("Emergency")))


# -- helpers shared by the reports ---------------------------------------------------------------
def month_of(column):
    """``YYYY-MM`` of a datetime column, computed by the database (SQLite or PostgreSQL)."""
    if db.engine.dialect.name == "postgresql":
        return sa.func.to_char(column, "YYYY-MM")
    return sa.func.strftime("%Y-%m", column)


def change(current, previous) -> float | None:
    """Percentage change (YoY / MoM), one decimal; None when there is nothing to compare with."""
    if not previous:
        return None
    return round((float(current or 0) - float(previous)) * 100 / float(previous), 1)


def report_months(year: int, today: date | None = None) -> list[int]:
    """The months of ``year`` that have happened (all twelve for a past year)."""
    today = today or local_today()
    if not FIRST_YEAR <= year <= LAST_YEAR or year > today.year:
        return []
    return list(range(1, (today.month if year == today.year else 12) + 1))


def key(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def _year(params) -> int:
    return params.get("year") or local_today().year


def _range(column, year: int, *, utc: bool = False):
    """The year asked for and the one before it: enough for YoY, and for January's MoM.
    ``utc``: the column holds UTC stamps, so the local year's bounds are converted."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return sa.false()
    start, end = datetime(year - 1, 1, 1), datetime(year + 1, 1, 1)
    if utc:
        start, end = local_to_utc(start), local_to_utc(end)
    return sa.and_(column >= start, column < end)


def _visits(params, *columns, group_by=()):
    year = _year(params)
    stmt = sa.select(*columns).select_from(Visit).where(_range(Visit.visit_at, year), Visit.status != "cancelled")
    if params.get("kind") and params["kind"] != "all":
        stmt = stmt.where(Visit.kind == params["kind"])
    return stmt.group_by(*group_by)


def _money(value) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


def _previous(year: int, month: int) -> str:
    return key(year - 1, 12) if month == 1 else key(year, month - 1)


def _year_param():
    return ReportParam("year", _l("Year"), "int", default=lambda: local_today().year, required=True)


def _kind_param():
    return ReportParam("kind", _l("Visit kind"), "choice", default="all", choices=KIND_CHOICES)


# -- new patients per month by source -------------------------------------------------------------
def new_by_source(params: dict) -> ReportResult:
    """Patients registered in the CRM per month and source channel (the total, MoM and YoY are
    theirs), and beside them those synced from the HIS and imported from files in the month:
    people who already existed, reported as such rather than as new patients."""
    year = _year(params)
    months = report_months(year)
    # Registration stamps are UTC; the month is the hospital's (a 23:30 registration on 31 May
    # in Beijing is May's, though it is 15:30 UTC).
    month = month_of(local_sql(Patient.created_at, db.engine.dialect.name)).label("month")
    grouped = db.session.execute(
        sa.select(month, Patient.origin, Source.name, sa.func.count(Patient.id))
        .select_from(Patient).outerjoin(Source, Patient.source_id == Source.id)
        .where(_range(Patient.created_at, year, utc=True), Patient.merged_into_id.is_(None))
        .group_by(month, Patient.origin, Source.name)).all()
    counts: dict[tuple[str, str | None], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    arrived: dict[tuple[str, str], int] = defaultdict(int)  # (month, origin) of the others
    for m, origin, source, n in grouped:
        if origin != "crm":
            arrived[(m, origin)] += n
            continue
        counts[(m, source)] += n
        totals[m] += n
    this_year = {key(year, m) for m in months}
    # Sources as the hospital orders them, by name: two entries named alike share one column.
    active: dict[str, bool] = {}
    for name, is_active in db.session.execute(
            sa.select(Source.name, Source.active).order_by(Source.position, Source.id)):
        active[name] = active.get(name, False) or is_active
    used = {source for (m, source) in counts if m in this_year}
    shown = [name for name, is_active in active.items() if is_active or name in used]
    shown += sorted(s for s in used if s is not None and s not in shown)
    source_keys = {name: f"source_{i}" for i, name in enumerate(shown)}
    columns = [("month", _l("Month"))] + [(source_keys[name], name) for name in shown]
    if None in used:
        columns.append(("source_none", _l("No source")))
    columns += [("total", _l("New patients")), ("last_year", _l("Same month last year")),
                ("mom", _l("MoM %")), ("yoy", _l("YoY %")),
                ("from_his", _l("Synced from the HIS")), ("imported", _l("Imported"))]
    rows = []
    for m in months:
        label = key(year, m)
        row = {"month": label, **{source_keys[name]: counts[(label, name)] for name in shown}}
        if None in used:
            row["source_none"] = counts[(label, None)]
        row.update(total=totals[label], last_year=totals[key(year - 1, m)],
                   mom=change(totals[label], totals[_previous(year, m)]),
                   yoy=change(totals[label], totals[key(year - 1, m)]),
                   from_his=arrived[(label, "his")], imported=arrived[(label, "import")])
        rows.append(row)
    return ReportResult(columns=columns, rows=rows)


# -- visits per department and month (门诊量 / 住院量) ---------------------------------------------
def visits_by_department(params: dict) -> ReportResult:
    year = _year(params)
    months = report_months(year)
    month = month_of(Visit.visit_at).label("month")
    grouped = db.session.execute(
        _visits(params, Department.name, month, sa.func.count(Visit.id), group_by=(Department.name, month))
        .outerjoin(Department, Visit.department_id == Department.id)).all()
    counts: dict[str | None, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for department, m, n in grouped:
        counts[department][m] += n
    columns = [("department", _l("Department"))]
    columns += [(f"m{m:02d}", key(year, m)) for m in range(1, 13)]
    columns += [("total", _l("Total")), ("last_year", _l("Same period last year")), ("yoy", _l("YoY %"))]
    rows, unassigned = [], None
    for department, by_month in counts.items():
        total = sum(by_month[key(year, m)] for m in months)
        last_year = sum(by_month[key(year - 1, m)] for m in months)
        if not total and not last_year:
            continue  # only December of the year before: not part of this report
        row = {"department": department if department is not None else _("No department")}
        row.update({f"m{m:02d}": by_month[key(year, m)] if m in months else None for m in range(1, 13)})
        row.update(total=total, last_year=last_year, yoy=change(total, last_year))
        if department is None:
            unassigned = row
        else:
            rows.append(row)
    rows.sort(key=lambda r: (-r["total"], -r["last_year"], r["department"]))
    return ReportResult(columns=columns, rows=rows + ([unassigned] if unassigned else []))


# -- spending per visit and per patient (创收 / 次均消费 / 人均消费 / 零消费) ------------------------------
def spending_per_visit(params: dict) -> ReportResult:
    """Per month: visits, the patients they were of, spending, spending per visit (次均) and per
    patient (人均: a patient seen three times in the month counts once)."""
    year = _year(params)
    month = month_of(Visit.visit_at).label("month")
    zero = sa.func.sum(sa.case((Visit.spending == 0, 1), else_=0))
    grouped = db.session.execute(_visits(
        params, month, sa.func.count(Visit.id), sa.func.count(sa.distinct(Visit.patient_id)),
        sa.func.coalesce(sa.func.sum(Visit.spending), 0), zero, group_by=(month,))).all()
    stats = {m: (int(n), int(people), _money(total), int(zeros or 0)) for m, n, people, total, zeros in grouped}
    empty = (0, 0, Decimal("0.00"), 0)
    columns = [("month", _l("Month")), ("visits", lazy_pgettext("count", "Visits")),
               ("patients", _l("Patients seen")),
               ("spending", _l("Spending (yuan)")), ("per_visit", _l("Spending per visit")),
               ("per_patient", _l("Spending per patient")),
               ("zero_spending", _l("Zero-spending visits")),
               ("last_year", _l("Spending same month last year")), ("mom", _l("Spending MoM %")),
               ("yoy", _l("Spending YoY %"))]
    rows = []
    for m in report_months(year):
        visits, people, spending, zeros = stats.get(key(year, m), empty)
        before = stats.get(_previous(year, m), empty)[2]
        last_year = stats.get(key(year - 1, m), empty)[2]
        rows.append({"month": key(year, m), "visits": visits, "patients": people, "spending": spending,
                     "per_visit": (spending / visits).quantize(CENT) if visits else None,
                     "per_patient": (spending / people).quantize(CENT) if people else None,
                     "zero_spending": zeros, "last_year": last_year,
                     "mom": change(spending, before), "yoy": change(spending, last_year)})
    return ReportResult(columns=columns, rows=rows)


def reports() -> list[Report]:
    return [
        Report(id="patients.new_by_source", title=_l("New patients by source"), permission=PERMISSION,
               query=new_by_source, params=[_year_param()],
               chart=Chart("bar", "month", (), y_prefix="source_", stack=True),
               description=_l("Patients registered in the CRM per month and source channel, with month-on-month "
                              "and year-on-year change of their total; patients synced from the HIS or imported "
                              "from a file in the month are counted in columns of their own.")),
        Report(id="patients.visits_by_department", title=_l("Visits by department"), permission=PERMISSION,
               query=visits_by_department, params=[_year_param(), _kind_param()],
               chart=Chart("bar", "department", ("total", "last_year")),
               description=_l("Outpatient, inpatient and emergency volume per department and month, with the "
                              "year-on-year change over the same months.")),
        Report(id="patients.spending_per_visit", title=_l("Spending per visit and per patient"),
               permission=PERMISSION, query=spending_per_visit, params=[_year_param(), _kind_param()],
               chart=Chart("line", "month", ("spending", "last_year")),
               description=_l("Visits, the patients seen, total spending, spending per visit and per patient, and "
                              "zero-spending visits per month, with month-on-month and year-on-year change of "
                              "the spending.")),
    ]


# -- dashboard card -----------------------------------------------------------------------------
def _url(endpoint: str, **values) -> str | None:
    try:
        return url_for(endpoint, **values)
    except BuildError:  # the page is not there (yet): the card shows without a link
        return None


def _count(stmt) -> int:
    return db.session.execute(stmt).scalar_one()


def _listed(**filters) -> int:
    """How many patients the patient list shows with these filters: its own statement, counted."""
    return count_rows(services.search(services.PatientQuery(**filters)))[0]


def patients_card(today: date | None = None) -> WidgetData:
    """New patients this month (registered in the CRM: synced and imported ones already existed,
    and show on their own line when there are any), the patients seen today and the key
    patients. Each figure is counted with the patient list's statement for the filters its link
    opens the list with, so a card never disagrees with its list. The trend: the CRM's new
    patients per day over the last 30 days (one grouped query)."""
    today = today or local_today()
    month = {"registered_from": today.replace(day=1), "registered_to": today}

    def listed(label, **filters):
        args = {k: v.isoformat() if isinstance(v, date) else ("1" if v is True else v) for k, v in filters.items()}
        return label, _listed(**filters), _url("patients.index", **args)

    _label, new, new_url = listed("", origin="crm", **month)
    items = [listed(_("Patients seen today"), visit_from=today, visit_to=today),
             listed(_("Key patients"), key_patient=True)]
    for origin, label in ((("his", _("Synced from the HIS this month")), ("import", _("Imported this month")))):
        item = listed(label, origin=origin, **month)
        if item[1]:
            items.append(item)
    return WidgetData(title=_("Patients"), value=new, subtitle=_("New patients this month"), url=new_url,
                      icon="people", items=items,
                      trend=daily_trend(Patient.created_at, today, Patient.origin == "crm",
                                        Patient.merged_into_id.is_(None), utc=True))


def widgets() -> list[Widget]:
    return [Widget("patients.summary", PERMISSION, patients_card, order=10)]
