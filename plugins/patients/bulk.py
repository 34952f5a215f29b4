"""Set-based upserts of patients and visits keyed on an external system's ids — for the HIS
connector and any other importer that moves thousands of rows at a time.

Each call stages its rows in a temporary table (PostgreSQL: COPY; SQLite: executemany) and
writes them with one ``INSERT … SELECT … ON CONFLICT (hospital_id, external_id) DO UPDATE …
WHERE <some column differs>``, so re-sending unchanged rows writes nothing, and the counts of
inserted / updated / unchanged rows are exact (PostgreSQL tells inserts from updates by
``xmax = 0``; SQLite by the keys that existed before). Everything runs on the session's
connection, inside the caller's transaction: the caller commits (or rolls back) the batch.

The caller validates first (plugins.his_connector.mapping applies the same rules as
services.clean_patient / clean_visit: ID numbers checked, phones normalized, lengths, kinds and
statuses); these functions trust their input. What they add:

* patients: ``key_patient`` false and gender ``U`` when not given, ``phone_last4`` kept by the
  caller, the name index (search_index) for new, renamed and moved patients;
* visits: ``patient_id`` from the patient's external id (a patient merged into another gives the
  merge target: visits follow the surviving record), ``owner_id`` = the patient's owner on
  insert (the data-scope rule of services.record_visit; kept on update), spending 0 when not
  given. Visits whose patient is unknown are not written and come back in ``missing``.

Not done here: audit rows (a sync's run log records each batch instead) and the per-patient
``patients_patient_created`` event (callers announce visits in bulk with
services.announce_visits).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from core.bulk_copy import copy_into
from core.clock import local_to_utc
from core.extensions import db
from core.models import utcnow
from plugins.patients.search_index import index_patients

PATIENT_STAGE = {  # column → type of the staging table (every column a caller may send)
    "external_id": sa.String(64), "name": sa.String(64), "gender": sa.String(1), "birth_date": sa.Date(),
    "id_number": sa.String(18), "phone": sa.String(32), "phone_last4": sa.String(4), "phone2": sa.String(32),
    "insurance_no": sa.String(32), "address": sa.String(200), "occupation": sa.String(64),
    "department_id": sa.Integer(), "source_id": sa.Integer(), "notes": sa.Text(),
    "registered_at": sa.DateTime(),  # the HIS's registration time (local), kept as the patient's on insert
}
VISIT_STAGE = {
    "external_id": sa.String(64), "patient_key": sa.String(64), "kind": sa.String(16), "status": sa.String(16),
    "visit_at": sa.DateTime(), "discharge_at": sa.DateTime(), "department_id": sa.Integer(),
    "doctor_name": sa.String(64), "spending": sa.Numeric(12, 2), "treatment_plan": sa.Text(), "orders": sa.Text(),
}
SPENDING_STAGE = {"external_id": sa.String(64), "spending": sa.Numeric(12, 2)}


@dataclass
class UpsertResult:
    inserted: list[int] = field(default_factory=list)   # ids of new rows
    updated: list[int] = field(default_factory=list)    # ids of rows that changed
    unchanged: int = 0
    missing: list[str] = field(default_factory=list)    # external ids refused: their reference is unknown

    @property
    def written(self) -> list[int]:
        return self.inserted + self.updated


# -- staging ------------------------------------------------------------------------------------
def _stage(name: str, types: dict, columns: Sequence[str], rows: Sequence[tuple]) -> str:
    """Load ``rows`` (tuples in ``columns`` order) into the session's temp table ``name``."""
    conn = db.session.connection()
    dialect = conn.dialect
    ddl = ", ".join(f"{c} {t.compile(dialect=dialect)}" for c, t in types.items())
    if dialect.name == "postgresql":
        # Made once per connection (asking is cheaper than CREATE … IF NOT EXISTS, which writes
        # to the catalog); emptied at each commit, and by the DELETE for a second call within one.
        if conn.exec_driver_sql(f"SELECT to_regclass('pg_temp.{name}')").scalar() is None:
            conn.exec_driver_sql(f"CREATE TEMP TABLE {name} ({ddl}) ON COMMIT DELETE ROWS")
        conn.exec_driver_sql(f"DELETE FROM {name}")
        copy_into(conn, name, columns, rows)  # the callers' cleaning turns '' into None
        return name
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ({ddl})")
    conn.exec_driver_sql(f"DELETE FROM {name}")
    processors = [types[c].bind_processor(dialect) for c in columns]
    if any(processors):
        rows = [tuple(p(v) if p and v is not None else v for p, v in zip(processors, row, strict=True))
                for row in rows]
    conn.exec_driver_sql(f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                         list(rows))
    return name


def _distinct(conn) -> str:
    return "IS DISTINCT FROM" if conn.dialect.name == "postgresql" else "IS NOT"


def _patient_of(conn, key: str, *, outer: bool = False) -> str:
    """The FROM-clause part that gives each staged row ``s`` its patient ``p``, whose external id
    is ``s.<key>``. On PostgreSQL a LATERAL lookup, one probe of the (hospital_id, external_id)
    index per staged row: the planner has no statistics for the temp table and would otherwise
    hash the whole patient table for every batch. SQLite plans those lookups from a plain join.
    ``outer``: staged rows without a patient are kept (``p.id`` is NULL)."""
    lookup = f"p.hospital_id = :h AND p.external_id = s.{key}"
    if conn.dialect.name == "postgresql":
        # LIMIT 1 (the key is unique per hospital) keeps PostgreSQL from flattening the lookup
        # back into the join it would hash.
        lateral = f"LATERAL (SELECT * FROM patients_patient p WHERE {lookup} LIMIT 1) p"
        return f"LEFT JOIN {lateral} ON true" if outer else f"CROSS JOIN {lateral}"
    return f"{'LEFT ' if outer else ''}JOIN patients_patient p ON {lookup}"


def _last_per_key(columns: Sequence[str], rows: Sequence[tuple]) -> list[tuple]:
    """One row per external id, the last one given (a row changed twice within a batch):
    ON CONFLICT may not touch a row twice in one statement."""
    index = list(columns).index("external_id")
    return list({row[index]: row for row in rows}.values())


def _staged(label: str, types: dict, required: set, columns: Sequence[str], rows: Sequence[tuple]):
    """Check the columns, keep one row per key, stage them: the stage's name and the row count,
    or None when there is nothing to write."""
    columns = list(columns)
    unknown = set(columns) - set(types)
    if unknown or not required <= set(columns):
        raise ValueError(f"{label}: columns must include {sorted(required)}; unknown: {sorted(unknown)}")
    rows = _last_per_key(columns, rows)
    if not rows:
        return None
    return _stage(f"hcrm_stage_{label}", types, columns, rows), len(rows)


def _upsert(conn, table: str, insert_cols: list[str], select_sql: str, update_cols: list[str],
            params: dict, existing_sql: str | None) -> tuple[list[int], list[int]]:
    """Run the INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE differs; (inserted, updated) ids."""
    differs = " OR ".join(f"{table}.{c} {_distinct(conn)} excluded.{c}" for c in update_cols)
    sets = ", ".join(f"{c} = excluded.{c}" for c in update_cols)
    postgres = conn.dialect.name == "postgresql"
    returning = "id, (xmax = 0)" if postgres else "id, external_id"
    existing = set() if postgres else set(conn.execute(sa.text(existing_sql), params).scalars())
    sql = (f"INSERT INTO {table} ({', '.join(insert_cols)}) {select_sql} "
           f"ON CONFLICT (hospital_id, external_id) DO UPDATE SET {sets}"
           + (", updated_at = excluded.updated_at" if table == "patients_patient" else "")
           + f" WHERE {differs} RETURNING {returning}")
    inserted, updated = [], []
    for ident, flag in conn.execute(sa.text(sql), params):
        is_new = flag if postgres else flag not in existing
        (inserted if is_new else updated).append(ident)
    return inserted, updated


# -- patients -----------------------------------------------------------------------------------
def upsert_patients(hospital_id: int, columns: Sequence[str], rows: Sequence[tuple], *,
                    origin: str = "his") -> UpsertResult:
    """Insert or update patients by ``external_id``. ``columns`` names the tuple positions: it
    holds ``external_id`` and ``name`` plus any of PATIENT_STAGE's columns; columns not given are
    left as they are on existing patients (fields the CRM's staff maintain stay theirs).

    New patients get ``origin`` (models.ORIGINS: they existed before they reached the CRM, so
    they are not counted as its new patients) and, as their registration time, ``registered_at``
    (the hospital's wall-clock time, as visit times are given) when the row has one, else now.
    An existing patient's registration time is left as it is."""
    result = UpsertResult()
    if "registered_at" in columns:
        at = list(columns).index("registered_at")
        rows = [row[:at] + (local_to_utc(row[at]) if row[at] is not None else None,) + row[at + 1:] for row in rows]
    staged = _staged("patients", PATIENT_STAGE, {"external_id", "name"}, columns, rows)
    if staged is None:
        return result
    (stage, count), columns, conn = staged, list(columns), db.session.connection()
    params = {"h": hospital_id, "now": utcnow()}
    # Patients whose name index changes with this batch: renamed, or moved to another department.
    moved = f" OR p.department_id {_distinct(conn)} s.department_id" if "department_id" in columns else ""
    reindexed = set(conn.execute(sa.text(
        f"SELECT p.id FROM {stage} s {_patient_of(conn, 'external_id')} WHERE p.name <> s.name{moved}"),
        params).scalars())
    data_cols = [c for c in columns if c not in ("external_id", "registered_at")]
    extra = ([] if "gender" in columns else ["gender"])
    insert_cols = ["hospital_id", "external_id", *data_cols, *extra, "key_patient", "origin", "created_at",
                   "updated_at"]
    params["origin"] = origin
    registered = "COALESCE(s.registered_at, :now)" if "registered_at" in columns else ":now"
    select_sql = (f"SELECT :h, s.external_id, {', '.join('s.' + c for c in data_cols)}"
                  + (", 'U'" if extra else "") + f", false, :origin, {registered}, :now FROM {stage} s WHERE true")
    existing_sql = (f"SELECT p.external_id FROM {stage} s JOIN patients_patient p "
                    "ON p.hospital_id = :h AND p.external_id = s.external_id")
    result.inserted, result.updated = _upsert(conn, "patients_patient", insert_cols, select_sql, data_cols,
                                              params, existing_sql)
    result.unchanged = count - len(result.inserted) - len(result.updated)
    index_patients(conn, result.inserted + sorted(reindexed & set(result.updated)))
    return result


# -- visits -------------------------------------------------------------------------------------
def upsert_visits(hospital_id: int, columns: Sequence[str], rows: Sequence[tuple]) -> UpsertResult:
    """Insert or update visits by ``external_id``; ``patient_key`` is the patient's external id.
    ``columns`` holds ``external_id``, ``patient_key``, ``visit_at``, ``kind``, ``status`` plus
    any of VISIT_STAGE's columns; columns not given are left as they are on existing visits."""
    result = UpsertResult()
    staged = _staged("visits", VISIT_STAGE, {"external_id", "patient_key", "visit_at", "kind", "status"}, columns, rows)
    if staged is None:
        return result
    (stage, count), columns, conn = staged, list(columns), db.session.connection()
    params = {"h": hospital_id, "now": utcnow()}
    data_cols = [c for c in columns if c not in ("external_id", "patient_key")]
    extra = [] if "spending" in columns else ["spending"]
    insert_cols = ["hospital_id", "external_id", "patient_id", "owner_id", *data_cols, *extra, "created_at"]
    # A merged patient's visits go to the record it was merged into (merges re-point chains,
    # so one hop is the end), with that record's owner, read only for those rare rows.
    select_sql = (f"SELECT :h, s.external_id, COALESCE(p.merged_into_id, p.id), "
                  "CASE WHEN p.merged_into_id IS NULL THEN p.owner_id ELSE "
                  "(SELECT t.owner_id FROM patients_patient t WHERE t.id = p.merged_into_id) END, "
                  f"{', '.join('s.' + c for c in data_cols)}" + (", 0" if extra else "")
                  + f", :now FROM {stage} s {_patient_of(conn, 'patient_key')} WHERE true")
    existing_sql = (f"SELECT v.external_id FROM {stage} s JOIN patients_visit v "
                    "ON v.hospital_id = :h AND v.external_id = s.external_id")
    result.inserted, result.updated = _upsert(conn, "patients_visit", insert_cols, select_sql,
                                              ["patient_id", *data_cols], params, existing_sql)
    if len(result.inserted) + len(result.updated) < count:  # else every row was written: none missing
        result.missing = list(conn.execute(sa.text(
            f"SELECT s.external_id FROM {stage} s {_patient_of(conn, 'patient_key', outer=True)} "
            "WHERE p.id IS NULL ORDER BY s.external_id"), params).scalars())
    result.unchanged = count - len(result.missing) - len(result.inserted) - len(result.updated)
    return result


def upsert_rows(table: str, types: dict, columns: Sequence[str], rows: Sequence[tuple],
                hospital_id: int) -> UpsertResult:
    """The same upsert for a plain hospital-owned table of another plugin (e.g. the HIS
    connector's charges): ``table`` has UNIQUE (hospital_id, external_id) and the columns named
    in ``types`` (every column a caller may send, ``external_id`` included)."""
    result = UpsertResult()
    staged = _staged(table, types, {"external_id"}, columns, rows)
    if staged is None:
        return result
    (stage, count), columns, conn = staged, list(columns), db.session.connection()
    params = {"h": hospital_id}
    data_cols = [c for c in columns if c != "external_id"]
    select_sql = f"SELECT :h, {', '.join('s.' + c for c in columns)} FROM {stage} s WHERE true"
    existing_sql = (f"SELECT t.external_id FROM {stage} s JOIN {table} t "
                    "ON t.hospital_id = :h AND t.external_id = s.external_id")
    result.inserted, result.updated = _upsert(conn, table, ["hospital_id", *columns], select_sql, data_cols,
                                              params, existing_sql)
    result.unchanged = count - len(result.inserted) - len(result.updated)
    return result


def set_visit_spending(hospital_id: int, totals: dict[str, object]) -> list[int]:
    """Set the spending of visits by external id (e.g. the sum of their charges); only visits
    whose spending differs are written. Returns their ids."""
    if not totals:
        return []
    conn = db.session.connection()
    stage = _stage("hcrm_stage_spending", SPENDING_STAGE, ["external_id", "spending"], list(totals.items()))
    return list(conn.execute(sa.text(
        f"UPDATE patients_visit SET spending = s.spending FROM {stage} s WHERE patients_visit.hospital_id = :h "
        f"AND patients_visit.external_id = s.external_id AND patients_visit.spending {_distinct(conn)} s.spending "
        "RETURNING patients_visit.id"), {"h": hospital_id}).scalars())


__all__ = ["UpsertResult", "upsert_patients", "upsert_visits", "upsert_rows", "set_visit_spending", "PATIENT_STAGE", "VISIT_STAGE"]
