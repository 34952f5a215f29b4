"""Escalation to the complaint office supervisor (a periodic job on the core's queue): open
complaints past their reply deadline are flagged once (``escalated_at``) and counted, as are those
due within the hospital's "due soon" working days. Supervisors see both on their dashboard card
and in the list (``overdue``).

Each complaint reaching a stage (due soon, overdue) notifies, through the core's notifications,
its handler, the heads (科室主任, role ``dept_manager``) of the departments involved, the users
holding ``complaints.supervise`` and the settings' supervisor -- once per complaint, stage and
deadline (the notification key), however often the job runs. A recipient the complaint names
hears nothing of it unless they hold ``complaints.view_about_me``, as in every list."""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import selectinload

from core.clock import local_today, show_wall
from core.extensions import db
from core.i18n import gettext as _
from core.models import Role, RolePermission, User, user_roles, utcnow
from core.notifications import notify

from . import workdays
from .models import OPEN_STATUSES, Complaint
from .queries import overdue_condition
from .settings_services import settings
from .visibility import PERMISSION as VIEW_ABOUT_ME

SUPERVISE = "complaints.supervise"
DEPARTMENT_HEAD_ROLE = "dept_manager"


def due_soon_until(today: date | None = None) -> date:
    today = today or local_today()
    days = settings().due_soon_days
    return workdays.add_working_days(today, days) if days > 0 else today


def due_soon_filters(today: date | None = None) -> dict:
    """The list's filters for "open, due from today to the due-soon limit"."""
    return {"status": list(OPEN_STATUSES), "due_from": today or local_today(), "due_to": due_soon_until(today)}


def escalate(today: date | None = None) -> list[int]:
    """Flag the hospital's overdue open complaints not flagged yet; the ids flagged now."""
    ids = db.session.execute(sa.select(Complaint.id).where(
        overdue_condition(today), Complaint.escalated_at.is_(None))).scalars().all()
    if ids:
        db.session.execute(sa.update(Complaint).where(Complaint.id.in_(ids)).values(escalated_at=utcnow())
                           .execution_options(synchronize_session=False))
    return ids


def _holders(permission: str) -> set[int]:
    """Active users of the hospital whose roles grant ``permission``."""
    return set(db.session.execute(
        sa.select(User.id).join(user_roles, user_roles.c.user_id == User.id)
        .join(Role, Role.id == user_roles.c.role_id).join(RolePermission, RolePermission.role_id == Role.id)
        .where(RolePermission.permission == permission, User.active.is_(True))).scalars())


class Recipients:
    """Who hears of a complaint's stage; read once per run, not once per complaint."""

    def __init__(self):
        self.supervisors = _holders(SUPERVISE)
        supervisor = settings().supervisor_id
        if supervisor is not None:
            self.supervisors.add(supervisor)
        self.may_see_about_me = _holders(VIEW_ABOUT_ME)
        self.heads: dict[int, set[int]] = {}
        for uid, dept in db.session.execute(
                sa.select(User.id, User.department_id).join(user_roles, user_roles.c.user_id == User.id)
                .join(Role, Role.id == user_roles.c.role_id)
                .where(Role.code == DEPARTMENT_HEAD_ROLE, User.active.is_(True), User.department_id.is_not(None))):
            self.heads.setdefault(dept, set()).add(uid)

    def of(self, complaint: Complaint) -> set[int]:
        users = set(self.supervisors)
        if complaint.handler_id is not None:
            users.add(complaint.handler_id)
        for dept in {complaint.department_id, *(d.department_id for d in complaint.departments)}:
            users |= self.heads.get(dept, set())
        named = {s.user_id for s in complaint.staff if s.user_id is not None}
        return users - (named - self.may_see_about_me)


def _path(complaint: Complaint) -> str:
    # Built without a request (jobs have none): the path alone, as notifications keep it.
    return current_app.url_map.bind("").build("complaints.detail", {"complaint_id": complaint.id})


def notify_stage(complaints, stage: str, recipients: Recipients) -> int:
    """Notify each complaint's recipients that it reached ``stage`` (``overdue``/``due_soon``);
    how many notifications were written now (none for a stage and deadline already told)."""
    sent = 0
    for complaint in complaints:
        due = show_wall(complaint.due_date)
        if stage == "overdue":
            title = _("Complaint %(ref)s is overdue", ref=complaint.reference)
            body = _("The reply was due %(date)s (%(category)s).", date=due, category=complaint.category.name)
        else:
            title = _("Complaint %(ref)s is due soon", ref=complaint.reference)
            body = _("The reply is due %(date)s (%(category)s).", date=due, category=complaint.category.name)
        sent += len(notify(recipients.of(complaint), f"complaints.{stage}", title, body, _path(complaint),
                           key=f"{complaint.id}:{complaint.due_date.isoformat()}"))
    return sent


def _complaints(condition) -> list[Complaint]:
    return db.session.execute(sa.select(Complaint).where(condition).order_by(Complaint.id).options(
        selectinload(Complaint.departments), selectinload(Complaint.staff),
        selectinload(Complaint.category))).scalars().all()


def run_escalation(hospital) -> dict:
    """The ``complaints.escalate`` job for one hospital (in its scope, see core.queue)."""
    today = local_today()
    overdue = db.session.execute(sa.select(sa.func.count()).select_from(Complaint)
                                 .where(overdue_condition(today))).scalar_one()
    until = due_soon_until(today)
    soon = _complaints(sa.and_(Complaint.status.in_(OPEN_STATUSES), Complaint.due_date >= today,
                               Complaint.due_date <= until))
    flagged = escalate(today)
    recipients = Recipients()
    notified = 0
    for start in range(0, len(flagged), 500):  # the first run after an upgrade may flag thousands
        notified += notify_stage(_complaints(Complaint.id.in_(flagged[start:start + 500])), "overdue", recipients)
    notified += notify_stage(soon, "due_soon", recipients)
    counts = {"overdue": overdue, "due_soon": len(soon), "escalated": len(flagged), "notified": notified}
    current_app.logger.info("complaints.escalate %s: %d overdue (%d newly escalated), %d due soon, %d notified",
                            hospital.code, counts["overdue"], counts["escalated"], counts["due_soon"], notified)
    return counts
