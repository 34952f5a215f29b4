"""Follow-up statistics (a submodule named `reports` would shadow the part's reports() function).
Seed §3.8: plans, completions and rounds per assignee, department,
method or category over a period, with completion, overdue and reach rates. Charted and
exported (CSV / Excel) by the core; the queries run in the caller's scope and aggregate in the
database (one grouped query for plans, one for rounds)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from core import clock
from core.declarations import Chart, Report, ReportParam, ReportResult
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import Department, User
from plugins.followup.models import OPEN_STATUSES, Category, Method, Plan, Round
from plugins.followup.planning.plan_services import local_now

PERMISSION = "followup.reports"
GROUPS = {  # key: (the plan's column, the named table, its name column)
    "assignee": (Plan.owner_id, User, User.display_name),
    "department": (Plan.department_id, Department, Department.name),
    "method": (Plan.method_id, Method, Method.name),
    "category": (Plan.category_id, Category, Category.name),
}
GROUP_CHOICES = (("assignee", _l("Assignee (doctor)")), ("department", _l("Department")), ("method", _l("Method")),
                 ("category", _l("Category")))


def rate(part: int, whole: int) -> float | None:
    """A percentage with one decimal; None when there is nothing to divide."""
    return round(part * 100 / whole, 1) if whole else None


def _period(params) -> tuple[datetime, datetime]:
    start, end = params["date_from"], params["date_to"]
    if start > end:
        start, end = end, start
    return datetime.combine(start, time.min), datetime.combine(end + timedelta(days=1), time.min)


def plan_statistics(params) -> ReportResult:
    column, named, name = GROUPS[params["group"]]
    start, end = _period(params)
    now = local_now()
    plans = db.session.execute(
        sa.select(column, sa.func.count(), sa.func.count().filter(Plan.status == "completed"),
                  sa.func.count().filter(Plan.status == "in_progress"),
                  sa.func.count().filter(Plan.status == "pending"),
                  sa.func.count().filter(Plan.status.in_(OPEN_STATUSES), Plan.due_at < now),
                  sa.func.count().filter(Plan.status.in_(("cancelled", "no_followup"))))
        .where(Plan.due_at >= start, Plan.due_at < end).group_by(column)).all()
    rounds = dict((key, (n, reached)) for key, n, reached in db.session.execute(
        sa.select(column, sa.func.count(Round.id), sa.func.count(Round.id).filter(Round.reached.is_(True)))
        .select_from(Round).join(Plan, Plan.id == Round.plan_id)
        .where(Round.at >= start, Round.at < end).group_by(column)).all())
    keys = {row[0] for row in plans} | set(rounds)
    names = dict(db.session.execute(sa.select(named.id, name).where(named.id.in_([k for k in keys if k]))).all())
    by_key = {row[0]: tuple(row[1:]) for row in plans}
    rows = []
    for key in keys:
        total, completed, following, pending, overdue, dropped = by_key.get(key, (0, 0, 0, 0, 0, 0))
        n_rounds, reached = rounds.get(key, (0, 0))
        rows.append({"group": names.get(key) or _("(unassigned)"), "plans": total, "completed": completed,
                     "following_up": following, "not_completed": pending, "overdue": overdue, "cancelled": dropped, "completion_rate": rate(completed, total),
                     "overdue_rate": rate(overdue, total), "rounds": n_rounds, "reached": reached,
                     "reach_rate": rate(reached, n_rounds)})
    rows.sort(key=lambda r: (-r["plans"], -r["rounds"], str(r["group"])))
    total_plans = sum(r["plans"] for r in rows)
    if rows:
        sums = {k: sum(r[k] for r in rows) for k in ("plans", "completed", "following_up", "not_completed", "overdue",
                                                      "cancelled", "rounds", "reached")}
        rows.append({"group": _("Total"), **sums, "completion_rate": rate(sums["completed"], total_plans),
                     "overdue_rate": rate(sums["overdue"], total_plans), "reach_rate": rate(sums["reached"], sums["rounds"])})
    columns = [("group", dict(GROUP_CHOICES)[params["group"]]), ("plans", _l("Plans due")),
               ("completed", _l("Completed")), ("following_up", _l("Following up")),
               ("not_completed", _l("Not completed")), ("overdue", _l("Overdue")), ("cancelled", _l("Cancelled / no follow-up")),
               ("completion_rate", _l("Completion rate %")), ("overdue_rate", _l("Overdue rate %")),
               ("rounds", _l("Rounds")), ("reached", _l("Reached")), ("reach_rate", _l("Reach rate %"))]
    return ReportResult(columns=columns, rows=rows)


CROSS_GROUPS = {  # per: (the column, the named table, its name column)
    "department": (Plan.department_id, Department, Department.name),
    "assignee": (Round.user_id, User, User.display_name),
}
CROSS_CHOICES = (("department", _l("Department")), ("assignee", _l("Person (who followed up)")))


def method_crosstab(params) -> ReportResult:
    """Seed §3.8.3: follow-ups done (rounds recorded) in the period, per department or per person,
    one column per method (phone, SMS …), with the total. One grouped query; a round's method is
    the one it was made by, else its plan's; a person is whoever recorded the round, a department
    the plan's."""
    column, named, name = CROSS_GROUPS[params["per"]]
    start, end = _period(params)
    method = sa.func.coalesce(Round.method_id, Plan.method_id)
    grouped = db.session.execute(
        sa.select(column, method, sa.func.count(Round.id)).select_from(Round).join(Plan, Plan.id == Round.plan_id)
        .where(Round.at >= start, Round.at < end).group_by(column, method)).all()
    keys = {k for k, _m, _n in grouped}
    names = dict(db.session.execute(sa.select(named.id, name).where(named.id.in_([k for k in keys if k]))).all())
    used = {m for _k, m, _n in grouped}
    methods = db.session.execute(sa.select(Method.id, Method.name).where(sa.or_(Method.active.is_(True), Method.id.in_(
        [m for m in used if m]))).order_by(Method.position, Method.id)).all()
    columns = [("group", dict(CROSS_CHOICES)[params["per"]])]
    columns += [(f"method_{ident}", label) for ident, label in methods]
    if None in used:
        columns.append(("method_none", _l("No method")))
    columns.append(("total", _l("Total")))
    table: dict = {}
    for key, method_id, n in grouped:
        row = table.setdefault(key, {"group": names.get(key) or _("(unassigned)"),
                                     **{c: 0 for c, _label in columns[1:]}})
        row[f"method_{method_id}" if method_id else "method_none"] += n
        row["total"] += n
    rows = sorted(table.values(), key=lambda r: (-r["total"], str(r["group"])))
    if rows:
        rows.append({"group": _("Total"), **{c: sum(r[c] for r in rows) for c, _label in columns[1:]}})
    return ReportResult(columns=columns, rows=rows)


def _month_start() -> date:
    return clock.local_today().replace(day=1)


def reports() -> list[Report]:
    return [
        Report(id="followup.method_crosstab", title=_l("Follow-ups by method"), permission=PERMISSION,
               query=method_crosstab, chart=Chart("bar", "group", (), y_prefix="method_", stack=True, total_row=True),
               params=[ReportParam("date_from", _l("From"), "date", default=_month_start, required=True),
                       ReportParam("date_to", _l("To"), "date", default=clock.local_today, required=True),
                       ReportParam("per", _l("Per"), "choice", default="department", choices=CROSS_CHOICES,
                                   required=True)],
               description=_l("Follow-ups recorded in the period by phone, SMS and the other methods, per "
                              "department or per person: one column per method, with the total.")),
        Report(id="followup.plan_statistics", title=_l("Follow-up plans and completion"), permission=PERMISSION,
               query=plan_statistics, chart=Chart("bar", "group", ("completed", "following_up", "not_completed", "cancelled"),
                                                       stack=True, total_row=True),
               params=[ReportParam("date_from", _l("From"), "date", default=_month_start, required=True),
                       ReportParam("date_to", _l("To"), "date", default=clock.local_today, required=True),
                       ReportParam("group", _l("Per"), "choice", default="assignee", choices=GROUP_CHOICES,
                                   required=True)],
               description=_l("Plans due in the period and rounds recorded in it, per assignee, department, "
                              "method or category: completed, following up (a round recorded, not closed) and "
                              "not completed (no round yet) plans, completion rate (completed / plans), overdue "
                              "rate (open and past due / plans) and reach rate (patients reached / rounds).")),
    ]
