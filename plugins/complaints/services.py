"""Complaints: intake, reference numbers, deadlines and the workflow — shared by the pages, the
API, the public form, the satisfaction loop and the jobs.

Nothing here commits: the caller's transaction decides (a refusal leaves the database as it was).
Every step is a :class:`ComplaintTransition` (who/when/comment); the core's audit log records the
row changes in the same transaction.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from core import clock
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.i18n import lazy_pgettext
from core.models import Department, User, utcnow
from core.permissions import can
from core.tenancy import current_scope

from . import workdays
from .errors import ComplaintInvalid, TransitionRefused
from .models import (
    FINDINGS,
    REPLY_METHODS,
    SEVERITIES,
    AssignedDepartment,
    Complaint,
    ComplaintCategory,
    ComplaintChannel,
    ComplaintComment,
    ComplaintStaff,
    ComplaintTransition,
    ImprovementAction,
)

TEXT_LIMIT = 5000
NAME_LIMIT = 64
MAX_STAFF = 20
PHONE_RE = re.compile(r"^[0-9+\-() ]{5,32}$")

STATUS_LABELS = {"new": lazy_pgettext("complaint status", "New"), "accepted": lazy_pgettext("complaint status", "Accepted"),
                 "assigned": lazy_pgettext("complaint status", "Assigned"),
                 "investigating": lazy_pgettext("complaint status", "Investigating"),
                 "replied": lazy_pgettext("complaint status", "Replied"), "closed": lazy_pgettext("complaint status", "Closed")}
SEVERITY_LABELS = {"low": _l("Low"), "normal": _l("Normal"), "high": _l("High"), "critical": _l("Critical")}
FINDING_LABELS = {"justified": _l("Justified"), "partly": _l("Partly justified"), "unjustified": _l("Unjustified")}
REPLY_METHOD_LABELS = {"phone": _l("By phone"), "in_person": _l("In person"), "letter": _l("By letter"),
                       "sms": _l("By SMS"), "wechat": _l("By WeChat"), "other": _l("Other")}


@dataclass(frozen=True)
class Step:
    """A workflow action: from which states, to which, under which permission."""

    action: str
    label: str
    sources: tuple[str, ...]
    target: str
    permission: str


STEPS = {
    "accept": Step("accept", lazy_pgettext("complaint step", "Accept"), ("new",), "accepted", "complaints.handle"),
    "assign": Step("assign", lazy_pgettext("complaint step", "Assign"), ("accepted", "assigned", "investigating"), "assigned", "complaints.handle"),
    "investigate": Step("investigate", lazy_pgettext("complaint step", "Start investigating"), ("assigned",), "investigating", "complaints.handle"),
    "reply": Step("reply", lazy_pgettext("complaint step", "Record the reply"), ("assigned", "investigating"), "replied", "complaints.handle"),
    "close": Step("close", lazy_pgettext("complaint step", "Close"), ("replied",), "closed", "complaints.close"),
    "reopen": Step("reopen", lazy_pgettext("complaint step", "Reopen"), ("closed",), "investigating", "complaints.reopen"),
}


def status_label(status: str) -> str:
    return str(STATUS_LABELS.get(status, status))


# -- small checks ------------------------------------------------------------------------------
def _text(data: dict, key: str, errors: dict, *, limit: int = TEXT_LIMIT, required: bool = False) -> str | None:
    value = data.get(key)
    value = "" if value is None else str(value).strip()
    if required and not value:
        errors[key] = _("This field is required.")
    elif len(value) > limit:
        errors[key] = _("At most %(n)d characters.", n=limit)
    return value or None


def _id(value) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        return -1
    return number if 0 < number < 2**31 else -1


def _row(model, value, key: str, errors: dict, *, required: bool = False, message=None):
    """The row of ``model`` with that id in the current hospital (the scope filters), or an error."""
    ident = _id(value)
    if ident is None:
        if required:
            errors[key] = _("This field is required.")
        return None
    row = db.session.execute(sa.select(model).where(model.id == ident)).scalar_one_or_none() if ident > 0 else None
    if row is None:
        errors[key] = message or _("Unknown choice: it does not exist in this hospital.")
    return row


def _user(value, key: str, errors: dict):
    return _row(User, value, key, errors, message=_("Unknown staff member: choose a user of this hospital."))


def _ids(values) -> list:
    if values is None:
        return []
    if isinstance(values, str | int):
        values = [values]
    return [v for v in values if v not in (None, "")]


def _choice(data, key, allowed, errors, *, default=None):
    value = data.get(key) or default
    if value is not None and value not in allowed:
        errors[key] = _("Choose one of: %(choices)s.", choices=", ".join(allowed))
        return None
    return value


def _phone(data: dict, errors: dict) -> str | None:
    phone = _text(data, "contact_phone", errors, limit=32)
    if phone and not PHONE_RE.match(phone):
        errors["contact_phone"] = _("Enter a phone number (digits, spaces, +, - and brackets).")
        return None
    return phone


def last4(phone: str | None) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:] if len(digits) >= 4 else None


def _date(value, key: str, errors: dict) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value).strip())
        except ValueError:
            errors[key] = _("Enter a date as YYYY-MM-DD.")
            return None
    if day.year < 1901 or day > clock.local_today():
        errors[key] = _("The date cannot be in the future.") if day.year >= 1901 else _("Enter a date as YYYY-MM-DD.")
        return None
    return day


# -- reference numbers and deadlines -----------------------------------------------------------
def new_reference() -> str:
    """TS + the local date + 5 random digits, unique in the hospital (not guessable in sequence)."""
    prefix = "TS" + clock.local_today().strftime("%Y%m%d")
    for _attempt in range(20):
        reference = f"{prefix}-{secrets.randbelow(100000):05d}"
        if db.session.execute(sa.select(Complaint.id).where(Complaint.reference == reference)).first() is None:
            return reference
    raise RuntimeError("no free reference number")


def reply_limit(complaint: Complaint) -> int:
    category = complaint.category
    several = len({d.department_id for d in complaint.departments}) > 1
    return category.multi_reply_days if several else category.reply_days


def compute_due_date(complaint: Complaint) -> date:
    received = clock.utc_to_local(complaint.received_at).date()
    return workdays.add_working_days(received, reply_limit(complaint))


def mark_answered(complaint: Complaint, at) -> None:
    """The reply was given at ``at`` (UTC): on time when its local date is the due date or before."""
    complaint.replied_at = at
    complaint.on_time = complaint.due_date is None or clock.utc_to_local(at).date() <= complaint.due_date


def is_overdue(complaint: Complaint, today: date | None = None) -> bool:
    from .models import OPEN_STATUSES
    return (complaint.status in OPEN_STATUSES and complaint.due_date is not None
            and complaint.due_date < (today or clock.local_today()))


# -- intake ------------------------------------------------------------------------------------
def check_intake(data: dict, *, errors: dict | None = None) -> dict:
    """Checked values of a new complaint, or ComplaintInvalid naming every problem."""
    errors = {} if errors is None else errors
    values = {
        "channel": _row(ComplaintChannel, data.get("channel_id"), "channel_id", errors, required=True),
        "category": _row(ComplaintCategory, data.get("category_id"), "category_id", errors, required=True),
        "severity": _choice(data, "severity", SEVERITIES, errors, default="normal"),
        "anonymous": bool(data.get("anonymous")),
        "complainant_name": _text(data, "complainant_name", errors, limit=NAME_LIMIT),
        "contact_phone": _phone(data, errors),
        "event_date": _date(data.get("event_date"), "event_date", errors),
        "department": _row(Department, data.get("department_id"), "department_id", errors),
        "description": _text(data, "description", errors, required=True),
        "settled_on_spot": bool(data.get("settled_on_spot")),
        "resolution": _text(data, "resolution", errors),
    }
    patient_id = _id(data.get("patient_id"))
    values["patient"] = None
    if patient_id is not None:
        from plugins.patients.public import Patient
        values["patient"] = _row(Patient, patient_id, "patient_id", errors,
                                 message=_("Unknown patient: choose a patient of this hospital's archive."))
    if values["settled_on_spot"] and not values["resolution"] and "resolution" not in errors:
        errors["resolution"] = _("Say how it was settled on the spot.")
    staff = []
    user_ids = _ids(data.get("staff_ids"))
    names = [str(n).strip() for n in _ids(data.get("staff_names")) if str(n).strip()]
    if len(user_ids) + len(names) > MAX_STAFF:
        errors["staff_ids"] = _("At most %(n)d staff members.", n=MAX_STAFF)
    else:
        for value in user_ids:
            user = _user(value, "staff_ids", errors)
            if user is not None and user.id not in {s[0] for s in staff}:
                staff.append((user.id, None))
        for name in names:
            if len(name) > NAME_LIMIT:
                errors["staff_names"] = _("At most %(n)d characters.", n=NAME_LIMIT)
            else:
                staff.append((None, name))
    values["staff"] = staff
    if errors:
        raise ComplaintInvalid(errors)
    return values


def create_complaint(data: dict, *, user_id: int | None = None, source: dict | None = None) -> Complaint:
    """Take in a complaint (首诉负责制: whoever takes it owns the intake). Settled on the spot, it
    is closed at once with its resolution; otherwise it is new, with its reply deadline."""
    values = check_intake(data)
    staff = values.pop("staff")
    complaint = Complaint(reference=new_reference(), status="new", received_at=utcnow(), **values)
    complaint.phone_last4 = last4(complaint.contact_phone)
    if complaint.anonymous:
        complaint.complainant_name = None
    for uid, name in staff:
        complaint.staff.append(ComplaintStaff(user_id=uid, name=name))
    for key, value in (source or {}).items():
        setattr(complaint, key, value)
    db.session.add(complaint)
    complaint.due_date = compute_due_date(complaint)
    actor = user_id if user_id is not None else _actor()
    _record(complaint, "create", None, "new", actor, None)
    if complaint.settled_on_spot:
        complaint.status = "closed"
        complaint.closed_at = utcnow()
        complaint.on_time = True
        _record(complaint, "settle", "new", "closed", actor, complaint.resolution)
    db.session.flush()
    return complaint


def _actor() -> int | None:
    scope = current_scope()
    return scope.user_id if scope else None


def _record(complaint, action, source, target, user_id, comment):
    complaint.transitions.append(ComplaintTransition(action=action, from_status=source, to_status=target,
                                                     user_id=user_id, comment=comment, at=utcnow()))


# -- workflow ----------------------------------------------------------------------------------
def allowed_steps(complaint: Complaint) -> list[Step]:
    """The steps the current user may take on ``complaint`` now."""
    return [s for s in STEPS.values() if complaint.status in s.sources and can(s.permission)]


def transition(complaint: Complaint, action: str, data: dict | None = None, *, trusted: bool = False) -> Complaint:
    """Take workflow step ``action`` with its data (assign: handler_id, department_ids; reply:
    reply_text, reply_method; close: finding, root_cause); ``comment`` is kept on the step.
    Raises TransitionRefused (wrong state: 409; no permission: 403) or ComplaintInvalid.
    ``trusted``: code acting for the hospital itself (demo data), not for a user: no permission
    check (the state rules still apply)."""
    data = data or {}
    step = STEPS.get(action)
    if step is None:
        raise ComplaintInvalid({"action": _("Unknown action: choose one of %(actions)s.",
                                            actions=", ".join(STEPS))})
    if not trusted and not can(step.permission):
        raise TransitionRefused(_("You may not %(action)s a complaint: it needs the permission “%(perm)s”.",
                                  action=str(step.label).lower(), perm=step.permission), 403)
    if complaint.status not in step.sources:
        raise TransitionRefused(_("Complaint %(ref)s is “%(status)s”: “%(action)s” is only possible when it is "
                                  "%(sources)s.", ref=complaint.reference, status=status_label(complaint.status),
                                  action=str(step.label),
                                  sources=" / ".join(f"“{status_label(s)}”" for s in step.sources)))
    errors: dict[str, str] = {}
    comment = _text(data, "comment", errors)
    source = complaint.status
    if action == "assign":
        handler = _user(data.get("handler_id"), "handler_id", errors) if data.get("handler_id") else None
        if handler is None and "handler_id" not in errors:
            errors["handler_id"] = _("Choose the handler.")
        departments = []
        for value in _ids(data.get("department_ids")):
            dept = _row(Department, value, "department_ids", errors)
            if dept is not None and dept not in departments:
                departments.append(dept)
        if not departments and "department_ids" not in errors:
            errors["department_ids"] = _("Choose at least one department.")
        if errors:
            raise ComplaintInvalid(errors)
        complaint.handler_id = handler.id
        wanted = [d.id for d in departments]
        for row in [r for r in complaint.departments if r.department_id not in wanted]:
            complaint.departments.remove(row)
        have = {r.department_id for r in complaint.departments}
        complaint.departments.extend(AssignedDepartment(department_id=d) for d in wanted if d not in have)
        if complaint.department_id is None:  # the department's managers then see it in their scope
            complaint.department_id = wanted[0]
        complaint.due_date = compute_due_date(complaint)
    elif action == "reply":
        text = _text(data, "reply_text", errors, required=True)
        method = _choice(data, "reply_method", REPLY_METHODS, errors)
        if method is None and "reply_method" not in errors:
            errors["reply_method"] = _("Say how the reply was given.")
        if errors:
            raise ComplaintInvalid(errors)
        complaint.reply_text, complaint.reply_method = text, method
        mark_answered(complaint, utcnow())
    elif action == "close":
        finding = _choice(data, "finding", FINDINGS, errors)
        if finding is None and "finding" not in errors and not complaint.category.positive:
            errors["finding"] = _("Record the finding (justified, partly, unjustified).")
        root_cause = _text(data, "root_cause", errors)
        if errors:
            raise ComplaintInvalid(errors)
        complaint.finding, complaint.root_cause, complaint.closed_at = finding, root_cause, utcnow()
    elif action == "reopen":
        if not comment:
            raise ComplaintInvalid({"comment": _("Say why the complaint is reopened.")})
        complaint.closed_at = None
    elif errors:
        raise ComplaintInvalid(errors)
    complaint.status = step.target
    _record(complaint, action, source, step.target, _actor(), comment)
    db.session.flush()
    return complaint


def add_comment(complaint: Complaint, body) -> ComplaintComment:
    errors: dict[str, str] = {}
    text = _text({"body": body}, "body", errors, required=True)
    if errors:
        raise ComplaintInvalid(errors)
    comment = ComplaintComment(body=text, user_id=_actor(), at=utcnow())
    complaint.comments.append(comment)
    db.session.flush()
    return comment


def add_action(complaint: Complaint, data: dict) -> ImprovementAction:
    errors: dict[str, str] = {}
    description = _text(data, "description", errors, required=True)
    owner = _user(data.get("owner_user_id"), "owner_user_id", errors) if data.get("owner_user_id") else None
    due = None
    if data.get("due_date"):
        try:
            due = date.fromisoformat(str(data["due_date"]))
        except ValueError:
            errors["due_date"] = _("Enter a date as YYYY-MM-DD.")
    if errors:
        raise ComplaintInvalid(errors)
    action = ImprovementAction(description=description, owner_user_id=owner.id if owner else None, due_date=due)
    complaint.actions.append(action)
    db.session.flush()
    return action


def mark_action_done(action: ImprovementAction) -> None:
    action.done_at = action.done_at or utcnow()


def patient_merged(source, target) -> None:
    db.session.execute(sa.update(Complaint).where(Complaint.patient_id == source.id)
                       .values(patient_id=target.id).execution_options(synchronize_session=False))
