"""Visit diagnoses from the HIS: the visits mapping's ``diagnoses`` field (ICD code + name
columns, the primary first) reaches the patients plugin's Diagnosis rows, so that follow-up
rules filtered by disease match synced visits.

A code must be in the hospital's disease catalogue. One that is not is, by the connection's
``unknown_diagnoses`` setting, either added to the catalogue under the HIS's name and recorded
as "from HIS" (DiseaseOrigin), or the visit goes to the quarantine naming the code. The
catalogue itself can be loaded from the HIS's ICD dictionary (the ``diseases`` entity).

Writes are set-based per batch and exact: a visit's diagnoses are replaced only when they
differ (codes, names, order, or the visit's patient and time, which Diagnosis repeats).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from core.extensions import db
from core.models import utcnow
from plugins.his_connector.models import DiseaseOrigin
from plugins.patients.public import Diagnosis, Disease, Visit

CHUNK = 5000
DIAGNOSIS, DISEASE, VISIT = Diagnosis.__table__, Disease.__table__, Visit.__table__


def _chunks(items: list, size: int = CHUNK):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def catalogue(hospital_id: int, codes) -> dict[str, tuple[int, str]]:
    """{code: (disease id, name)} of these codes in the hospital's catalogue."""
    found = {}
    for part in _chunks(sorted(set(codes))):
        found.update((code, (ident, name)) for code, ident, name in db.session.execute(
            sa.select(DISEASE.c.code, DISEASE.c.id, DISEASE.c.name)
            .where(DISEASE.c.hospital_id == hospital_id, DISEASE.c.code.in_(part))))
    return found


def add_from_his(hospital_id: int, connection_id: int, names: dict[str, str | None],
                 pinyin: dict[str, str | None] | None = None) -> dict[str, tuple[int, str]]:
    """Add these codes to the catalogue under the HIS's names (the code when it gives none),
    flagged as from the HIS; returns {code: (id, name)}."""
    if not names:
        return {}
    now = utcnow()
    db.session.execute(sa.insert(DISEASE), [
        {"hospital_id": hospital_id, "code": code, "name": (name or code)[:128], "custom": True, "active": True}
        for code, name in names.items()])
    added = catalogue(hospital_id, names)
    db.session.execute(sa.insert(DiseaseOrigin.__table__), [
        {"hospital_id": hospital_id, "disease_id": added[code][0], "connection_id": connection_id,
         "pinyin": ((pinyin or {}).get(code) or None), "created_at": now} for code in names])
    return added


def upsert_dictionary(hospital_id: int, connection_id: int, columns: list[str], rows: list[tuple]):
    """The diseases entity: rows of the HIS's ICD dictionary (external_id = the code, name,
    optional pinyin). New codes join the catalogue flagged as from the HIS; a code whose name
    differs takes the HIS's name (the hospital's dictionary is the reference). Exact counts."""
    from plugins.patients.public import UpsertResult
    result = UpsertResult()
    at = {c: n for n, c in enumerate(columns)}
    latest = {row[0]: row for row in rows}  # a code twice in a batch: the last row wins
    known = catalogue(hospital_id, latest)
    new = {code: row[at["name"]] for code, row in latest.items() if code not in known}
    pinyin = {code: row[at["pinyin"]] for code, row in latest.items() if "pinyin" in at}
    added = add_from_his(hospital_id, connection_id, new, pinyin)
    result.inserted = sorted(ident for ident, _name in added.values())
    renamed = [(known[code][0], row[at["name"]]) for code, row in latest.items()
               if code in known and known[code][1] != row[at["name"]]]
    for ident, name in renamed:
        db.session.execute(sa.update(DISEASE).where(DISEASE.c.id == ident).values(name=name))
    result.updated = sorted(ident for ident, _name in renamed)
    result.unchanged = len(latest) - len(result.inserted) - len(result.updated)
    return result


def _visits(hospital_id: int, keys: list[str]) -> dict[str, tuple[int, int, datetime]]:
    """{external id: (visit id, patient id, visit time)} of the hospital's visits."""
    found = {}
    for part in _chunks(keys):
        found.update((key, (ident, patient, at)) for key, ident, patient, at in db.session.execute(
            sa.select(VISIT.c.external_id, VISIT.c.id, VISIT.c.patient_id, VISIT.c.visit_at)
            .where(VISIT.c.hospital_id == hospital_id, VISIT.c.external_id.in_(part))))
    return found


def write(hospital_id: int, wanted: dict[str, tuple], known: dict[str, tuple[int, str]]) -> set[int]:
    """Make each visit's diagnoses (by external id: ((code, HIS name), …), primary first) what the
    HIS says; codes must be in ``known``. Returns the ids of visits whose diagnoses changed."""
    visits = _visits(hospital_id, sorted(wanted))
    rows_of = {}
    for key, pairs in wanted.items():
        if key not in visits:
            continue  # not written (its patient is missing): quarantined by the caller
        visit_id, patient_id, visit_at = visits[key]
        rows_of[visit_id] = [dict(hospital_id=hospital_id, visit_id=visit_id, patient_id=patient_id,
                                  visit_at=visit_at, disease_id=known[code][0], code=code,
                                  name=(name or known[code][1])[:128], position=n)
                             for n, (code, name) in enumerate(pairs)]
    have: dict[int, list] = {ident: [] for ident in rows_of}
    compared = ("code", "name", "position", "disease_id", "patient_id", "visit_at")
    for part in _chunks(sorted(rows_of)):
        for row in db.session.execute(sa.select(DIAGNOSIS.c.visit_id, *(DIAGNOSIS.c[c] for c in compared))
                                      .where(DIAGNOSIS.c.visit_id.in_(part)).order_by(DIAGNOSIS.c.position)):
            have[row[0]].append(tuple(row[1:]))
    changed = sorted(ident for ident, rows in rows_of.items()
                     if have[ident] != [tuple(r[c] for c in compared) for r in rows])
    for part in _chunks(changed):
        db.session.execute(sa.delete(DIAGNOSIS).where(DIAGNOSIS.c.visit_id.in_(part)))
    inserted = [row for ident in changed for row in rows_of[ident]]
    if inserted:
        db.session.execute(sa.insert(DIAGNOSIS), inserted)
    return set(changed)


def from_his_count(connection_id: int) -> int:
    """How many catalogue entries this connection added (shown on its page)."""
    return db.session.execute(sa.select(sa.func.count(DiseaseOrigin.id))
                              .where(DiseaseOrigin.connection_id == connection_id)).scalar_one()
