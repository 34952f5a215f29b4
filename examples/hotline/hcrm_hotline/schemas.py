"""Marshmallow schemas of the hotline: the list's filters (shared by the page and the API) and
the API's bodies and answers."""
from marshmallow import Schema, ValidationError, fields, validate

from core.api import Reference, UtcDateTime
from hcrm_hotline.services import TOPIC_MAX
from plugins.patients.public import IdentityError, normalize_phone


class Phone(fields.String):
    """A phone number as typed, loaded in the form the patients plugin stores (13812345678)."""

    def _deserialize(self, value, attr, data, **kwargs):
        try:
            return normalize_phone(super()._deserialize(value, attr, data, **kwargs))
        except IdentityError as exc:
            raise ValidationError(str(exc)) from None


class CallQuerySchema(Schema):
    """The filters of the call list: the page and the API read them with this one schema."""

    phone = Phone(metadata={"description": "The caller's number, as typed (`0731 8456 7890`)."})
    since = fields.Date(metadata={"description": "Calls received on or after this day (the hospital's day)."})


class PatientRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class CallSchema(Schema):
    id = fields.Integer()
    phone = fields.String()
    topic = fields.String()
    tag = fields.String(allow_none=True)
    received_at = UtcDateTime()
    patient = Reference(PatientRefSchema, allow_none=True)


class CallCreateSchema(Schema):
    phone = fields.String(required=True, validate=validate.Length(max=32))
    topic = fields.String(required=True, validate=validate.Length(max=TOPIC_MAX))
    patient_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**31 - 1))
