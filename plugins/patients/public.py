"""What other plugins may use of the patient archive: import from here, nothing else.

A plugin that lists ``patients`` in its manifest's ``depends`` may rely on these names across
versions of this plugin; everything else in ``plugins.patients`` is private and may change
(``tests/test_import_rule.py`` fails on a plugin importing it).

* models -- to reference (``sa.ForeignKey(Patient.id)``, never the table name by hand) and to read,
  with their choices (``GENDERS``, ``VISIT_KINDS``, ``VISIT_STATUSES``) and the search keys;
* services -- to register patients and record visits with the archive's own checks and events
  (``create_patient(data)`` returns the patient, or raises ``PatientInvalid`` whose ``errors``
  map each field to its message, or ``PossibleDuplicate`` naming the likely same person; all run
  in the current hospital's scope); ``by_phone(number)`` -- the patients a caller's number
  belongs to (the screen pop's lookup); ``announce_visits(ids)`` -- tell the listeners of
  ``patients.visits_recorded`` about visits written in bulk;
* bulk writes (a HIS sync): ``upsert_patients``, ``upsert_visits``, ``upsert_rows``,
  ``set_visit_spending`` and their ``UpsertResult``;
* the patient list's query: ``PatientQuery`` and ``search(query)`` (the list's select, tenancy
  applied); ``PatientListQuerySchema`` -- the one parser of the list's arguments (with the
  filters of ``patients_list_filters``), ``query_from_args(args)`` / ``filters_of(args)`` to read
  and carry them from a page of your own, ``parse_list_args(args)`` as the list page reads them
  (with the ``disease`` code box; the SMS audience does) and ``active_diseases()`` for that box;
* sensitive data -- ``may_see_sensitive()``, ``shown_phone(patient, reveal)``, ``mask_phone``,
  ``mask_id_number``, ``last4``;
* identity -- ``normalize_phone(text)`` (a phone in the form the archive stores it, or
  ``IdentityError`` with a message for the user), ``parse_id_number``, ``pinyin_keys(name)`` (the
  name's search keys: full pinyin and initials of every reading), ``MOBILE_RE``, and the
  ID checksum tables ``ID_WEIGHTS``/``ID_CHECK`` (to make valid test or demo numbers);
* page helpers, to look like the patient pages: the labels ``GENDER_LABELS``, ``KIND_LABELS``,
  ``STATUS_LABELS``, the select helpers ``options``, ``NONE``, ``department_choices``,
  ``user_choices``, ``ordered_sources``, ``map_errors(form, errors)``, ``local_input(dt)``;
  API schemas ``RefSchema``/``UserRefSchema``; report helpers ``month_of(column)``,
  ``change(current, previous)``;
* demo data vocabulary (``SURNAMES``, ``MALE_NAMES``, ``FEMALE_NAMES``, ``COUNTIES``,
  ``MOBILE_PREFIXES``) and ``load_demo(hospital)`` -- the archive's own demo patients;
* ``PATIENT_PAGE`` -- the panel target of the patient's page (``Panel(..., target=PATIENT_PAGE)``);
* ``ListFilter`` -- a filter your plugin adds to the patient list (hook ``patients_list_filters``,
  see :mod:`plugins.patients.list_filters`);
* ``EVENTS`` -- the domain events this plugin emits; implement their typed hooks (declared in
  :mod:`plugins.patients.hooks`, e.g. ``patients_visits_recorded(hospital_id, visit_ids)``).

Test factories (``make_patient``, ``make_visit``) are in :mod:`plugins.patients.testing`.
"""
from __future__ import annotations

from plugins.patients.bulk import UpsertResult, set_visit_spending, upsert_patients, upsert_rows, upsert_visits
from plugins.patients.demo import COUNTIES, FEMALE_NAMES, MALE_NAMES, MOBILE_PREFIXES, SURNAMES
from plugins.patients.demo import load as load_demo
from plugins.patients.forms import (
    GENDER_LABELS,
    KIND_LABELS,
    NONE,
    STATUS_LABELS,
    active_diseases,
    department_choices,
    local_input,
    map_errors,
    options,
    parse_list_args,
    user_choices,
)
from plugins.patients.identity import (
    ID_CHECK,
    ID_WEIGHTS,
    MOBILE_RE,
    IdentityError,
    last4,
    mask_id_number,
    mask_phone,
    normalize_phone,
    parse_id_number,
    pinyin_keys,
)
from plugins.patients.list_filters import ListFilter
from plugins.patients.models import (
    GENDERS,
    VISIT_KINDS,
    VISIT_STATUSES,
    Diagnosis,
    Disease,
    Patient,
    Referrer,
    SearchKey,
    Source,
    Tag,
    Visit,
)
from plugins.patients.query_args import filters_of, query_from_args
from plugins.patients.reports import change, month_of
from plugins.patients.schemas import PatientListQuerySchema, RefSchema, UserRefSchema
from plugins.patients.services import (
    PatientInvalid,
    PatientQuery,
    PossibleDuplicate,
    announce_visits,
    by_phone,
    create_patient,
    may_see_sensitive,
    record_visit,
    search,
    shown_phone,
    update_patient,
    update_visit,
)
from plugins.patients.settings_services import ordered_sources

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

__all__ = [
    "Diagnosis", "Disease", "Patient", "Referrer", "SearchKey", "Source", "Tag", "Visit",
    "GENDERS", "VISIT_KINDS", "VISIT_STATUSES",
    "PatientInvalid", "PossibleDuplicate", "create_patient", "record_visit", "update_patient", "update_visit",
    "by_phone", "announce_visits",
    "UpsertResult", "upsert_patients", "upsert_visits", "upsert_rows", "set_visit_spending",
    "PatientQuery", "search", "PatientListQuerySchema", "query_from_args", "filters_of", "parse_list_args",
    "active_diseases",
    "may_see_sensitive", "shown_phone", "mask_phone", "mask_id_number", "last4",
    "normalize_phone", "IdentityError", "parse_id_number", "pinyin_keys", "MOBILE_RE", "ID_WEIGHTS", "ID_CHECK",
    "GENDER_LABELS", "KIND_LABELS", "STATUS_LABELS", "options", "NONE", "department_choices", "user_choices",
    "ordered_sources", "map_errors", "local_input", "RefSchema", "UserRefSchema", "month_of", "change",
    "SURNAMES", "MALE_NAMES", "FEMALE_NAMES", "COUNTIES", "MOBILE_PREFIXES", "load_demo",
    "PATIENT_PAGE", "EVENTS", "ListFilter",
]
