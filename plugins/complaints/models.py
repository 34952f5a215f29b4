"""The complaint centre's tables (投诉中心).

Hospital-configurable lists (channels, categories with their reply limits in working days), the
hospital's own calendar entries (closures and extra working days), settings; complaints with the
staff and departments involved, their transitions, comments, attachments, improvement actions,
and the rewards and penalties (赏罚) decided for staff. Children of a complaint are seen by whoever
sees the complaint (``ScopedThrough``).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import declared_attr, relationship

from core.choices import ChoiceList
from core.extensions import db
from core.models import utcnow
from core.tenancy import DataScoped, HospitalOwned, ScopedThrough

STATUSES = ("new", "accepted", "assigned", "investigating", "replied", "closed")
OPEN_STATUSES = ("new", "accepted", "assigned", "investigating")
SEVERITIES = ("low", "normal", "high", "critical")
FINDINGS = ("justified", "partly", "unjustified")
SANCTION_KINDS = ("praise", "reward", "criticism", "warning", "deduction", "fine")
POSITIVE_KINDS = ("praise", "reward")
SANCTION_STATES = ("proposed", "approved", "rejected")
REPLY_METHODS = ("phone", "in_person", "letter", "sms", "wechat", "other")


class ComplaintChannel(ChoiceList, db.Model):
    """Where a complaint came in: phone, on-site, letter, web form, 12345 hotline…"""

    __tablename__ = "complaints_channel"


class ComplaintCategory(ChoiceList, db.Model):
    """What a complaint is about, with its reply limits in working days (one department / several)."""

    __tablename__ = "complaints_category"
    reply_days = sa.Column(sa.Integer, nullable=False, default=5)
    multi_reply_days = sa.Column(sa.Integer, nullable=False, default=15)
    positive = sa.Column(sa.Boolean, nullable=False, default=False)  # praise / suggestion: not a grievance

    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),
                      sa.CheckConstraint("reply_days > 0 AND multi_reply_days > 0", name="limits_positive"))


class CalendarDay(HospitalOwned, db.Model):
    """A day the hospital sets itself: a closure (``working`` false) or an extra working day."""

    __tablename__ = "complaints_calendar_day"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "day"),)
    id = sa.Column(sa.Integer, primary_key=True)
    day = sa.Column(sa.Date, nullable=False)
    working = sa.Column(sa.Boolean, nullable=False, default=False)
    note = sa.Column(sa.String(100), nullable=True)


class ComplaintSettings(HospitalOwned, db.Model):
    """One row per hospital."""

    __tablename__ = "complaints_settings"
    __table_args__ = (sa.UniqueConstraint("hospital_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    due_soon_days = sa.Column(sa.Integer, nullable=False, default=1)
    survey_threshold = sa.Column(sa.Integer, nullable=True, default=2)  # a scale answer at or below opens a complaint
    public_intake = sa.Column(sa.Boolean, nullable=False, default=True)
    public_max_per_hour = sa.Column(sa.Integer, nullable=False, default=5)
    supervisor_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    supervisor = relationship("User")


class Complaint(DataScoped, db.Model):
    """One complaint (or praise/suggestion). ``department_id`` is the department the event
    happened in (so a department's managers see their complaints); ``owner_id`` who took it in
    (首诉负责制)."""

    __tablename__ = "complaints_complaint"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "reference"),
                      # Includes what the statistics count: PostgreSQL answers them from the index alone.
                      sa.Index("ix_complaints_complaint_hospital_received", "hospital_id", "received_at",
                               postgresql_include=["category_id", "channel_id", "department_id", "status", "finding",
                                                   "on_time", "replied_at", "closed_at"]),
                      sa.Index("ix_complaints_complaint_hospital_status_due", "hospital_id", "status", "due_date"),
                      sa.Index("ix_complaints_complaint_hospital_category", "hospital_id", "category_id", "received_at"))
    id = sa.Column(sa.Integer, primary_key=True)
    reference = sa.Column(sa.String(20), nullable=False)
    status = sa.Column(sa.String(16), nullable=False, default="new")
    channel_id = sa.Column(sa.Integer, sa.ForeignKey("complaints_channel.id"), nullable=False)
    category_id = sa.Column(sa.Integer, sa.ForeignKey("complaints_category.id"), nullable=False)
    severity = sa.Column(sa.String(16), nullable=False, default="normal")
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=True, index=True)
    complainant_name = sa.Column(sa.String(64), nullable=True)
    anonymous = sa.Column(sa.Boolean, nullable=False, default=False)
    contact_phone = sa.Column(sa.String(32), nullable=True)
    phone_last4 = sa.Column(sa.String(4), nullable=True)
    event_date = sa.Column(sa.Date, nullable=True)
    description = sa.Column(sa.Text, nullable=False)
    settled_on_spot = sa.Column(sa.Boolean, nullable=False, default=False)
    resolution = sa.Column(sa.Text, nullable=True)
    received_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)  # UTC
    due_date = sa.Column(sa.Date, nullable=True)  # the hospital's local date the reply is due
    handler_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    reply_text = sa.Column(sa.Text, nullable=True)
    reply_method = sa.Column(sa.String(16), nullable=True)
    replied_at = sa.Column(sa.DateTime, nullable=True)
    # Answered (replied, or settled on the spot) by the due date, on the hospital's calendar: kept
    # when the answer is recorded, so statistics sum a flag instead of converting every time.
    on_time = sa.Column(sa.Boolean, nullable=True)
    closed_at = sa.Column(sa.DateTime, nullable=True)
    finding = sa.Column(sa.String(16), nullable=True)
    root_cause = sa.Column(sa.Text, nullable=True)
    escalated_at = sa.Column(sa.DateTime, nullable=True)
    # The follow-up round / survey response that opened it (plain ids: followup is optional).
    source_round_id = sa.Column(sa.Integer, nullable=True)
    source_response_id = sa.Column(sa.Integer, nullable=True)
    source_note = sa.Column(sa.Text, nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    channel = relationship("ComplaintChannel")
    category = relationship("ComplaintCategory")
    patient = relationship("Patient")
    department = relationship("Department", foreign_keys="Complaint.department_id")
    owner = relationship("User", foreign_keys="Complaint.owner_id")
    handler = relationship("User", foreign_keys=[handler_id])
    staff = relationship("ComplaintStaff", cascade="all, delete-orphan", order_by="ComplaintStaff.id")
    departments = relationship("AssignedDepartment", cascade="all, delete-orphan", order_by="AssignedDepartment.id")
    transitions = relationship("ComplaintTransition", cascade="all, delete-orphan", order_by="ComplaintTransition.id")
    comments = relationship("ComplaintComment", cascade="all, delete-orphan", order_by="ComplaintComment.id")
    attachments = relationship("ComplaintAttachment", cascade="all, delete-orphan", order_by="ComplaintAttachment.id")
    actions = relationship("ImprovementAction", cascade="all, delete-orphan", order_by="ImprovementAction.id")

    @classmethod
    def hcrm_scope_also(cls, user_id, department_ids):
        from .visibility import involved  # the visibility rules live there, in one place
        return involved(cls, user_id, department_ids)

    @property
    def complainant_display(self) -> str:
        if self.anonymous:
            return ""
        if self.patient_id and self.patient is not None:
            return self.patient.name
        return self.complainant_name or ""


class _OfComplaint(ScopedThrough):
    """A row of one complaint (deleted with it), seen by whoever sees the complaint."""

    __hcrm_scope_through__ = "complaint_id"

    @declared_attr
    def complaint_id(cls):
        return sa.Column(sa.Integer, sa.ForeignKey("complaints_complaint.id", ondelete="CASCADE"),
                         nullable=False, index=True)


class _ByUser:
    """Who did it and when (a transition, a comment, an upload)."""

    @declared_attr
    def user_id(cls):
        return sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)

    @declared_attr
    def at(cls):
        return sa.Column(sa.DateTime, nullable=False, default=utcnow)

    @declared_attr
    def user(cls):
        return relationship("User")


class ComplaintStaff(_OfComplaint, db.Model):
    """A staff member the complaint is about: a user of the hospital or a free-text name."""

    __tablename__ = "complaints_staff"
    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True, index=True)
    name = sa.Column(sa.String(64), nullable=True)
    user = relationship("User")

    @property
    def display(self) -> str:
        return self.user.display_name if self.user_id and self.user is not None else (self.name or "")


class AssignedDepartment(_OfComplaint, db.Model):
    """A department the complaint is assigned to (several: the longer reply limit applies)."""

    __tablename__ = "complaints_assigned_department"
    __table_args__ = (sa.UniqueConstraint("complaint_id", "department_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    department_id = sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=False)
    department = relationship("Department")


class ComplaintTransition(_ByUser, _OfComplaint, db.Model):
    """One step of the workflow: who moved the complaint from what to what, when, and why."""

    __tablename__ = "complaints_transition"
    id = sa.Column(sa.Integer, primary_key=True)
    action = sa.Column(sa.String(16), nullable=False)
    from_status = sa.Column(sa.String(16), nullable=True)
    to_status = sa.Column(sa.String(16), nullable=False)
    comment = sa.Column(sa.Text, nullable=True)


class ComplaintComment(_ByUser, _OfComplaint, db.Model):
    __tablename__ = "complaints_comment"
    id = sa.Column(sa.Integer, primary_key=True)
    body = sa.Column(sa.Text, nullable=False)


class ComplaintAttachment(_ByUser, _OfComplaint, db.Model):
    """A file kept under the instance folder (outside the web root), served by a checked view."""

    __tablename__ = "complaints_attachment"
    id = sa.Column(sa.Integer, primary_key=True)
    filename = sa.Column(sa.String(200), nullable=False)
    stored_name = sa.Column(sa.String(64), nullable=False)
    content_type = sa.Column(sa.String(64), nullable=False)
    size = sa.Column(sa.Integer, nullable=False)


class ImprovementAction(_OfComplaint, db.Model):
    """An improvement action with its owner and due date."""

    __tablename__ = "complaints_action"
    id = sa.Column(sa.Integer, primary_key=True)
    description = sa.Column(sa.Text, nullable=False)
    owner_user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    due_date = sa.Column(sa.Date, nullable=True)
    done_at = sa.Column(sa.DateTime, nullable=True)
    owner_user = relationship("User")


class Sanction(HospitalOwned, db.Model):
    """A reward or penalty (赏罚) for a staff member, proposed then approved or rejected by a
    permitted user. A praise letter is a sanction of kind ``praise`` (with or without a complaint)."""

    __tablename__ = "complaints_sanction"
    __table_args__ = (sa.Index("ix_complaints_sanction_hospital_user", "hospital_id", "user_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    complaint_id = sa.Column(sa.Integer, sa.ForeignKey("complaints_complaint.id"), nullable=True, index=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=False)
    department_id = sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=True)
    kind = sa.Column(sa.String(16), nullable=False)
    amount = sa.Column(sa.Numeric(10, 2), nullable=True)
    points = sa.Column(sa.Integer, nullable=True)
    reason = sa.Column(sa.Text, nullable=False)
    state = sa.Column(sa.String(16), nullable=False, default="proposed")
    proposed_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    decided_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    decided_at = sa.Column(sa.DateTime, nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    complaint = relationship("Complaint")
    user = relationship("User", foreign_keys=[user_id])
    department = relationship("Department")
    proposed_by = relationship("User", foreign_keys=[proposed_by_id])
    decided_by = relationship("User", foreign_keys=[decided_by_id])


class PublicAttempt(HospitalOwned, db.Model):
    """A public-form submission (accepted or refused), counted per address to throttle floods."""

    __tablename__ = "complaints_public_attempt"
    __hcrm_audit__ = False
    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(sa.String(8), nullable=False, default="submit")  # submit / status
    remote_addr = sa.Column(sa.String(64), nullable=False, index=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)


MODELS = [ComplaintChannel, ComplaintCategory, CalendarDay, ComplaintSettings, Complaint, ComplaintStaff, AssignedDepartment, ComplaintTransition,
          ComplaintComment, ComplaintAttachment, ImprovementAction, Sanction, PublicAttempt]
