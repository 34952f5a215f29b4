"""The name index (``patients_search_key``, see models.SearchKey): what the search box matches
names against, and the one place that keeps it true.

Each live patient has one row per key: the name itself (lower case, without spaces and
separators) and its pinyin, full and initials. Each row copies the patient's hospital, owner,
department and registration time, so that the tenancy scope applies to the index as to the
patients and a search answers from the index alone. That holds while:

* every patient's keys follow its name, owner and department — ORM writes are followed by the
  mapper listeners below, bulk writes (plugins.patients.bulk, the demo) call
  :func:`index_patients` for the patients they create or change;
* a patient merged into another has no keys (merged records leave the search).
"""
from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy import event

from core.bulk_copy import insert_rows
from plugins.patients.identity import pinyin_keys
from plugins.patients.models import Patient, SearchKey

SEPARATORS = re.compile(r"[\s·•.\-]")
COPIED = ("hospital_id", "owner_id", "department_id", "created_at")  # the patient's columns each key carries
FOLLOWED = ("name", "owner_id", "department_id", "created_at", "merged_into_id")  # a change rewrites the keys
CHUNK = 1000  # patients per statement: a batch of 5,000 names makes ~25,000 keys, held twice (rows, COPY text)

_keys = SearchKey.__table__
_patients = Patient.__table__


def name_key(text: str | None) -> str:
    """A name, or what was typed for one, as the index keeps it: lower case, without spaces or
    the separators of transliterated names (阿依古丽·买买提)."""
    return SEPARATORS.sub("", text or "").lower()[:64]


def keys_of(name: str | None) -> set[str]:
    key = name_key(name)
    return ({key} if key else set()) | pinyin_keys(name)


def index_patients(conn, patient_ids) -> None:
    """Rewrite the keys of these patients from their rows as they are now, on ``conn`` (the
    caller's transaction). A merged patient is left without keys."""
    ids = sorted(set(patient_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        conn.execute(_keys.delete().where(_keys.c.patient_id.in_(chunk)))
        patients = conn.execute(
            sa.select(_patients.c.id, _patients.c.name, *(_patients.c[c] for c in COPIED))
            .where(_patients.c.id.in_(chunk), _patients.c.merged_into_id.is_(None))).all()
        rows = [(p.id, key, *(getattr(p, c) for c in COPIED)) for p in patients for key in sorted(keys_of(p.name))]
        insert_rows(conn, _keys, ("patient_id", "key", *COPIED), rows)  # keys are never ''


@event.listens_for(Patient, "after_insert")
def _index_new_patient(_mapper, connection, patient) -> None:
    index_patients(connection, [patient.id])


@event.listens_for(Patient, "after_update")
def _follow_patient(_mapper, connection, patient) -> None:
    state = sa.inspect(patient)
    if any(state.attrs[name].history.has_changes() for name in FOLLOWED):
        index_patients(connection, [patient.id])
