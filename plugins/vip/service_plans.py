"""VIP service plans (VIP服务计划) and their tasks.

``generate`` (the daily job, or "generate now") writes the tasks due from today to
``HORIZON_DAYS`` ahead for every member of each active plan's tier, with one INSERT…SELECT per
plan and due rule (idempotent: a (plan, patient, day) exists once). Where the followup plugin is
live the new tasks are handed to it as follow-up plans (the event ``followup.plans_requested``,
which followup publishes; vip never imports it) and marked ``channel = followup``; otherwise
staff work them here: 未执行 → 执行中 → 执行完毕. Completion rates per plan and tier count the
tasks worked here.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from core import events
from core.activation import live_plugins
from core.clock import local_today
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import utcnow
from plugins.patients.public import Patient, Visit
from plugins.vip.models import PLAN_KINDS, TASK_STATUSES, Member, ServicePlan, ServiceTask, Tier
from plugins.vip.tiering import VipInvalid, _int, _text

HORIZON_DAYS = 14
FORWARD_LIMIT = 5000  # tasks handed to followup per run
METHODS = ("phone", "sms", "wechat", "home_visit")
KIND_LABELS = {"birthday": _l("Birthday care"), "quarterly": _l("Quarterly check-up reminder"),
               "festival": _l("Festival greetings"), "after_visit": _l("Staff call after a visit")}
METHOD_LABELS = {"phone": _l("Phone"), "sms": _l("SMS"), "wechat": _l("WeChat"), "home_visit": _l("Home visit")}
STATUS_LABELS = {"pending": _l("Not started"), "in_progress": _l("In progress"), "done": _l("Done")}
FOLLOWUP_CATEGORY = {"birthday": "birthday", "quarterly": "revisit", "festival": "revisit", "after_visit": "revisit"}
MMDD = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
TASKS = ServiceTask.__table__
MEMBERS = Member.__table__
PATIENTS = Patient.__table__
VISITS = Visit.__table__


# -- plans ----------------------------------------------------------------------------------------
def plans() -> list[ServicePlan]:
    return list(db.session.execute(sa.select(ServicePlan).join(Tier, Tier.id == ServicePlan.tier_id)
                                   .order_by(Tier.position.desc(), ServicePlan.name)).scalars())


def save_plan(data: dict, plan: ServicePlan | None = None) -> ServicePlan:
    errors: dict[str, str] = {}
    name = _text(data, "name", errors, required=True, limit=100)
    kind = data.get("kind")
    if kind not in PLAN_KINDS:
        errors["kind"] = _("Choose what the plan does.")
    tier = None
    try:
        tier_id = int(data.get("tier_id") or 0)
    except (TypeError, ValueError):
        tier_id = 0
    if 0 < tier_id < 2**31:
        tier = db.session.execute(sa.select(Tier).where(Tier.id == tier_id)).scalar_one_or_none()
    if tier is None:
        errors["tier_id"] = _("Choose one of this hospital's tiers.")
    method = data.get("method") or "phone"
    if method not in METHODS:
        errors["method"] = _("Choose a method.")
    days_after = None
    if kind == "after_visit":
        days_after = _int(data, "days_after", errors, low=0, high=365)
    festival = None
    if kind == "festival":
        festival = _text(data, "festival_dates", errors, required=True, limit=200)
        if festival and "festival_dates" not in errors:
            days = [part.strip() for part in festival.replace("，", ",").split(",") if part.strip()]
            wrong = [day for day in days if not MMDD.match(day)]
            if wrong or not days:
                errors["festival_dates"] = _("Dates as MM-DD separated by commas, e.g. 01-01, 10-01 (not: %(wrong)s).",
                                             wrong=", ".join(wrong))
            festival = ", ".join(days)
    content = _text(data, "content", errors)
    if errors:
        raise VipInvalid(errors)
    if plan is None:
        plan = ServicePlan()
        db.session.add(plan)
    plan.name, plan.kind, plan.tier_id, plan.method, plan.days_after = name, kind, tier.id, method, days_after
    plan.festival_dates, plan.content, plan.active = festival, content, bool(data.get("active", True))
    db.session.flush()
    return plan


# -- generation -----------------------------------------------------------------------------------
def _mmdd(column, dialect: str):
    return sa.func.to_char(column, "MM-DD") if dialect == "postgresql" else sa.func.strftime("%m-%d", column)


def _insert(hospital_id: int, plan: ServicePlan, select_patient_due) -> int:
    """INSERT…SELECT the (patient_id, due_date) rows of ``select_patient_due`` not there yet."""
    rows = select_patient_due.subquery("due")
    exists = sa.exists().where(TASKS.c.plan_id == plan.id, TASKS.c.patient_id == rows.c.patient_id,
                               TASKS.c.due_date == rows.c.due_date)
    result = db.session.execute(sa.insert(TASKS).from_select(
        ["hospital_id", "plan_id", "tier_id", "patient_id", "due_date", "channel", "status", "created_at"],
        sa.select(sa.literal(hospital_id), sa.literal(plan.id), sa.literal(plan.tier_id), rows.c.patient_id,
                  rows.c.due_date, sa.literal("vip"), sa.literal("pending"), sa.literal(utcnow(), sa.DateTime))
        .where(~exists)))
    return result.rowcount or 0


def _members_of(plan: ServicePlan, hospital_id: int):
    return (sa.select(MEMBERS.c.patient_id).join(PATIENTS, PATIENTS.c.id == MEMBERS.c.patient_id)
            .where(MEMBERS.c.hospital_id == hospital_id, MEMBERS.c.tier_id == plan.tier_id,
                   PATIENTS.c.merged_into_id.is_(None)))


def _due_rows(plan: ServicePlan, hospital_id: int, today: date, dialect: str):
    horizon = [today + timedelta(days=n) for n in range(HORIZON_DAYS + 1)]
    members = _members_of(plan, hospital_id)
    if plan.kind == "birthday":
        by_day = {f"{day:%m-%d}": day for day in horizon}
        mmdd = _mmdd(PATIENTS.c.birth_date, dialect)
        return [members.add_columns(sa.case(by_day, value=mmdd).label("due_date"))
                .where(PATIENTS.c.birth_date.is_not(None), mmdd.in_(list(by_day)))]
    if plan.kind in ("quarterly", "festival"):
        if plan.kind == "quarterly":
            wanted = [day for day in horizon if day.day == 1 and day.month in (1, 4, 7, 10)]
        else:
            dates = {part.strip() for part in (plan.festival_dates or "").split(",")}
            wanted = [day for day in horizon if f"{day:%m-%d}" in dates]
        return [members.add_columns(sa.literal(day, sa.Date).label("due_date")) for day in wanted]
    if plan.kind == "after_visit":
        days = plan.days_after or 0
        rows = []
        for offset in range(HORIZON_DAYS + 1):  # the visits whose call falls due in the horizon
            due = today + timedelta(days=offset)
            seen = datetime.combine(due - timedelta(days=days), time.min)
            if seen.date() > today:
                break
            rows.append(members.add_columns(sa.literal(due, sa.Date).label("due_date"))
                        .where(sa.exists().where(VISITS.c.patient_id == MEMBERS.c.patient_id,
                                                 VISITS.c.hospital_id == hospital_id, VISITS.c.visit_at >= seen,
                                                 VISITS.c.visit_at < seen + timedelta(days=1),
                                                 VISITS.c.status != "cancelled")))
        return rows
    return []


def generate(hospital_id: int) -> int:
    """Write the tasks due in the horizon for every active plan; hand them to followup where it
    is live. Returns how many tasks were made."""
    dialect = db.session.get_bind().dialect.name
    today = local_today()
    made = 0
    started = utcnow()
    for plan in db.session.execute(sa.select(ServicePlan).where(ServicePlan.active.is_(True))).scalars().all():
        for rows in _due_rows(plan, hospital_id, today, dialect):
            made += _insert(hospital_id, plan, rows)
    if made and "followup" in live_plugins(hospital_id):
        forward(hospital_id, started)
    return made


def forward(hospital_id: int, since: datetime) -> int:
    """Hand the tasks made since ``since`` to the followup plugin as follow-up plans."""
    fresh = db.session.execute(
        sa.select(TASKS.c.id, TASKS.c.patient_id, TASKS.c.due_date, ServicePlan.kind, ServicePlan.method,
                  ServicePlan.content, ServicePlan.name)
        .join(ServicePlan, ServicePlan.id == TASKS.c.plan_id)
        .where(TASKS.c.hospital_id == hospital_id, TASKS.c.channel == "vip", TASKS.c.status == "pending",
               TASKS.c.created_at >= since).limit(FORWARD_LIMIT)).all()
    if not fresh:
        return 0
    events.emit("followup.plans_requested", hospital_id=hospital_id, requests=[
        {"patient_id": row.patient_id, "due_at": datetime.combine(row.due_date, time(9, 0)),
         "category": FOLLOWUP_CATEGORY[row.kind], "method": row.method, "content": row.content or row.name}
        for row in fresh])
    db.session.execute(sa.update(TASKS).where(TASKS.c.id.in_([row.id for row in fresh])).values(channel="followup"))
    return len(fresh)


def run_task(hospital, **_args) -> None:
    """The queue's entry (the daily job and "generate now")."""
    generate(hospital.id)


# -- working tasks --------------------------------------------------------------------------------
def tasks_stmt(filters: dict):
    stmt = (sa.select(ServiceTask).join(Patient, Patient.id == ServiceTask.patient_id)
            .order_by(ServiceTask.due_date, ServiceTask.id))
    for name in ("plan_id", "tier_id", "status", "channel"):
        if filters.get(name):
            stmt = stmt.where(getattr(ServiceTask, name) == filters[name])
    return stmt


def set_status(task: ServiceTask, status: str, note: str | None, user_id: int | None) -> ServiceTask:
    errors: dict[str, str] = {}
    if status not in TASK_STATUSES:
        errors["status"] = _("Unknown status.")
    elif task.channel != "vip":
        errors["status"] = _("This task was handed to the follow-up centre: work it there.")
    note = _text({"note": note}, "note", errors, limit=255)
    if errors:
        raise VipInvalid(errors)
    task.status, task.note = status, note
    task.done_at, task.done_by_id = (utcnow(), user_id) if status == "done" else (None, None)
    db.session.flush()
    return task


def completion(group_by: str = "plan") -> list[dict]:
    """Tasks worked here per plan (or tier): total, done, in progress, completion rate."""
    key = ServiceTask.plan_id if group_by == "plan" else ServiceTask.tier_id
    model = ServicePlan if group_by == "plan" else Tier
    rows = db.session.execute(
        sa.select(model.name, sa.func.count(),
                  sa.func.sum(sa.case((ServiceTask.status == "done", 1), else_=0)),
                  sa.func.sum(sa.case((ServiceTask.status == "in_progress", 1), else_=0)))
        .join(model, model.id == key).where(ServiceTask.channel == "vip")
        .group_by(model.id, model.name).order_by(model.name)).all()
    return [{"name": name, "total": total, "done": int(done or 0), "in_progress": int(busy or 0),
             "rate": round(100.0 * int(done or 0) / total, 1) if total else 0.0} for name, total, done, busy in rows]
