"""Patients API (/api/v1/patients): the archive, visits, the CTI screen pop, the disease catalogue.

Thin views over services.py (shared with the pages, the importer and the HIS connector). Phones
and ID numbers come back masked unless the caller holds ``patients.view_sensitive``; every
unmasked answer is audit-logged before it is sent.
"""
from __future__ import annotations

import re
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, request, url_for
from marshmallow import ValidationError
from sqlalchemy.orm import joinedload, lazyload, load_only, selectinload

from core import audit
from core.api import api_route, paginate
from core.extensions import db
from core.i18n import gettext as _
from core.models import User
from core.tenancy import get_or_404
from core.web import json_error
from plugins.patients import services
from plugins.patients.identity import IdentityError, mask_phone, normalize_phone
from plugins.patients.models import Disease, Patient, Visit
from plugins.patients.schemas import (
    CreatePatientQuerySchema,
    DiseaseQuerySchema,
    DiseaseSchema,
    LookupQuerySchema,
    LookupSchema,
    PatientCreateSchema,
    PatientDetailSchema,
    PatientListQuerySchema,
    PatientSchema,
    PatientUpdateSchema,
    VisitCreateSchema,
    VisitSchema,
    VisitUpdateSchema,
)

bp = Blueprint("patients_api", __name__, url_prefix="/api/v1/patients")

DETAIL_VISITS = 5
LOOKUP_VISITS = 3
CTI_MOBILE = re.compile(r"(?:0086|86|0)?(1[3-9]\d{9})")
AUDIT_CHUNK = 20  # patient ids per audit row: the note column holds 255 characters
# Relationships every patient answer shows, joined into the page's own statement: one statement
# per page (SQLAlchemy limits the patients in a subquery before joining their tags). The owner is
# shown as id and name only: skip the roles, grants and hospital a User loads eagerly.
PATIENT_LOADS = (joinedload(Patient.region), joinedload(Patient.source), joinedload(Patient.referrer),
                 joinedload(Patient.department), joinedload(Patient.tags),
                 joinedload(Patient.owner).options(load_only(User.id, User.display_name),
                                                   lazyload(User.roles), lazyload(User.hospital)))


# -- helpers ------------------------------------------------------------------------------------
def _invalid(errors: dict[str, str]) -> ValidationError:
    """A service's field errors in the API's shape (field -> list of messages); the toolkit
    answers 422 and rolls back."""
    return ValidationError({field: [message] for field, message in errors.items()})


def _audit_unmasked(patients, where: str) -> None:
    """Log the unmasked phones/ID numbers about to be sent (nothing when they are masked)."""
    patients = list(patients)
    if not patients or not services.may_see_sensitive():
        return
    for start in range(0, len(patients), AUDIT_CHUNK):
        services.log_sensitive_view(patients[start:start + AUDIT_CHUNK], where)
    audit.commit_keeping_loaded()


def _caller_number(raw: str) -> str:
    """The caller's number as the archive stores it. Telephone systems add their own decorations
    to mobiles (+86 138-1234-5678, 8613812345678, a trunk 0: 013812345678). No area code starts
    with 01 but Beijing's 010, so a 0 before a mobile number is never a landline."""
    digits = re.sub(r"\D", "", raw)
    mobile = CTI_MOBILE.fullmatch(digits)
    if mobile:
        return mobile.group(1)
    try:
        return normalize_phone(raw)
    except IdentityError:
        return digits


def _recent_visits(patient: Patient, limit: int) -> list[Visit]:
    stmt = (sa.select(Visit).where(Visit.patient_id == patient.id)
            .options(selectinload(Visit.department))
            .order_by(Visit.visit_at.desc(), Visit.id.desc()).limit(limit))
    return db.session.execute(stmt).scalars().all()


# -- search and the screen pop (literal paths; ids use <int:…>, so they never collide) ----------
@api_route(bp, "", permission="patients.read", query=PatientListQuerySchema, response=PatientSchema,
           paginated=True)
def list_patients(query):
    """Search patients.

    One box `q` (name, pinyin full or initials, phone or its last 4 digits, ID number,
    insurance number) plus filters; newest first unless `sort`/`order` say otherwise.
    """
    search = services.PatientQuery(
        q=query["q"], department_id=query.get("department_id"), source_id=query.get("source_id"),
        tag_id=query.get("tag_id"), disease_id=query.get("disease_id"), visit_from=query.get("visit_from"),
        visit_to=query.get("visit_to"), key_patient=query.get("key_patient"), sort=query["sort"],
        descending=query["order"] == "desc")
    page = paginate(services.search(search), load=PATIENT_LOADS, count_cap=services.LIST_COUNT_CAP,
                    counted=services.counted(search))
    _audit_unmasked(page.rows, "API patient list")
    return page


@api_route(bp, "/lookup", permission="patients.read", query=LookupQuerySchema, response=LookupSchema)
def lookup(query):
    """Screen pop: who is calling.

    For a CTI integration: the patients whose phone (either number) is the caller's, each with
    the 3 latest visits, and the page that registers the caller as a new patient.
    """
    number = _caller_number(query["phone"])
    matches = services.by_phone(number)
    _audit_unmasked(matches, "API screen pop")  # first: its commit would expire the visits loaded below
    for patient in matches:
        patient.api_recent_visits = _recent_visits(patient, LOOKUP_VISITS)
    return {"matches": matches,
            "new_patient_url": f"{request.script_root}/patients/new?{urlencode({'phone': number})}"}


@api_route(bp, "/diseases", permission="patients.read", query=DiseaseQuerySchema, response=DiseaseSchema,
           paginated=True)
def list_diseases(query):
    """Search the disease catalogue.

    Active entries of the hospital's catalogue (ICD-10 starter list and its own) whose code
    starts with `q` or whose name contains it, by code. For autocompletes and integrators.
    """
    stmt = sa.select(Disease).where(Disease.active.is_(True))
    text = query["q"].strip()
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(sa.or_(Disease.code.like(escaped.upper() + "%", escape="\\"),
                                 Disease.name.like("%" + escaped + "%", escape="\\")))
    return paginate(stmt.order_by(Disease.code, Disease.id))


# -- one patient --------------------------------------------------------------------------------
@api_route(bp, "", methods=("POST",), permission="patients.create", body=PatientCreateSchema,
           query=CreatePatientQuerySchema, response=PatientSchema, status=201, errors=(409,))
def create_patient(body, query):
    """Register a patient.

    409 with `matches` (id, name, masked phone) when a patient with the same ID number, or
    the same name and phone, exists; send `allow_duplicate=true` to register anyway.
    Answers 201 with the patient and its URL in `Location`.
    """
    try:
        patient = services.create_patient(body, allow_duplicate=query["allow_duplicate"])
    except services.PatientInvalid as exc:
        raise _invalid(exc.errors) from None
    except services.PossibleDuplicate as dup:
        db.session.rollback()
        return json_error(409, _("A patient with the same ID number, or the same name and phone, exists. "
                                 "Send allow_duplicate=true to register anyway."),
                          matches=[{"id": p.id, "name": p.name, "phone": mask_phone(p.phone)} for p in dup.matches])
    _audit_unmasked([patient], "API patient created")
    return patient, 201, {"Location": url_for(".get_patient", patient_id=patient.id)}


@api_route(bp, "/<int:patient_id>", permission="patients.read", response=PatientDetailSchema)
def get_patient(patient_id):
    """One patient.

    With the health record and the 5 latest visits.
    """
    patient = get_or_404(Patient, patient_id)
    _audit_unmasked([patient], "API patient")  # first: its commit would expire what is loaded below
    # Attached for PatientDetailSchema; plain attributes, never written to the database.
    patient.api_health_record = services.health_record(patient)
    patient.api_recent_visits = _recent_visits(patient, DETAIL_VISITS)
    return patient


@api_route(bp, "/<int:patient_id>", methods=("PATCH",), permission="patients.edit", body=PatientUpdateSchema,
           response=PatientSchema)
def update_patient(patient_id, body):
    """Change a patient.

    Only the fields sent change; `null` clears a field. `tags`, when sent, replaces the tags.
    """
    patient = get_or_404(Patient, patient_id)
    if "tags" in body and body["tags"] is None:
        body["tags"] = []  # null clears, as for every other field
    try:
        services.update_patient(patient, body)
    except services.PatientInvalid as exc:
        raise _invalid(exc.errors) from None
    _audit_unmasked([patient], "API patient updated")
    return patient


@api_route(bp, "/<int:patient_id>", methods=("DELETE",), permission="patients.delete", status=204,
           errors=(409,))
def delete_patient(patient_id):
    """Delete a patient.

    Only a patient without visits: clinical records are kept (409 otherwise; merge a
    duplicate into the right patient instead).
    """
    patient = get_or_404(Patient, patient_id)
    try:
        services.delete_patient(patient)
    except services.PatientInvalid as exc:
        db.session.rollback()
        return json_error(409, "; ".join(exc.errors.values()))
    return None


# -- visits -------------------------------------------------------------------------------------
@api_route(bp, "/<int:patient_id>/visits", permission="patients.read", response=VisitSchema, paginated=True)
def list_visits(patient_id):
    """A patient's visits, newest first."""
    patient = get_or_404(Patient, patient_id)
    stmt = (sa.select(Visit).where(Visit.patient_id == patient.id).options(selectinload(Visit.department))
            .order_by(Visit.visit_at.desc(), Visit.id.desc()))
    return paginate(stmt)


@api_route(bp, "/<int:patient_id>/visits", methods=("POST",), permission="patients.create",
           body=VisitCreateSchema, response=VisitSchema, status=201, errors=(409,))
def create_visit(patient_id, body):
    """Record a visit.

    Diagnoses are ICD-10 codes of the hospital's disease catalogue (422 for unknown codes).
    409 when a visit with the same `external_id` exists. Other plugins hear of the visit
    (the follow-up plugin plans calls from it).
    """
    return _write_visit(services.record_visit, get_or_404(Patient, patient_id), body)


@api_route(bp, "/<int:patient_id>/visits/<int:visit_id>", methods=("PATCH",), permission="patients.edit",
           body=VisitUpdateSchema, response=VisitSchema, errors=(409,))
def update_visit(patient_id, visit_id, body):
    """Change a visit, e.g. record an inpatient's discharge.

    Only the fields sent change; `diagnoses`, when sent, replaces them. Other plugins hear of the
    change (the follow-up plugin plans post-discharge calls from it).
    """
    visit = get_or_404(Visit, visit_id)
    if visit.patient_id != patient_id:
        return json_error(404, _("This patient has no such visit."))
    return _write_visit(services.update_visit, visit, body)


def _write_visit(write, record, body):
    """Run a visit-writing service, turning its refusals into 422 / 409 answers."""
    try:
        return write(record, body)
    except services.PatientInvalid as exc:
        raise _invalid(exc.errors) from None
    except sa.exc.IntegrityError:  # the (hospital, external_id) unique constraint
        db.session.rollback()
        return json_error(409, _("A visit with the external id “%(id)s” is already recorded.",
                                 id=body.get("external_id")))
