"""Plans (随访计划) and rounds (each attempt), shared by the pages, the API, jobs and the demo.

Times a person enters (due time, round time, next due time) are the hospital's wall-clock
time, like visit times. A plan is *overdue* when it is still open (pending / in progress) and
its due time has passed: derived, never stored, so it is always right.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from core import clock
from core.events import emit
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import User, utcnow
from core.tenancy import current_scope
from plugins.followup.merging import repoint_patient
from plugins.followup.models import OPEN_STATUSES, PLAN_STATUSES, Plan, Questionnaire, Round
from plugins.followup.planning.errors import FollowupInvalid, PlanStateError
from plugins.followup.planning.settings_services import active_category, usable_method
from plugins.patients.public import Patient

STATUS_LABELS = {"pending": _l("Pending"), "in_progress": _l("In progress"), "completed": _l("Completed"),
                 "cancelled": _l("Cancelled"), "no_followup": _l("No follow-up")}
CLOSED_STATUSES = tuple(s for s in PLAN_STATUSES if s not in OPEN_STATUSES)
# Which status a plan may move to from each status. A cancelled or "no follow-up" plan may be
# reopened; a completed one is history (record a new plan instead).
TRANSITIONS = {
    "pending": {"in_progress", "completed", "cancelled", "no_followup"},
    "in_progress": {"completed", "cancelled", "no_followup"},
    "cancelled": {"pending"},
    "no_followup": {"pending"},
    "completed": set(),
}
ROUND_OUTCOMES = ("in_progress", "completed")  # the plan's status after a round
FUTURE_LIMIT = timedelta(days=3 * 366)
PAST_LIMIT = timedelta(days=366)
CLOCK_SKEW = timedelta(minutes=10)
RESULT_MAX = 200
TEXT_MAX = 4000


def local_now() -> datetime:
    """Now on the hospitals' wall clock (core.clock), which due and round times use."""
    return clock.local_now()


def overdue_condition(now: datetime | None = None):
    """SQL condition: open and past its due time."""
    return sa.and_(Plan.status.in_(OPEN_STATUSES), Plan.due_at < (now or local_now()))


def is_overdue(plan: Plan, now: datetime | None = None) -> bool:
    return plan.status in OPEN_STATUSES and plan.due_at < (now or local_now())


# -- the patients of plans ----------------------------------------------------------------------
def patient_briefs(patient_ids) -> dict:
    """Name, key-patient flag and phone of the patients of the plans a user works, by id.

    A plan assigned to someone is their reason to see whom to call, even when their data scope
    does not show the patient's record (staff see the patients they own): so this reads the
    patients table directly, limited to the current hospital and to the ids given.
    """
    ids = sorted({int(i) for i in patient_ids if i is not None})
    scope = current_scope()
    if not ids or scope is None or scope.hospital_id is None:
        return {}
    table = Patient.__table__
    rows = db.session.execute(sa.select(table.c.id, table.c.name, table.c.key_patient, table.c.phone)
                              .where(table.c.hospital_id == scope.hospital_id, table.c.id.in_(ids))).all()
    return {row.id: row for row in rows}


# -- input checks -------------------------------------------------------------------------------
def _parse_datetime(value, field: str, errors: dict) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is None else value.astimezone(clock.zone()).replace(tzinfo=None)
    text = str(value).strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    errors[field] = _("Enter a date and time as YYYY-MM-DD HH:MM.")
    return None


def _within(value: datetime | None, field: str, errors: dict, *, now: datetime, allow_future=True,
            allow_past=True) -> None:
    if value is None or field in errors:
        return
    if value > now + (FUTURE_LIMIT if allow_future else CLOCK_SKEW):
        errors[field] = _("More than 3 years ahead.") if allow_future else _("That time is in the future.")
    elif value < now - (PAST_LIMIT if allow_past else CLOCK_SKEW):
        errors[field] = _("More than a year ago.") if allow_past else _("That time has passed already.")


def _text(value, field: str, limit: int, errors: dict) -> str | None:
    text = "" if value is None else str(value).strip()
    if len(text) > limit:
        errors[field] = _("At most %(n)d characters.", n=limit)
    return text or None


def _assignee(value, errors: dict, field: str = "owner_id") -> User | None:
    try:
        ident = int(value)
    except (TypeError, ValueError):
        errors[field] = _("Choose who does the follow-up.")
        return None
    user = db.session.execute(sa.select(User).where(User.id == ident, User.active.is_(True))).scalar_one_or_none()
    if user is None:
        errors[field] = _("Unknown choice: it does not exist in this hospital.")
    return user


def _questionnaire(value, errors: dict) -> int | None:
    if value in (None, ""):
        return None
    try:
        ident = int(value)
    except (TypeError, ValueError):
        ident = None
    found = ident is not None and db.session.execute(
        sa.select(Questionnaire.id).where(Questionnaire.id == ident, Questionnaire.active.is_(True))).first()
    if not found:
        errors["questionnaire_id"] = _("Unknown choice: it does not exist in this hospital.")
        return None
    return ident


def clean_plan(data: dict, user_id: int | None, *, current: Plan | None = None) -> dict:
    """Check a plan's fields; ``data`` holds the fields to set (all of them for a new plan)."""
    errors: dict[str, str] = {}
    values: dict = {}
    now = local_now()
    if current is None or "category_id" in data:
        category = active_category(data.get("category_id"))
        if category is None:
            errors["category_id"] = _("Choose an active category of this hospital.")
        values["category_id"] = category.id if category else None
    if current is None or "method_id" in data:
        method = usable_method(data.get("method_id"), user_id)
        if method is None:
            errors["method_id"] = _("Choose an active method of this hospital.")
        values["method_id"] = method.id if method else None
    if current is None or "due_at" in data:
        values["due_at"] = _parse_datetime(data.get("due_at"), "due_at", errors)
        if values["due_at"] is None:
            errors.setdefault("due_at", _("Enter when the follow-up is due."))
        _within(values["due_at"], "due_at", errors, now=now)
    if current is None or "owner_id" in data:
        owner_id = data.get("owner_id") or (user_id if current is None else None)
        owner = _assignee(owner_id, errors)
        values["owner_id"] = owner.id if owner else None
    if "content" in data or current is None:
        values["content"] = _text(data.get("content"), "content", TEXT_MAX, errors)
    if "questionnaire_id" in data:
        values["questionnaire_id"] = _questionnaire(data.get("questionnaire_id"), errors)
    if errors:
        raise FollowupInvalid(errors)
    return values


# -- plans --------------------------------------------------------------------------------------
def create_plan(patient, data: dict, user_id: int | None) -> Plan:
    """A plan for ``patient`` (a Patient the caller may see). The department responsible is
    the patient's, else the assignee's."""
    values = clean_plan(data, user_id)
    owner = db.session.get(User, values["owner_id"])
    plan = Plan(patient_id=patient.id, status="pending", created_by_id=user_id,
                department_id=patient.department_id or owner.department_id, **values)
    db.session.add(plan)
    db.session.flush()
    return plan


def update_plan(plan: Plan, data: dict, user_id: int | None) -> Plan:
    if plan.status not in OPEN_STATUSES:
        raise PlanStateError(_("This plan is %(status)s: it can no longer be changed.",
                               status=STATUS_LABELS[plan.status]))
    for field, value in clean_plan(data, user_id, current=plan).items():
        setattr(plan, field, value)
    db.session.flush()
    return plan


def set_status(plan: Plan, status: str) -> Plan:
    """Move a plan to ``status`` if the transition is allowed (cancel, no follow-up, reopen…)."""
    if status not in PLAN_STATUSES:
        raise FollowupInvalid({"status": _("Unknown status.")})
    if status not in TRANSITIONS[plan.status]:
        raise PlanStateError(_("A plan that is %(old)s cannot become %(new)s.",
                               old=STATUS_LABELS[plan.status], new=STATUS_LABELS[status]))
    plan.status = status
    plan.closed_at = utcnow() if status in CLOSED_STATUSES else None
    if status in OPEN_STATUSES:
        plan.escalated_at = None  # reopened: a new delay before the supervisor hears of it again
    db.session.flush()
    return plan


def reassign(plan_ids, owner_id) -> int:
    """Give the open plans among ``plan_ids`` (those the caller may see) to another user;
    returns how many changed. Refuses an unknown user or an empty selection."""
    errors: dict[str, str] = {}
    owner = _assignee(owner_id, errors)
    try:
        ids = sorted({int(i) for i in plan_ids or ()})
    except (TypeError, ValueError):
        ids = []
        errors["plan_ids"] = _("Unknown plans.")
    if not ids:
        errors.setdefault("plan_ids", _("Select at least one plan."))
    if errors:
        raise FollowupInvalid(errors)
    plans = db.session.execute(sa.select(Plan).where(Plan.id.in_(ids))).scalars().all()
    if len(plans) != len(ids):
        raise FollowupInvalid({"plan_ids": _("Some of the selected plans do not exist or are not yours to see.")})
    changed = 0
    for plan in plans:
        if plan.status in OPEN_STATUSES and plan.owner_id != owner.id:
            plan.owner_id = owner.id
            plan.escalated_at = None
            changed += 1
    db.session.flush()
    return changed


# -- rounds -------------------------------------------------------------------------------------
def clean_round(plan: Plan, data: dict, user_id: int | None) -> dict:
    if plan.status not in OPEN_STATUSES:
        raise PlanStateError(_("This plan is %(status)s: a follow-up round cannot be recorded on it.",
                               status=STATUS_LABELS[plan.status]))
    errors: dict[str, str] = {}
    now = local_now()
    at = _parse_datetime(data.get("at"), "at", errors) or (None if "at" in errors else now)
    _within(at, "at", errors, now=now, allow_future=False)
    method_id = data.get("method_id") or plan.method_id
    method = usable_method(method_id, user_id) if method_id else None
    if method_id and method is None:
        errors["method_id"] = _("Choose an active method of this hospital.")
    next_due = _parse_datetime(data.get("next_due_at"), "next_due_at", errors)
    _within(next_due, "next_due_at", errors, now=now)
    if next_due is not None and at is not None and "next_due_at" not in errors and next_due <= at:
        errors["next_due_at"] = _("The next follow-up must come after this one.")
    reached = data.get("reached", True)
    if not isinstance(reached, bool):
        errors["reached"] = _("Say whether the patient was reached.")
    # Unless told: a reached patient (or one with a next date) completes the plan; an
    # unanswered call leaves it in progress, to try again.
    outcome = data.get("outcome") or ("completed" if reached is True or next_due else "in_progress")
    if outcome not in ROUND_OUTCOMES:
        errors["outcome"] = _("Choose “in progress” or “completed”.")
    values = dict(at=at, method_id=method.id if method else None, reached=reached, outcome=outcome,
                  result=_text(data.get("result"), "result", RESULT_MAX, errors),
                  notes=_text(data.get("notes"), "notes", TEXT_MAX, errors), next_due_at=next_due)
    if errors:
        raise FollowupInvalid(errors)
    return values


def record_round(plan: Plan, data: dict, user_id: int | None) -> Round:
    """Record an attempt by ``user_id`` on an open plan; the plan becomes in progress or
    completed as ``data["outcome"]`` says, and a next due time plans the next follow-up (same
    category, method, assignee and department). ``data["complaint"]`` True (the patient
    complained) fires ``followup.round_marked_complaint``."""
    values = clean_round(plan, data, user_id)
    outcome = values.pop("outcome")
    round_ = Round(plan_id=plan.id, patient_id=plan.patient_id, user_id=user_id, **values)
    db.session.add(round_)
    if values["next_due_at"] is not None:
        follow = Plan(patient_id=plan.patient_id, visit_id=plan.visit_id, previous_plan_id=plan.id,
                      category_id=plan.category_id, method_id=plan.method_id, due_at=values["next_due_at"],
                      content=plan.content, status="pending", created_by_id=user_id,
                      owner_id=plan.owner_id or user_id, department_id=plan.department_id)
        db.session.add(follow)
        db.session.flush()
        round_.next_plan_id = follow.id
    plan.status = outcome
    plan.closed_at = utcnow() if outcome in CLOSED_STATUSES else None
    db.session.flush()
    if data.get("complaint") is True:
        emit("followup.round_marked_complaint", payload={
            "round_id": round_.id, "plan_id": plan.id, "patient_id": plan.patient_id,
            "department_id": plan.department_id, "user_id": user_id, "result": round_.result,
            "notes": round_.notes}, round_=round_)
    return round_


# -- merge --------------------------------------------------------------------------------------
def move_patient_rows(source, target) -> None:
    """A duplicate patient merged into another: their plans and rounds follow."""
    repoint_patient((Plan, Round), source, target)


def content_from(content: str | None, source: str | None, patient: Patient | None, user_id: int | None) -> str | None:
    """A plan's content: what was typed, else the chosen phrase (``phrase:<id>``) or SMS template
    (``template:<id>``, filled for ``patient``). Raises FollowupInvalid naming ``content_from``
    for a choice that is not the user's to use or a template that cannot be filled."""
    if (content or "").strip() or not source:
        return content
    from plugins.followup.outreach.phrases import phrases_for
    from plugins.followup.outreach.sms_templates import active_templates
    from plugins.followup.outreach.templating import TemplateInvalid, render_template_for
    kind, _sep, ident = source.partition(":")
    if kind == "phrase":
        user = db.session.get(User, user_id) if user_id else None
        found = [p.text for p in (phrases_for(user) if user else []) if str(p.id) == ident]
    elif kind == "template":
        found = [t for t in active_templates() if str(t.id) == ident]
    else:
        found = []
    if not found:
        raise FollowupInvalid({"content_from": _("Choose a phrase or template from the list.")})
    if kind == "phrase":
        return found[0]
    if patient is None:  # an assignee whose data scope hides the patient's record cannot fill it
        raise FollowupInvalid({"content_from": _("A template is filled from the patient's record, which you may "
                                                 "not open: type the content instead.")})
    try:
        return render_template_for(found[0], patient)
    except TemplateInvalid as exc:
        raise FollowupInvalid({"content_from": str(exc)}) from None
