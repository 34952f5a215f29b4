"""What other plugins may use of the patient archive: import from here, nothing else.

A plugin that lists ``patients`` in its manifest's ``depends`` may rely on these names across
versions of this plugin; everything else in ``plugins.patients`` is private and may change.

* models -- to reference (``sa.ForeignKey(Patient.id)``, never the table name by hand) and to read;
* services -- to register patients and record visits with the archive's own checks and events
  (``create_patient(data)`` returns the patient, or raises ``PatientInvalid`` whose ``errors``
  map each field to its message, or ``PossibleDuplicate`` naming the likely same person; all run
  in the current hospital's scope); ``by_phone(number)`` -- the patients a caller's number
  belongs to (the screen pop's lookup);
* ``normalize_phone(text)`` -- a phone number in the form the archive stores it, or
  ``IdentityError`` with a message for the user;
* ``PATIENT_PAGE`` -- the panel target of the patient's page (``Panel(..., target=PATIENT_PAGE)``);
* ``ListFilter`` -- a filter your plugin adds to the patient list (hook ``patients_list_filters``,
  see :mod:`plugins.patients.list_filters`);
* ``EVENTS`` -- the domain events this plugin emits; implement their typed hooks (declared in
  :mod:`plugins.patients.hooks`, e.g. ``patients_visits_recorded(hospital_id, visit_ids)``).

Test factories (``make_patient``, ``make_visit``) are in :mod:`plugins.patients.testing`.
"""
from __future__ import annotations

from plugins.patients.identity import IdentityError, normalize_phone
from plugins.patients.list_filters import ListFilter
from plugins.patients.models import Diagnosis, Disease, Patient, Referrer, Source, Tag, Visit
from plugins.patients.services import (
    PatientInvalid,
    PossibleDuplicate,
    by_phone,
    create_patient,
    record_visit,
    update_patient,
    update_visit,
)

#: The patient's page, where other plugins' panels appear as tabs.
PATIENT_PAGE = "patients.patient"

#: Event names (``core.events.emit``) -> the typed hook a listener implements.
EVENTS = {
    "patients.patient_created": "patients_patient_created",
    "patients.patient_updated": "patients_patient_updated",
    "patients.patient_merged": "patients_patient_merged",
    "patients.visits_recorded": "patients_visits_recorded",
    "patients.visits_backfill": "patients_visits_backfill",
    "patients.visit_deleted": "patients_visit_deleted",
}

__all__ = ["Diagnosis", "Disease", "Patient", "Referrer", "Source", "Tag", "Visit", "PatientInvalid", "PossibleDuplicate",
           "create_patient", "record_visit", "update_patient", "update_visit", "by_phone", "normalize_phone",
           "IdentityError", "PATIENT_PAGE", "EVENTS", "ListFilter"]
