"""SMS log API (/api/v1/followup/sms): the outbox as the SMS log page lists it, through the same
service (sms.outbox_select), so the page and the API show the same messages — those of the
patients the caller may see. Phones are masked unless the caller may see them in clear."""
from __future__ import annotations

from flask import Blueprint
from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError
from sqlalchemy.orm import selectinload

from core import audit
from core.api import LocalDateTime, UtcDateTime, api_route, paginate
from core.extensions import db
from core.i18n import gettext as _
from core.tenancy import get_or_404
from plugins.followup.models import SMS_STATUSES, SmsMessage
from plugins.followup.outreach import sms
from plugins.patients import public as patient_services
from plugins.patients.public import Patient, mask_phone

bp = Blueprint("followup_sms_api", __name__, url_prefix="/api/v1/followup/sms")


class SmsMessageSchema(Schema):
    id = fields.Integer()
    patient = fields.Method("_patient", metadata={"type": "object", "description": "id and name (null: none)."})
    plan_id = fields.Integer(allow_none=True)
    template_id = fields.Integer(allow_none=True)
    phone = fields.Method("_phone", metadata={
        "type": "string", "description": "Masked unless the caller holds `patients.view_sensitive`."})
    body = fields.String()
    status = fields.String(metadata={"enum": list(SMS_STATUSES)})
    scheduled_at = LocalDateTime(allow_none=True)
    attempts = fields.Integer()
    error = fields.String(allow_none=True)
    sent_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()

    def _patient(self, message):
        return {"id": message.patient_id, "name": message.patient.name} if message.patient is not None else None

    def _phone(self, message):
        return message.phone if patient_services.may_see_sensitive() else mask_phone(message.phone)


class OutboxQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(SMS_STATUSES))
    patient_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    since = fields.Date(metadata={"description": "Created on or after this (local) day."})
    until = fields.Date(metadata={"description": "Created on or before this (local) day."})

    @validates_schema
    def _period(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise SchemaError({"until": [_("The period ends before it starts.")]})


@api_route(bp, "/messages", permission="followup.read", query=OutboxQuerySchema, response=SmsMessageSchema,
           paginated=True)
def list_messages(query):
    """List SMS messages.

    The SMS log, newest first: the messages of the patients the caller may see (a staff
    token: its own patients'), like the SMS log page.
    """
    patient_id = query.get("patient_id")
    if patient_id:
        get_or_404(Patient, patient_id)  # another hospital's, or a hidden, patient: 404
    reveal = patient_services.may_see_sensitive()
    page = paginate(sms.outbox_select(status=query.get("status"), since=query.get("since"),
                                      until=query.get("until"), patient_id=patient_id),
                    load=(selectinload(SmsMessage.patient),))
    if page.rows and reveal:
        audit.log_event("view", SmsMessage.__name__, None, note="SMS log (API): unmasked phones")
        db.session.commit()
    return page
