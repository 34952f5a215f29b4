"""Merging a duplicate patient (the *source*) into the record that is kept (the *target*).

Everything happens in one transaction: the chosen field values are copied onto the target, the
source's visits, health record and tags move to it, other plugins move their own rows through
the ``patients.patient_merged`` event, and the source is kept (clinical records are never
deleted) marked ``merged_into_id`` so it disappears from search and its page redirects.
"""
from __future__ import annotations

import contextlib
import dataclasses

import sqlalchemy as sa

from core import audit, events
from core.extensions import db
from core.i18n import gettext as _
from core.tenancy import current_scope, hospital_scope, use_scope
from plugins.patients import services
from plugins.patients.models import Diagnosis, HealthRecord, Patient, Visit

#: The fields the user picks per row of the comparison: every editable field of a patient.
MERGE_FIELDS = services.PATIENT_FIELDS
CHOICES = ("source", "target")
#: The longest text each health-record field takes (as services.save_health_record enforces).
HEALTH_LIMITS = {"smoking": 64, "drinking": 64, "diet": 200, "exercise": 200}
MAX_CHAIN = 20  # merges of merges followed by resolve_merged; bounded against a corrupt loop


class MergeRefused(ValueError):
    """The merge cannot be done as asked; the message says why. Nothing was written."""


def _empty(value) -> bool:
    return value in (None, "", False, "U")


def default_choices(source: Patient, target: Patient) -> dict[str, str]:
    """Keep the target's value unless it is empty and the source has one. The birth date and
    gender follow the ID number they must agree with."""
    choices = {f: "source" if _empty(getattr(target, f)) and not _empty(getattr(source, f)) else "target"
               for f in MERGE_FIELDS}
    if choices["id_number"] == "source":
        choices["birth_date"] = choices["gender"] = "source"
    return choices


def merge_problem(source: Patient, target: Patient, confirm_different_id: bool = False) -> str | None:
    """Why these two records cannot be merged (a message for the user), or None."""
    if source.id == target.id:
        return _("A patient cannot be merged into itself: choose another patient to keep.")
    if source.hospital_id != target.hospital_id:
        return _("Patients of different hospitals cannot be merged.")
    if source.merged_into_id:
        return _("Patient #%(id)s was already merged into patient #%(into)s.",
                 id=source.id, into=source.merged_into_id)
    if target.merged_into_id:
        return _("Patient #%(id)s was merged into patient #%(into)s: keep that patient instead.",
                 id=target.id, into=target.merged_into_id)
    if source.id_number and target.id_number and source.id_number != target.id_number and not confirm_different_id:
        return _("The two patients have different ID numbers, so they may be different people. "
                 "Confirm that they are the same person to merge them anyway.")
    return None


def candidates(source: Patient) -> list[Patient]:
    """Likely duplicates of ``source``: same ID number, or same name and phone (either number)."""
    found: dict[int, Patient] = {}
    for phone in (source.phone, source.phone2):
        for patient in services.find_duplicates(id_number=source.id_number, name=source.name, phone=phone,
                                                exclude_id=source.id):
            found.setdefault(patient.id, patient)
    return sorted(found.values(), key=lambda p: p.id)


def resolve_merged(patient: Patient) -> Patient:
    """The patient a merged record now lives in (following merges of merges); the patient itself
    when it was never merged. Stops at the last record visible in the caller's scope."""
    current, seen = patient, set()
    while current.merged_into_id and current.id not in seen and len(seen) < MAX_CHAIN:
        seen.add(current.id)
        following = db.session.execute(
            sa.select(Patient).where(Patient.id == current.merged_into_id)).scalar_one_or_none()
        if following is None:
            break
        current = following
    return current


@contextlib.contextmanager
def _whole_hospital(hospital_id: int):
    """Merging moves *all* of the patient's records, including visits outside the user's own or
    department scope: the user chose the two patients, the moves follow from that choice."""
    scope = current_scope()
    if scope is None:
        with hospital_scope(hospital_id):
            yield
        return
    with use_scope(dataclasses.replace(scope, hospital_id=hospital_id, hospital_ids=frozenset({hospital_id}),
                                       level="hospital", system=False)):
        yield


def _combined(kept: str | None, extra: str | None, note: str, limit: int) -> str | None:
    if not extra or extra == kept:
        return kept
    if not kept:
        return extra
    text = f"{kept}\n{note}: {extra}"
    return text if len(text) <= limit else kept  # too long: the source keeps its own record anyway


def _merge_health_records(source: Patient, target: Patient) -> str:
    records = {r.patient_id: r for r in db.session.execute(
        sa.select(HealthRecord).where(HealthRecord.patient_id.in_((source.id, target.id)))).scalars()}
    theirs, ours = records.get(source.id), records.get(target.id)
    if theirs is None:
        return "none"
    if ours is None:
        theirs.patient_id = target.id
        return "moved"
    note = _("merged from patient #%(id)s %(name)s", id=source.id, name=source.name)
    for field in services.HEALTH_FIELDS:
        setattr(ours, field, _combined(getattr(ours, field), getattr(theirs, field), note,
                                       HEALTH_LIMITS.get(field, 4000)))
    return "appended"


def _move_rows(source: Patient, target: Patient) -> dict:
    visits = db.session.execute(sa.update(Visit).where(Visit.patient_id == source.id)
                                .values(patient_id=target.id)).rowcount
    db.session.execute(sa.update(Diagnosis).where(Diagnosis.patient_id == source.id).values(patient_id=target.id))
    health = _merge_health_records(source, target)
    kept = {t.id for t in target.tags}
    target.tags = list(target.tags) + [t for t in source.tags if t.id not in kept]
    source.tags = []
    # Earlier merges into the source now point at the target: resolve_merged stays one hop.
    db.session.execute(sa.update(Patient).where(Patient.merged_into_id == source.id)
                       .values(merged_into_id=target.id))
    return {"visits": visits, "health_record": health}


def merge_patients(source: Patient, target: Patient, choices: dict[str, str] | None = None, *,
                   confirm_different_id: bool = False) -> Patient:
    """Merge ``source`` into ``target`` and commit; ``choices`` maps a field to "source" or
    "target" (missing fields take ``default_choices``). Raises MergeRefused, or
    services.PatientInvalid when the combined values are inconsistent; nothing is written then."""
    problem = merge_problem(source, target, confirm_different_id)
    if problem:
        raise MergeRefused(problem)
    unknown = sorted(f for f, c in (choices or {}).items() if f not in MERGE_FIELDS or c not in CHOICES)
    if unknown:
        raise MergeRefused(_("Unknown choice for: %(fields)s.", fields=", ".join(unknown)))
    chosen = {**default_choices(source, target), **(choices or {})}
    copied = {f: getattr(source, f) for f, c in chosen.items()
              if c == "source" and getattr(source, f) != getattr(target, f)}
    try:
        if copied:  # validated like any edit: an ID number must agree with the birth date kept
            services.update_patient(target, copied, commit=False)
        with _whole_hospital(target.hospital_id):
            moved = _move_rows(source, target)
            source.merged_into_id = target.id
            db.session.flush()
            events.emit("patients.patient_merged", payload={"source_id": source.id, "target_id": target.id},
                        source=source, target=target)
        audit.log_event("merge", "Patient", target.id,
                        note=f"patient #{source.id} merged into #{target.id}",
                        after={"source_id": source.id, "target_id": target.id, "fields": sorted(copied), **moved})
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return target
