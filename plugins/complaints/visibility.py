"""Complaints about a staff member are hidden from that member (unless they hold
``complaints.view_about_me``, the office's permission) — applied in one place, the ORM, like the
core's tenancy: every query of complaints (lists, the detail page, the patient tab, reports,
exports, the API, counts) gets the criterion, so no page can forget it.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event
from sqlalchemy.orm import Session, with_loader_criteria

from core.tenancy import current_scope

from .models import Complaint, ComplaintStaff

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
