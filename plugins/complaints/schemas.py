"""Marshmallow schemas: the ONE filter schema of the complaints list (page, export, API), and the
API's input and output schemas. Input schemas check types; the rules (this hospital's choices,
staff, the workflow) live in the services."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import Reference, UtcDateTime
from core.i18n import gettext as _
from plugins.patients.public import RefSchema, UserRefSchema

from .models import FINDINGS, REPLY_METHODS, SANCTION_KINDS, SANCTION_STATES, SEVERITIES, STATUSES

ID = {"validate": validate.Range(min=1)}
TEXT = {"validate": validate.Length(max=5000)}


class ComplaintFilterSchema(Schema):
    """The list's filters, shared by the list page, its export and ``GET /api/v1/complaints``."""

    q = fields.String(validate=validate.Length(max=64), metadata={
        "description": "Reference number, complainant name or phone (last 4 digits)."})
    status = fields.List(fields.String(validate=validate.OneOf(STATUSES)))
    category_id = fields.Integer(**ID)
    channel_id = fields.Integer(**ID)
    department_id = fields.Integer(**ID, metadata={"description": "The department the event happened in."})
    staff_id = fields.Integer(**ID, metadata={"description": "A staff member involved."})
    patient_id = fields.Integer(**ID)
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    received_from = fields.Date()
    received_to = fields.Date()
    due_from = fields.Date(metadata={"description": "Reply due on or after this day."})
    due_to = fields.Date(metadata={"description": "Reply due on or before this day."})
    overdue = fields.Boolean(metadata={"description": "Only open complaints past their reply deadline."})

    @validates_schema
    def _range(self, data, **kwargs):
        if data.get("received_from") and data.get("received_to") and data["received_to"] < data["received_from"]:
            raise ValidationError(_("The end date is before the start date."), "received_to")


class StaffSchema(Schema):
    user_id = fields.Integer(allow_none=True)
    name = fields.String(attribute="display")


class TransitionSchema(Schema):
    id = fields.Integer()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    user = Reference(UserRefSchema, allow_none=True)
    at = UtcDateTime()
    comment = fields.String(allow_none=True)


class CommentSchema(Schema):
    id = fields.Integer()
    body = fields.String()
    user = Reference(UserRefSchema, allow_none=True)
    at = UtcDateTime()


class AttachmentSchema(Schema):
    id = fields.Integer()
    filename = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    at = UtcDateTime()


class ComplaintSchema(Schema):
    id = fields.Integer()
    reference = fields.String()
    status = fields.String(metadata={"enum": list(STATUSES)})
    channel = Reference(RefSchema)
    category = Reference(RefSchema)
    severity = fields.String(metadata={"enum": list(SEVERITIES)})
    patient_id = fields.Integer(allow_none=True)
    complainant = fields.String(attribute="complainant_display")
    anonymous = fields.Boolean()
    event_date = fields.Date(allow_none=True)
    department = Reference(RefSchema, allow_none=True)
    handler = Reference(UserRefSchema, allow_none=True)
    due_date = fields.Date(allow_none=True)
    settled_on_spot = fields.Boolean()
    received_at = UtcDateTime()
    replied_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    finding = fields.String(allow_none=True)


class ComplaintDetailSchema(ComplaintSchema):
    contact_phone = fields.String(allow_none=True)
    description = fields.String()
    resolution = fields.String(allow_none=True)
    reply_text = fields.String(allow_none=True)
    reply_method = fields.String(allow_none=True)
    root_cause = fields.String(allow_none=True)
    staff = fields.List(fields.Nested(StaffSchema))
    departments = fields.Method("_departments", metadata={"type": "array", "items": {"type": "integer"}})
    transitions = fields.List(fields.Nested(TransitionSchema))
    comments = fields.List(fields.Nested(CommentSchema))
    attachments = fields.List(fields.Nested(AttachmentSchema))

    def _departments(self, complaint):
        return [d.department_id for d in complaint.departments]


class ComplaintCreateSchema(Schema):
    channel_id = fields.Integer(required=True, **ID)
    category_id = fields.Integer(required=True, **ID)
    severity = fields.String(validate=validate.OneOf(SEVERITIES))
    patient_id = fields.Integer(**ID, allow_none=True)
    complainant_name = fields.String(validate=validate.Length(max=64), allow_none=True)
    anonymous = fields.Boolean()
    contact_phone = fields.String(validate=validate.Length(max=32), allow_none=True)
    event_date = fields.Date(allow_none=True)
    department_id = fields.Integer(**ID, allow_none=True)
    staff_ids = fields.List(fields.Integer(**ID), validate=validate.Length(max=20))
    staff_names = fields.List(fields.String(validate=validate.Length(max=64)), validate=validate.Length(max=20))
    description = fields.String(required=True, **TEXT)
    settled_on_spot = fields.Boolean()
    resolution = fields.String(allow_none=True, **TEXT)


class TransitionBodySchema(Schema):
    action = fields.String(required=True, validate=validate.OneOf(
        ("accept", "assign", "investigate", "reply", "close", "reopen")))
    comment = fields.String(allow_none=True, **TEXT)
    handler_id = fields.Integer(**ID)
    department_ids = fields.List(fields.Integer(**ID), validate=validate.Length(max=20))
    reply_text = fields.String(**TEXT)
    reply_method = fields.String(validate=validate.OneOf(REPLY_METHODS))
    finding = fields.String(validate=validate.OneOf(FINDINGS))
    root_cause = fields.String(allow_none=True, **TEXT)


class CommentBodySchema(Schema):
    body = fields.String(required=True, validate=validate.Length(min=1, max=5000))


class PublicIntakeSchema(Schema):
    """The public form (no login): few fields, all checked again by the services."""

    category_id = fields.Integer(required=True, **ID)
    name = fields.String(validate=validate.Length(max=64), allow_none=True)
    phone = fields.String(required=True, validate=validate.Length(min=4, max=32))
    description = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    event_date = fields.Date(allow_none=True)
    website = fields.String(metadata={"description": "Leave empty (a trap for robots)."})


class PublicReceiptSchema(Schema):
    reference = fields.String()
    status = fields.String(metadata={"enum": ["received", "in_progress", "replied", "closed"]})
    due_date = fields.Date(allow_none=True, metadata={"description": "The reply is due by this day."})


class PublicStatusQuerySchema(Schema):
    reference = fields.String(required=True, validate=validate.Length(min=1, max=20))
    last4 = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{4}$"),
                          metadata={"description": "The last 4 digits of the phone given with the complaint."})


class SanctionFilterSchema(Schema):
    """``GET /api/v1/complaints/sanctions``: the record page's filters and more."""

    user_id = fields.Integer(**ID, metadata={"description": "The staff member's record."})
    department_id = fields.Integer(**ID, metadata={"description": "The staff member's department when proposed."})
    complaint_id = fields.Integer(**ID)
    kind = fields.String(validate=validate.OneOf(SANCTION_KINDS))
    state = fields.String(validate=validate.OneOf(SANCTION_STATES))


class SanctionSchema(Schema):
    id = fields.Integer()
    user = Reference(UserRefSchema)
    department = Reference(RefSchema, allow_none=True)
    complaint_id = fields.Integer(allow_none=True)
    kind = fields.String(metadata={"enum": list(SANCTION_KINDS)})
    amount = fields.Decimal(places=2, as_string=True, allow_none=True, metadata={"description": "Yuan."})
    points = fields.Integer(allow_none=True)
    reason = fields.String()
    state = fields.String(metadata={"enum": list(SANCTION_STATES)})
    proposed_by = Reference(UserRefSchema, allow_none=True)
    decided_by = Reference(UserRefSchema, allow_none=True)
    decided_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


class SanctionCreateSchema(Schema):
    user_id = fields.Integer(required=True, **ID, metadata={"description": "A staff member of this hospital."})
    kind = fields.String(required=True, validate=validate.OneOf(SANCTION_KINDS))
    reason = fields.String(required=True, validate=validate.Length(min=1, max=5000))
    # The range (0 to 99,999,999.99) is the service's check: a Decimal bound would be documented as a string.
    amount = fields.Decimal(allow_none=True, allow_nan=False,
                            metadata={"description": "Yuan, from 0 to 99,999,999.99."})
    points = fields.Integer(allow_none=True, validate=validate.Range(min=-1000, max=1000))
    complaint_id = fields.Integer(**ID, allow_none=True, metadata={
        "description": "The complaint it follows from (none for, e.g., a praise letter)."})


class SanctionDecisionSchema(Schema):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "reject")))
