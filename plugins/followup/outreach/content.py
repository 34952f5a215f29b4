"""Content sources (the ``followup_content_sources`` hook): texts from other plugins — a
knowledge base's articles — that the SMS, bulk SMS, SMS template and plan/round forms insert
through one picker. The picker shows only while some live plugin offers a source."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import current_app

from core.activation import live_plugins
from core.extensions import db
from core.models import Department
from core.tenancy import current_scope, system_scope
from plugins.patients.public import Diagnosis, Patient, Visit

NAME = re.compile(r"^[a-z0-9_]{1,32}$")
LIMIT = 20


def sources() -> dict:
    """name → source offered by the current hospital's live plugins."""
    hospital_id = current_scope().hospital_id
    with system_scope():
        live = live_plugins(hospital_id)
    caller = getattr(current_app.extensions["hcrm"].registry.hooks_for(live), "followup_content_sources", None)
    found = {}
    for offered in (caller() if caller else []):
        for source in offered or []:
            name = str(getattr(source, "name", "") or "")
            if NAME.match(name) and callable(getattr(source, "search", None)):
                found.setdefault(name, source)
    return found


def patient_context(patient: Patient | None) -> tuple[list[str], list[str]]:
    """The patient's department names (their own and their visits') and diagnosis codes."""
    if patient is None:
        return [], []
    department_ids = {patient.department_id} | set(db.session.execute(
        sa.select(Visit.department_id).where(Visit.patient_id == patient.id)).scalars())
    department_ids.discard(None)
    names = list(db.session.execute(sa.select(Department.name).where(Department.id.in_(department_ids))).scalars())
    codes = list(db.session.execute(sa.select(Diagnosis.code).where(Diagnosis.patient_id == patient.id)
                                    .distinct()).scalars())
    return names, codes


def search(q: str, patient: Patient | None) -> list[dict]:
    """Items of every source for the words and the patient. Raises ValueError (message for the user)."""
    departments, diagnoses = patient_context(patient)
    items = []
    for name, source in sources().items():
        for item in source.search(q, departments=departments, diagnoses=diagnoses, limit=LIMIT) or []:
            items.append({"source": name, "source_title": str(getattr(source, "title", name)), **item})
    return items[:LIMIT * 2]


def used(name: str, item_id: int) -> dict | None:
    source = sources().get(name)
    used_item = getattr(source, "used", None)
    return used_item(item_id) if used_item else None
