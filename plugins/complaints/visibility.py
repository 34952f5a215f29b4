"""Who sees a complaint, in one place, applied in the ORM like the core's tenancy: every query
of complaints (lists, the detail page, the patient tab, reports, exports, the API, counts) gets
the rules, so no page can forget them.

- Beyond the core's data scopes (own: what one took in; department: one's departments'), a
  complaint is seen by its handler and, under a department scope, by the departments it is
  assigned to (:func:`involved`, the core's ``DataScoped.hcrm_scope_also``): whoever must act on
  it sees it, whichever department the event happened in.
- Complaints about a staff member are hidden from that member (unless they hold
  ``complaints.view_about_me``, the office's permission), whatever else would show them.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session, with_loader_criteria

from core.tenancy import current_scope

from .models import AssignedDepartment, Complaint, ComplaintStaff

PERMISSION = "complaints.view_about_me"


def hidden_for() -> int | None:
    """The user id whose complaints-about-them must be hidden in this request, or None."""
    if not has_request_context():
        return None  # jobs, the CLI, event listeners: the office's own work
    scope = current_scope()
    if scope is None or scope.system or scope.user_id is None:
        return None
    if PERMISSION in g.get("hcrm_permissions", ()) or "complaints" not in g.get("hcrm_live", ()):
        return None  # the office, or a hospital without complaints (its pages and API are 404)
    return scope.user_id


def involved(cls, user_id, department_ids):
    """SQL: the complaint ``cls`` is handled by ``user_id`` or assigned to one of
    ``department_ids``. Reads the assignment table, not its scoped model, whose criteria would
    ask for the complaint's visibility again."""
    assigned = AssignedDepartment.__table__
    seen = [cls.handler_id == user_id]
    if department_ids:
        seen.append(sa.exists().where(assigned.c.complaint_id == cls.id,
                                      assigned.c.department_id.in_(department_ids)))
    return sa.or_(*seen)


def about_user(uid: int):
    """SQL: the complaint names user ``uid`` among the staff involved."""
    return sa.exists().where(ComplaintStaff.complaint_id == Complaint.id, ComplaintStaff.user_id == uid)


@event.listens_for(Session, "do_orm_execute")
def _hide_complaints_about_me(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return
    uid = hidden_for()
    if uid is None:
        return
    # On every statement, not only those naming Complaint: the criterion then travels with the
    # rows' lazy loads too (a sanction's complaint), as the core's tenancy criteria do.
    state.statement = state.statement.options(with_loader_criteria(
        Complaint, lambda cls: ~sa.exists().where(ComplaintStaff.complaint_id == cls.id,
                                                  ComplaintStaff.user_id == uid),
        include_aliases=True))
