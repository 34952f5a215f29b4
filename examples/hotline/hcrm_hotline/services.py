"""Business logic of the hotline: plain functions shared by the pages, the API, the CLI and jobs.

They run inside the caller's tenancy scope (the request's, or ``core.tenancy.hospital_scope`` in
the CLI and jobs), so they never filter by hospital themselves.
"""
from datetime import date, datetime, time

import sqlalchemy as sa
from flask import current_app

from core import queue
from core.clock import local_to_utc
from core.events import emit
from core.extensions import db
from core.i18n import gettext as _
from core.tenancy import current_scope
from hcrm_hotline.models import Call
from plugins.patients.public import IdentityError, Patient, by_phone, normalize_phone

TOPIC_MAX = 200
TAG_MAX = 32
RETAG_MAX = 1000  # calls one tagging task changes
RETAG_TASK = "hotline.retag"


class CallError(ValueError):
    """Refused input: ``errors`` maps each field to its message; nothing is written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def hotline_numbers(hospital_code: str) -> list[str]:
    """The hotline's numbers shown to a hospital: its own (config.yaml), else the group's."""
    settings = current_app.extensions["hcrm"].plugin_settings.get("hotline") or {}
    return settings.get("per_hospital", {}).get(hospital_code) or settings.get("numbers", [])


def calls_query(phone: str | None = None, since: date | None = None):
    """The calls the caller may see, newest first; ``phone`` keeps one caller's, ``since`` those
    received from that day on (the hospital's day: core.clock)."""
    stmt = sa.select(Call).order_by(Call.received_at.desc(), Call.id.desc())
    if phone:
        stmt = stmt.where(Call.phone == phone)
    if since:
        stmt = stmt.where(Call.received_at >= local_to_utc(datetime.combine(since, time.min)))
    return stmt


def calls_of(patient, limit: int = 20) -> list[Call]:
    """A patient's latest calls (the tab on the patient page)."""
    return db.session.execute(calls_query().where(Call.patient_id == patient.id).limit(limit)).scalars().all()


def clean_call(phone: str, topic: str, patient_id: int | None = None) -> dict:
    """The values of a new call, or CallError naming each wrong field."""
    errors, values = {}, {}
    try:
        values["phone"] = normalize_phone(phone or "")
    except IdentityError as exc:
        errors["phone"] = str(exc)
    values["topic"] = (topic or "").strip()
    if not values["topic"]:
        errors["topic"] = _("Enter the topic of the call.")
    elif len(values["topic"]) > TOPIC_MAX:
        errors["topic"] = _("The topic is longer than %(max)d characters.", max=TOPIC_MAX)
    if patient_id is not None:
        # A scoped query: another hospital's patient (or one outside the user's scope) is unknown.
        values["patient"] = db.session.execute(sa.select(Patient).where(Patient.id == patient_id)).scalar_one_or_none()
        if values["patient"] is None:
            errors["patient_id"] = _("Unknown patient: it does not exist in this hospital.")
    elif "phone" in values:
        matches = by_phone(values["phone"])
        values["patient"] = matches[0] if len(matches) == 1 else None
    if errors:
        raise CallError(errors)
    return values


def record_call(phone, topic, *, patient_id=None):
    call = Call(**clean_call(phone, topic, patient_id))
    db.session.add(call)
    db.session.flush()                   # call.id is known from here on
    emit("hotline.call_received", payload={"call_id": call.id}, call=call)
    db.session.commit()
    return call


def link_calls(patient_id: int) -> int:
    """The calls from a patient's numbers that name no patient yet now name this patient."""
    patient = db.session.execute(sa.select(Patient).where(Patient.id == patient_id)).scalar_one_or_none()
    numbers = [n for n in (patient.phone, patient.phone2) if n] if patient else []
    if not numbers:
        return 0
    calls = db.session.execute(sa.select(Call).where(Call.patient_id.is_(None), Call.phone.in_(numbers))).scalars().all()
    for call in calls:
        call.patient = patient
    return len(calls)


def start_retag(tag: str, phone: str, user):
    """Queue the task that tags the latest calls of one number; returns its record."""
    tag = (tag or "").strip()
    if not tag or len(tag) > TAG_MAX:
        raise CallError({"tag": _("Enter a tag of at most %(max)d characters.", max=TAG_MAX)})
    call_ids = list(db.session.execute(calls_query(phone).with_only_columns(Call.id).limit(RETAG_MAX)).scalars())
    if not call_ids:
        raise CallError({"phone": _("No call from this number.")})
    # The request's hospital: a group administrator's is the one they switched to, not their own.
    return queue.enqueue(RETAG_TASK, current_scope().hospital_id, user=user, summary=tag, tag=tag,
                         call_ids=call_ids)
