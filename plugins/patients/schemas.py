"""Marshmallow schemas of the patients API: what integrators send and what they get back.

Input schemas check types only; the rules (ID checksum, phone formats, references of this
hospital, …) live in services.py, which the pages and the importer share. Output schemas mask
phones and ID numbers unless the caller holds ``patients.view_sensitive``.
"""
from __future__ import annotations

from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import LocalDateTime, Reference, UtcDateTime
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from plugins.patients import services
from plugins.patients.identity import age_on
from plugins.patients.models import GENDERS, VISIT_KINDS, VISIT_STATUSES

SORTS = tuple(services.SORTS)
CONSENT = ("Marketing SMS consent: true agreed, false opted out (no bulk SMS at all), null not asked "
           "(care messages only).")


def _limit(field: str) -> dict:
    # Documented from the service's limits so the two cannot drift; the service enforces them.
    return {"maxLength": services.TEXT_LIMITS[field]}


# -- output -------------------------------------------------------------------------------------
class RefSchema(Schema):
    """A reference to a row of this hospital: its id and its name."""

    id = fields.Integer()
    name = fields.String()


class UserRefSchema(Schema):
    id = fields.Integer()
    name = fields.String(attribute="display_name")


class TagRefSchema(Schema):
    name = fields.String()


def _masked(field: str):
    return fields.Method(f"_show_{field}", allow_none=True, metadata={
        "type": "string", "description": "Masked (138****5678, 4301**********1234, HN********8899) unless the caller holds "
                                         "`patients.view_sensitive`; unmasked views are audit-logged."})


class PatientSchema(Schema):
    """A patient; phones and ID numbers masked unless the caller may see them."""

    id = fields.Integer()
    name = fields.String()
    gender = fields.String(metadata={"enum": list(GENDERS), "description": "M, F or U (unknown)."})
    birth_date = fields.Date(allow_none=True)
    age = fields.Function(lambda p: age_on(p.birth_date), allow_none=True,
                          metadata={"type": "integer", "description": "Age in full years today."})
    id_number = _masked("id_number")
    phone = _masked("phone")
    phone2 = _masked("phone2")
    insurance_no = _masked("insurance_no")
    region = Reference(RefSchema, allow_none=True)
    address = fields.String(allow_none=True)
    occupation = fields.String(allow_none=True)
    source = Reference(RefSchema, allow_none=True)
    referrer = Reference(RefSchema, allow_none=True)
    owner = Reference(UserRefSchema, allow_none=True, metadata={"description": "The staff member in charge."})
    department = Reference(RefSchema, allow_none=True)
    key_patient = fields.Boolean()
    sms_consent = fields.Boolean(allow_none=True, metadata={"description": CONSENT})
    tags = fields.Pluck(TagRefSchema, "name", many=True)
    notes = fields.String(allow_none=True)
    external_id = fields.String(allow_none=True, metadata={"description": "The HIS's patient id."})
    merged_into_id = fields.Integer(allow_none=True, metadata={
        "description": "Set when this record was merged into another patient (use that one)."})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()

    def _show_id_number(self, patient):
        return services.shown_id_number(patient, services.may_see_sensitive())

    def _show_insurance_no(self, patient):
        return services.shown_insurance_no(patient, services.may_see_sensitive())

    def _show_phone(self, patient):
        return services.shown_phone(patient, services.may_see_sensitive())

    def _show_phone2(self, patient):
        return services.shown_phone(patient, services.may_see_sensitive(), field="phone2")


class DiagnosisSchema(Schema):
    code = fields.String(metadata={"description": "ICD-10 code."})
    name = fields.String()


class VisitSchema(Schema):
    id = fields.Integer()
    patient_id = fields.Integer()
    kind = fields.String(metadata={"enum": list(VISIT_KINDS)})
    status = fields.String(metadata={"enum": list(VISIT_STATUSES)})
    visit_at = LocalDateTime(metadata={"description": "The hospitals' local time (config i18n.timezone), with its offset."})
    discharge_at = LocalDateTime(allow_none=True)
    department = Reference(RefSchema, allow_none=True)
    doctor_id = fields.Integer(allow_none=True)
    doctor_name = fields.String(allow_none=True)
    diagnoses = fields.List(fields.Nested(DiagnosisSchema), metadata={"description": "The first is the primary."})
    treatment_plan = fields.String(allow_none=True)
    orders = fields.String(allow_none=True)
    # Money is exact: a decimal string ("1280.50"), never a binary float.
    spending = fields.Decimal(places=2, as_string=True, metadata={
        "type": "string", "format": "decimal", "pattern": r"^-?\d+\.\d{2}$", "description": "Yuan, 2 decimals."})
    external_id = fields.String(allow_none=True, metadata={"description": "The HIS's visit id."})
    created_at = UtcDateTime()


class HealthRecordSchema(Schema):
    allergies = fields.String(allow_none=True)
    past_history = fields.String(allow_none=True)
    family_history = fields.String(allow_none=True)
    smoking = fields.String(allow_none=True)
    drinking = fields.String(allow_none=True)
    diet = fields.String(allow_none=True)
    exercise = fields.String(allow_none=True)
    updated_at = UtcDateTime(allow_none=True, metadata={"description": "Null while nothing was recorded."})


class PatientDetailSchema(PatientSchema):
    """A patient with the health record and the latest visits (attached by the view)."""

    health_record = fields.Nested(HealthRecordSchema, attribute="api_health_record")
    recent_visits = fields.List(fields.Nested(VisitSchema), attribute="api_recent_visits",
                                metadata={"description": "The 5 latest visits, newest first."})


class LookupMatchSchema(PatientSchema):
    recent_visits = fields.List(fields.Nested(VisitSchema), attribute="api_recent_visits",
                                metadata={"description": "The 3 latest visits, newest first."})


class LookupSchema(Schema):
    matches = fields.List(fields.Nested(LookupMatchSchema))
    new_patient_url = fields.String(metadata={"description": "The page registering this caller as a new patient."})


class DiseaseSchema(Schema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "ICD-10 code (or the hospital's own)."})
    name = fields.String()
    custom = fields.Boolean(metadata={"description": "Added by the hospital, not from the ICD-10 list."})


# -- input --------------------------------------------------------------------------------------
def _optional_id(description: str = ""):
    return fields.Integer(allow_none=True, metadata={"description": description} if description else {})


class PatientCreateSchema(Schema):
    """The archive fields of a new patient; only ``name`` is required."""

    name = fields.String(required=True, metadata=_limit("name"))
    gender = fields.String(allow_none=True, metadata={
        "enum": list(GENDERS), "description": "Filled from the ID number when omitted."})
    birth_date = fields.Date(allow_none=True, metadata={"description": "Filled from the ID number when omitted."})
    id_number = fields.String(allow_none=True, metadata={
        **_limit("id_number"), "description": "18-character resident ID number; checksum, birth date "
                                              "and gender are checked."})
    phone = fields.String(allow_none=True, metadata={
        **_limit("phone"), "description": "Mobile (13812345678) or landline (0730-1234567)."})
    phone2 = fields.String(allow_none=True, metadata=_limit("phone2"))
    insurance_no = fields.String(allow_none=True, metadata=_limit("insurance_no"))
    region_id = _optional_id()
    address = fields.String(allow_none=True, metadata=_limit("address"))
    occupation = fields.String(allow_none=True, metadata=_limit("occupation"))
    source_id = _optional_id()
    referrer_id = _optional_id()
    owner_id = _optional_id("The staff member in charge; default: the caller.")
    department_id = _optional_id()
    key_patient = fields.Boolean(allow_none=True)
    sms_consent = fields.Boolean(allow_none=True, metadata={"description": CONSENT})
    notes = fields.String(allow_none=True, metadata=_limit("notes"))
    tags = fields.List(fields.String(), allow_none=True, metadata={
        "description": "Tag names; missing tags are created."})
    external_id = fields.String(allow_none=True, metadata={**_limit("external_id"),
                                                           "description": "The HIS's patient id."})


class PatientUpdateSchema(PatientCreateSchema):
    """Only the fields sent are changed (``null`` clears one)."""

    name = fields.String(metadata=_limit("name"))


class CreatePatientQuerySchema(Schema):
    allow_duplicate = fields.Boolean(load_default=False, metadata={
        "description": "Create even when a patient with the same ID number, or name and phone, exists."})


class VisitCreateSchema(Schema):
    kind = fields.String(allow_none=True, metadata={"enum": list(VISIT_KINDS), "description": "Default outpatient."})
    status = fields.String(allow_none=True, metadata={
        "enum": list(VISIT_STATUSES),
        "description": "Default: admitted for an inpatient without discharge, else completed."})
    visit_at = LocalDateTime(required=True, metadata={
        "description": "ISO 8601. Without an offset it is the hospital's local time."})
    discharge_at = LocalDateTime(allow_none=True)
    department_id = _optional_id()
    doctor_id = _optional_id("A user of this hospital.")
    doctor_name = fields.String(allow_none=True, metadata={"maxLength": 64,
                                                           "description": "Default: the doctor user's name."})
    diagnoses = fields.List(fields.String(), allow_none=True, metadata={
        "description": "ICD-10 codes of the hospital's disease catalogue, primary first."})
    treatment_plan = fields.String(allow_none=True)
    orders = fields.String(allow_none=True)
    spending = fields.Decimal(allow_none=True, allow_nan=False, metadata={
        "description": "Yuan, as a string or a number (e.g. \"1280.50\")."})
    external_id = fields.String(allow_none=True, metadata={"maxLength": 64,
                                                           "description": "The HIS's visit id, unique per hospital."})


class VisitUpdateSchema(VisitCreateSchema):
    """Only the fields sent change. Sending ``discharge_at`` for an admitted inpatient discharges
    them (status becomes ``discharged`` unless a status is sent)."""

    visit_at = LocalDateTime(metadata={"description": "ISO 8601. Without an offset it is the hospital's local time."})


class PatientListQuerySchema(Schema):
    q = fields.String(load_default="", metadata={
        "description": "One box: name prefix, pinyin (full or initials: `zs`), phone or its last 4 "
                       "digits, ID number, insurance number."})
    department_id = fields.Integer(validate=validate.Range(min=1))
    source_id = fields.Integer(validate=validate.Range(min=1))
    tag_id = fields.Integer(validate=validate.Range(min=1))
    disease_id = fields.Integer(validate=validate.Range(min=1), metadata={
        "description": "Patients with a visit diagnosed with this disease (catalogue id)."})
    visit_from = fields.Date(metadata={"description": "Patients with a visit on or after this day."})
    visit_to = fields.Date(metadata={"description": "Patients with a visit on or before this day."})
    key_patient = fields.Boolean(metadata={"description": "Only key patients (true) or only the others (false)."})
    sort = fields.String(load_default="created", validate=validate.OneOf(SORTS))
    order = fields.String(load_default="desc", validate=validate.OneOf(("asc", "desc")))

    @validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("visit_from"), data.get("visit_to")
        if isinstance(start, date) and isinstance(end, date) and start > end:
            raise ValidationError(_("The end of the visit date range comes before its start."), "visit_to")


class LookupQuerySchema(Schema):
    phone = fields.String(required=True, validate=validate.Regexp(
        r"^\+?[\d\s()\-]{7,24}$", error=_l("Send the caller's number: digits, optionally with +, spaces or dashes.")),
        metadata={"description": "The caller's number as the telephone system gives it."})


class DiseaseQuerySchema(Schema):
    q = fields.String(load_default="", metadata={"description": "Code prefix (`M51`) or part of the name."})
