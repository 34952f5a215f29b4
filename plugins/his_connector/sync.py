"""The sync loop: read a mapping's rows from the HIS in keyset order, write each batch set-based
in its own transaction together with the cursor and the run log, resume after a dropped
connection, quarantine what cannot be mapped.

Guarantees (see docs/his_connector.md):

* one transaction per batch on our side — the batch's upserts, its quarantine rows, the event
  listeners' writes (follow-up plans), the mapping's cursor and the run's counters commit
  together, so the stored cursor never runs ahead of the data, and a failure loses at most the
  batch in progress, which the next attempt reads again;
* the upper bound (the HIS clock minus the safety lag) is fixed when the run starts, so a run
  ends even while the HIS keeps writing, and rows committed late (their timestamp older than
  the moment they became visible) are still ahead of the cursor next time;
* a dropped HIS connection is retried with exponential backoff (HCRM_HIS_RETRIES times,
  starting at HCRM_HIS_BACKOFF seconds), resuming from the last committed position;
* a statement reads at most HCRM_HIS_WINDOW_BATCHES batches (default 20, see source.py).
"""
from __future__ import annotations

import json
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, get_locale
from sqlalchemy.dialects import postgresql, sqlite

from core import clock
from core.extensions import db
from core.i18n import gettext as _
from core.models import utcnow
from plugins.his_connector import diagnoses, locks, source
from plugins.his_connector import mapping as field_maps
from plugins.his_connector.models import Charge, Mapping, Quarantine, Run
from plugins.patients import public as bulk
from plugins.patients.public import announce_visits

log = logging.getLogger(__name__)
CHARGE_STAGE = {"external_id": sa.String(64), "visit_external_id": sa.String(64), "amount": sa.Numeric(12, 2),
                "item": sa.String(128), "charged_at": sa.DateTime()}
CHARGE_COLUMNS = {"visit_key": "visit_external_id"}  # mapping field → charge column
KEYS_PER_STATEMENT = 500
ANALYZED = {"patients": "patients_patient", "visits": "patients_visit", "charges": "his_connector_charge",
            "diseases": "patients_disease"}  # the table each entity writes (see BatchWriter._analyze_when_grown)  # an IN list of natural keys (Oracle allows 1,000)


def _to_local(connection) -> Callable:
    """Source datetimes → our clock. Naive source values are in the connection's time zone;
    the CRM keeps clinical times as naive local time of the deployment's zone (core.clock)."""
    ours = clock.zone()
    theirs = ZoneInfo(connection.timezone)
    if ours.key == theirs.key:
        def same_zone(moment):
            return moment if moment.tzinfo is None else moment.astimezone(ours).replace(tzinfo=None)
        same_zone.identity = True  # lets the mapper skip the call for naive values
        return same_zone
    return lambda moment: (moment if moment.tzinfo else moment.replace(tzinfo=theirs)).astimezone(ours) \
        .replace(tzinfo=None)


def _plain(value):
    return value.isoformat() if hasattr(value, "isoformat") else (value if isinstance(value, (int, float, str))
                                                                  or value is None else str(value))


def _raw(columns, row) -> dict:
    return {c: _plain(v) for c, v in zip(columns, row, strict=True)}


def _key_text(value) -> str:
    return "" if value is None else str(value)[:128]


# -- preview ------------------------------------------------------------------------------------
@dataclass
class PreviewRow:
    key: str
    raw: dict
    values: dict | None
    errors: list[str]


@dataclass
class Preview:
    columns: list[str]
    fields: list[str]
    rows: list[PreviewRow] = field(default_factory=list)
    skipped: int = 0  # rows of the query without a cursor or key value: a sync never reads them


def preview_rows(connection, entity: str, values: dict, *, limit: int, unmasked: bool = False) -> Preview:
    """Map the first ``limit`` rows; write nothing."""
    columns, rows, skipped = source.preview_sample(connection, values["query"], values["key_column"],
                                                   values["cursor_column"], limit)
    mapper = field_maps.compile_mapper(entity, values["fields"], columns, values["key_column"],
                                       values["cursor_column"], to_local=_to_local(connection))
    sensitive = {"phone", "phone2", "id_number"}
    preview = Preview(columns, list(mapper.columns), skipped=skipped)
    for row in rows:
        out, errors = mapper(row)
        raw = _raw(columns, row)
        mapped = dict(zip(mapper.columns, out, strict=True)) if out is not None else None
        if not unmasked:
            raw = field_maps.mask_sensitive(values["fields"], raw)
            if mapped:
                mapped = {k: field_maps.SENSITIVE[k](v) if k in sensitive and v else v for k, v in mapped.items()}
        preview.rows.append(PreviewRow(_key_text(row[mapper.key_index]), raw, mapped, errors))
    return preview


# -- writing one batch --------------------------------------------------------------------------
@dataclass
class Counts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0


@dataclass
class Prepared:
    """A mapped batch. The source rows of the mapped ones are not kept (two batches are in
    memory at a time): a row whose reference turns out to be missing is read again."""

    read: int                                # rows read
    last: source.Position                    # the last row's (cursor, key): where the next batch starts
    good: list[tuple]                        # values in the mapper's columns
    bad: list[tuple[str, dict, str]] = field(default_factory=list)  # (natural key, source values, reason)


class BatchWriter:
    """Maps and writes batches of one mapping's rows (compiled once per run)."""

    def __init__(self, mapping: Mapping, run: Run, columns: list[str]):
        connection = mapping.connection
        self.connection, self.query = connection, mapping.query
        self.key_column, self.cursor_column = mapping.key_column, mapping.cursor_column
        self.mapping_id, self.run_id, self.entity = mapping.id, run.id, mapping.entity
        self.hospital_id = mapping.hospital_id
        self.fields = mapping.fields
        self.columns = columns
        self.mapper = field_maps.compile_mapper(mapping.entity, mapping.fields, columns, mapping.key_column,
                                                mapping.cursor_column, to_local=_to_local(connection))
        self.charges_mapped = any(m.entity == "charges" and m.enabled for m in connection.mappings)
        columns_out = self.mapper.columns
        self.diagnoses_index = columns_out.index("diagnoses") if "diagnoses" in columns_out else None
        self.connection_id, self.add_unknown = connection.id, connection.unknown_diagnoses == "add"
        self.inserted, self.analyzed_at = 0, int(current_app.config.get("HCRM_HIS_ANALYZE_ROWS", 5000))
        self.open_quarantine = db.session.execute(
            sa.select(Quarantine.id).where(Quarantine.mapping_id == mapping.id,
                                           Quarantine.resolved.is_(False)).limit(1)).first() is not None

    def prepare(self, rows) -> Prepared:
        """Map a batch of source rows. Pure Python, no database: it runs in the prefetch
        thread, next to the reading."""
        mapper, key_index = self.mapper, self.mapper.key_index
        good, bad = [], []
        for row in rows:
            out, errors = mapper(row)
            if out is None:
                bad.append((_key_text(row[key_index]), _raw(self.columns, row), "; ".join(errors)))
            else:
                good.append(out)
        last = rows[-1]
        return Prepared(len(rows), source.Position(last[mapper.cursor_index], last[key_index]), good, bad)

    def write(self, prepared: Prepared) -> Counts:
        """Write a prepared batch in the current transaction (the caller commits)."""
        counts, bad = Counts(), list(prepared.bad)
        good, columns, wanted, known = prepared.good, self.mapper.columns, None, None
        if self.diagnoses_index is not None:
            good, columns, wanted, known, refused = self._split_diagnoses(good)
            bad += refused
        result = self._upsert(good, columns)
        self._analyze_when_grown(len(result.inserted))
        if result.missing:
            reason = _("the patient is not in the CRM (not synced yet, or quarantined)") if self.entity == "visits" \
                else _("the referenced record is not in the CRM")
            bad += [(key, raw, reason) for key, raw in self._source_rows(result.missing)]
        counts.inserted, counts.updated, counts.unchanged = len(result.inserted), len(result.updated), result.unchanged
        if self.entity == "visits":
            written = set(result.written)
            if wanted:
                # a visit whose only change is its diagnoses was "unchanged" for the upsert
                more = diagnoses.write(self.hospital_id, wanted, known) - written
                counts.updated, counts.unchanged = counts.updated + len(more), counts.unchanged - len(more)
                written |= more
            if written:  # after the diagnoses: the follow-up rules match on them
                announce_visits(sorted(written), hospital_id=self.hospital_id)
        if bad:
            self._quarantine(bad)
            counts.quarantined = len({key for key, _raw, _reason in bad})
        if self.open_quarantine and prepared.good:
            failed = {key for key, _raw, _reason in bad}
            self._resolve([k for k in (_key_text(v[0]) for v in prepared.good) if k not in failed])
        return counts

    def _source_rows(self, keys: list[str]) -> list[tuple[str, dict]]:
        """(key, source values) of these keys as the HIS has them now; a key it no longer has
        keeps just its key."""
        found = {}
        with source.Reader(self.connection, self.query, self.key_column, self.cursor_column) as reader:
            for start in range(0, len(keys), KEYS_PER_STATEMENT):
                columns, rows = reader.rows_for_keys(keys[start:start + KEYS_PER_STATEMENT])
                key_index = [c.upper() for c in columns].index(self.key_column.upper())
                found.update((_key_text(row[key_index]), _raw(columns, row)) for row in rows)
        return [(key, found.get(key, {self.key_column: key})) for key in keys]

    def _analyze_when_grown(self, inserted: int) -> None:
        """PostgreSQL plans the staged rows' probes (LATERAL lookups, the follow-up plugin's
        INSERT … SELECT) from the table's statistics. Autovacuum analyzes a table once a share of
        it changed, which a new hospital's first load into tables holding other hospitals' rows
        may never reach: planned on statistics that say the hospital has no rows, a probe takes
        the (hospital, phone) index instead of the unique (hospital, external id) one and the load
        goes quadratic. So the written table is analyzed, in the batch's transaction, when this
        run's inserts reach HCRM_HIS_ANALYZE_ROWS (5,000) and each time they double: a few
        sampled ANALYZEs per run, whatever its size."""
        self.inserted += inserted
        if self.inserted < self.analyzed_at or db.session.connection().dialect.name != "postgresql":
            return
        while self.analyzed_at <= self.inserted:
            self.analyzed_at *= 2
        table = ANALYZED[self.entity]
        log.info("HIS sync: ANALYZE %s after %d rows inserted by this run", table, self.inserted)
        db.session.execute(sa.text(f"ANALYZE {table}"))

    def _split_diagnoses(self, good: list[tuple]):
        """Take the diagnoses out of the visit rows: (rows, their columns, {key: diagnoses},
        the catalogue's {code: (id, name)}, rows refused for a code the catalogue lacks)."""
        at = self.diagnoses_index
        wanted = {row[0]: row[at] for row in good}
        codes = {code for pairs in wanted.values() for code, _name in pairs}
        known = diagnoses.catalogue(self.hospital_id, codes)
        unknown = codes - set(known)
        refused = []
        if unknown and self.add_unknown:
            names = {}
            for pairs in wanted.values():
                for code, name in pairs:
                    if code in unknown and not names.get(code):
                        names[code] = name
            known.update(diagnoses.add_from_his(self.hospital_id, self.connection_id, names))
        elif unknown:
            blocked = {key: sorted(c for c, _n in pairs if c in unknown) for key, pairs in wanted.items()
                       if any(c in unknown for c, _n in pairs)}
            raw = dict(self._source_rows(sorted(blocked)))
            refused = [(key, raw[key], _("diagnosis code(s) %(codes)s not in the disease catalogue (load the HIS's "
                                         "ICD dictionary, or let this connection add missing codes)",
                                         codes=", ".join(codes_))) for key, codes_ in blocked.items()]
            good = [row for row in good if row[0] not in blocked]
            wanted = {key: pairs for key, pairs in wanted.items() if key not in blocked}
        columns = [c for n, c in enumerate(self.mapper.columns) if n != at]
        return [row[:at] + row[at + 1:] for row in good], columns, wanted, known, refused

    def _upsert(self, good: list[tuple], columns: list[str]) -> bulk.UpsertResult:
        if self.entity == "diseases":
            return diagnoses.upsert_dictionary(self.hospital_id, self.connection_id, columns, good)
        if self.entity == "patients":
            return bulk.upsert_patients(self.hospital_id, columns, good)
        if self.entity == "visits":
            result = bulk.upsert_visits(self.hospital_id, columns, good)
            if self.charges_mapped and result.inserted:
                self._recompute_spending({row[0] for row in good})
            return result
        charge_columns = [CHARGE_COLUMNS.get(c, c) for c in columns]
        result = bulk.upsert_rows(Charge.__tablename__, CHARGE_STAGE, charge_columns, good, self.hospital_id)
        if result.written:
            visit_index = charge_columns.index("visit_external_id")
            self._recompute_spending({row[visit_index] for row in good})
        return result

    def _recompute_spending(self, visit_keys: set[str]) -> None:
        """A visit's spending is the sum of its charges (see models.Charge)."""
        keys = sorted(visit_keys)
        totals = {}
        for start in range(0, len(keys), 5000):
            totals.update(db.session.execute(
                sa.select(Charge.visit_external_id, sa.func.sum(Charge.amount))
                .where(Charge.visit_external_id.in_(keys[start:start + 5000]))
                .group_by(Charge.visit_external_id)).all())
        bulk.set_visit_spending(self.hospital_id, totals)

    def _quarantine(self, bad: list[tuple[str, dict, str]]) -> None:
        now = utcnow()
        entries = {}
        for key, raw, reason in bad:  # one entry per key: the last row of the batch wins
            entries[key] = dict(hospital_id=self.hospital_id, mapping_id=self.mapping_id, run_id=self.run_id,
                                entity=self.entity, natural_key=key, reason=reason[:4000], resolved=False,
                                raw=json.dumps(raw, ensure_ascii=False), created_at=now, updated_at=now)
        dialect = db.session.connection().dialect.name
        insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(Quarantine.__table__)
        statement = insert.on_conflict_do_update(
            index_elements=["mapping_id", "natural_key"],
            set_={c: insert.excluded[c] for c in ("run_id", "raw", "reason", "resolved", "updated_at")}
            | {"resolved_at": None, "resolved_by_id": None})
        db.session.execute(statement, list(entries.values()))
        self.open_quarantine = True

    def _resolve(self, keys: list[str]) -> None:
        """Rows that now sync cleanly close their open quarantine entries."""
        for start in range(0, len(keys), 5000):
            db.session.execute(sa.update(Quarantine).where(
                Quarantine.mapping_id == self.mapping_id, Quarantine.resolved.is_(False),
                Quarantine.natural_key.in_(keys[start:start + 5000])).values(resolved=True, resolved_at=utcnow()),
                execution_options={"synchronize_session": False})


# -- runs ---------------------------------------------------------------------------------------
class _ShortSwitchInterval:
    """While the reader thread decodes, the writer waits for the GIL after each of its many short
    round trips to PostgreSQL; at Python's default 5 ms switch interval that wait was a third of
    a batch's time. The interval is shortened while at least one prefetch runs, and put back when
    the last one ends (it is process-wide: other threads only switch more often meanwhile)."""

    def __init__(self, seconds: float):
        self.seconds, self._lock, self._running, self._saved = seconds, threading.Lock(), 0, None

    def enter(self) -> None:
        with self._lock:
            if self._running == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, self.seconds))
            self._running += 1

    def leave(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                sys.setswitchinterval(self._saved)


_SHORT_SWITCHES = _ShortSwitchInterval(0.0005)


class Prefetch:
    """Iterate ``batches`` in a thread, one batch ahead: PyMySQL decodes the next batch in
    Python while psycopg2 waits for PostgreSQL to write this one (it releases the GIL), so
    reading and writing overlap. The thread starts reading a batch only once the one before
    last is written: two batches exist at a time (the one being written, the one read ahead),
    so memory stays flat and small."""

    IN_FLIGHT = 2

    def __init__(self, batches, prepare=lambda rows: rows):
        self._queue: queue.Queue = queue.Queue()  # bounded by the slots below
        self._slots = threading.Semaphore(self.IN_FLIGHT)
        self._stop = threading.Event()
        self._prepare = prepare
        # Mapping may word an error (gettext): give the thread the app and the caller's language.
        self._app, self._locale = current_app._get_current_object(), str(get_locale() or "en")
        self._thread = threading.Thread(target=self._produce, args=(batches,), daemon=True,
                                        name="his-prefetch")
        _SHORT_SWITCHES.enter()
        self._thread.start()

    def _slot(self) -> bool:
        """Wait until a batch may be read (False when the consumer gave up)."""
        while not self._stop.is_set():
            if self._slots.acquire(timeout=0.1):
                return True
        return False

    def _produce(self, batches) -> None:
        with self._app.app_context(), force_locale(self._locale):
            try:
                while self._slot():
                    rows = next(batches, None)
                    if rows is None:
                        self._queue.put(("end", None))
                        break
                    self._queue.put(("rows", self._prepare(rows)))
            except BaseException as exc:  # handed to the consumer, which decides (retry or fail)
                self._queue.put(("error", exc))
            finally:
                batches.close()

    def __iter__(self):
        while True:
            kind, value = self._queue.get()
            if kind == "rows":
                yield value
                del value  # written: let it go before the next one is read
                self._slots.release()
            elif kind == "end":
                return
            else:
                raise value

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        _SHORT_SWITCHES.leave()


def _stored_position(mapping: Mapping) -> source.Position | None:
    if mapping.cursor_value is None:
        return None
    return source.Position(source.decode_value(mapping.cursor_value, mapping.cursor_type),
                           source.decode_value(mapping.cursor_key, mapping.cursor_key_type))


def _store_position(mapping: Mapping, position: source.Position) -> None:
    mapping.cursor_value, mapping.cursor_type = source.encode_value(position.cursor)
    mapping.cursor_key, mapping.cursor_key_type = source.encode_value(position.key)


def _start_run(mapping: Mapping, *, full: bool, trigger: str, user) -> Run:
    position = None if full else _stored_position(mapping)
    run = Run(hospital_id=mapping.hospital_id, connection_id=mapping.connection_id, mapping_id=mapping.id,
              entity=mapping.entity, trigger=trigger, full=full, status="running", started_at=utcnow(),
              rows_read=0, inserted=0, updated=0, unchanged=0, quarantined=0, batches=0, skipped=0,
              cursor_before=position.describe() if position else None, user_id=getattr(user, "id", None))
    run.cursor_after = run.cursor_before
    db.session.add(run)
    db.session.commit()
    return run


class Cancelled(Exception):
    """The sync was asked to stop (Ctrl-C in ``hcrm his sync``): it stops at a batch boundary."""


def _finish(run_id: int, error: BaseException | None) -> Run:
    run = db.session.execute(sa.select(Run).where(Run.id == run_id)).scalar_one()
    cancelled = isinstance(error, Cancelled)
    run.status = "cancelled" if cancelled else ("failed" if error else "ok")
    run.error = None if cancelled or error is None else source.describe_error(error)
    run.finished_at = run.updated_at = utcnow()
    db.session.commit()
    return run


def _add(run: Run, rows: int, counts: Counts, position: source.Position | None = None) -> None:
    run.rows_read += rows
    run.inserted += counts.inserted
    run.updated += counts.updated
    run.unchanged += counts.unchanged
    run.quarantined += counts.quarantined
    run.batches += 1
    run.updated_at = utcnow()  # the heartbeat (locks.py), in the batch's transaction
    if position is not None:
        run.cursor_after = position.describe()


def _record_skipped(run_id: int, skipped: int) -> None:
    """The rows this run cannot read (no cursor or key value), in the run log at once."""
    if skipped:
        db.session.execute(sa.update(Run).where(Run.id == run_id).values(skipped=skipped),
                           execution_options={"synchronize_session": False})
        db.session.commit()


def _retry_policy() -> tuple[int, float]:
    return (int(current_app.config.get("HCRM_HIS_RETRIES", 5)),
            float(current_app.config.get("HCRM_HIS_BACKOFF", 2.0)))


def _with_reconnect(work: Callable[[], None], label: str, run_id: int) -> None:
    """Run ``work`` (which resumes from the last committed position by itself); on a lost HIS
    connection roll back the batch in progress and try again after 1×, 2×, 4×… the backoff,
    beating the run's heartbeat meanwhile (a waiting run is not a dead one)."""
    retries, backoff = _retry_policy()
    attempt = 0
    while True:
        try:
            work()
            return
        except Exception as exc:
            db.session.rollback()
            if attempt >= retries or not source.is_connection_lost(exc):
                raise
            attempt += 1
            delay = min(60.0, backoff * 2 ** (attempt - 1))
            log.warning("HIS connection lost during %s (%s); retry %d/%d in %.1fs", label,
                        source.describe_error(exc), attempt, retries, delay)
            locks.beat(run_id)
            time.sleep(delay)


def run_mapping(mapping: Mapping, *, full: bool = False, trigger: str = "cli", user=None, progress=None,
                count: bool = False, stop: threading.Event | None = None) -> Run:
    """Sync one mapping into a new Run (see services.sync). Never raises for a failed sync: the
    Run says ``failed`` with the error; what was committed before stays, cursor included. When
    ``stop`` is set the run ends at the next batch boundary as ``cancelled``."""
    run = _start_run(mapping, full=full, trigger=trigger, user=user)
    run_id, connection = run.id, mapping.connection
    state = {"position": None if full else _stored_position(mapping), "upper": None, "bounded": False,
             "total": None, "writer": None}

    def work():
        with source.Reader(connection, mapping.query, mapping.key_column, mapping.cursor_column) as reader:
            if not state["bounded"]:
                sample = state["position"].cursor if state["position"] else reader.first_cursor()
                state["upper"] = source.upper_bound(reader.clock(), sample, connection.safety_lag)
                _record_skipped(run_id, reader.count_unpositioned())
                state["bounded"] = True
                if count:
                    state["total"] = reader.count(state["position"], state["upper"])
            if state["writer"] is None:
                state["writer"] = BatchWriter(mapping, run, reader.read_columns())
            window_batches = int(current_app.config.get("HCRM_HIS_WINDOW_BATCHES", 20))
            prefetch = Prefetch(reader.batches(state["position"], state["upper"], connection.batch_size,
                                               window_batches), state["writer"].prepare)
            try:
                for prepared in prefetch:
                    if stop is not None and stop.is_set():
                        raise Cancelled()
                    write_batch(prepared)
                    if stop is not None and stop.is_set():
                        raise Cancelled()
            finally:
                prefetch.close()

    def write_batch(prepared: Prepared):
        """One transaction: the rows, their quarantine entries and events, the cursor, the log."""
        run_row = db.session.execute(sa.select(Run).where(Run.id == run_id)).scalar_one()
        counts = state["writer"].write(prepared)
        _store_position(mapping, prepared.last)
        _add(run_row, prepared.read, counts, prepared.last)
        db.session.commit()
        state["position"] = prepared.last
        if progress is not None:
            progress(run_row, prepared.read, state["total"])

    error = None
    try:
        _with_reconnect(work, f"{connection.name}/{mapping.entity}", run_id)
    except Cancelled as exc:
        db.session.rollback()
        log.info("HIS sync %s/%s cancelled at a batch boundary", connection.name, mapping.entity)
        error = exc
    except Exception as exc:  # recorded on the run; the caller decides what a failure means
        db.session.rollback()
        log.warning("HIS sync %s/%s failed: %s", connection.name, mapping.entity, source.describe_error(exc),
                    exc_info=log.isEnabledFor(logging.DEBUG))
        error = exc
    return _finish(run_id, error)


def run_retry(mapping: Mapping, *, trigger: str = "cli", user=None, chunk: int = KEYS_PER_STATEMENT) -> Run:
    """Re-read the open quarantined keys of a mapping and write those that map now."""
    run = _start_run(mapping, full=False, trigger=trigger, user=user)
    run_id, connection = run.id, mapping.connection
    keys = list(db.session.execute(sa.select(Quarantine.natural_key).where(
        Quarantine.mapping_id == mapping.id, Quarantine.resolved.is_(False)).order_by(Quarantine.id)).scalars())
    done = {"n": 0}

    def work():
        with source.Reader(connection, mapping.query, mapping.key_column, mapping.cursor_column) as reader:
            while done["n"] < len(keys):
                part = keys[done["n"]:done["n"] + chunk]
                columns, rows = reader.rows_for_keys(part)
                run_row = db.session.execute(sa.select(Run).where(Run.id == run_id)).scalar_one()
                writer = BatchWriter(mapping, run_row, columns)
                counts = writer.write(writer.prepare(rows)) if rows else Counts()
                _add(run_row, len(rows), counts)
                db.session.commit()
                done["n"] += len(part)

    error = None
    try:
        _with_reconnect(work, f"{connection.name}/{mapping.entity} retry", run_id)
    except Exception as exc:
        db.session.rollback()
        log.exception("HIS quarantine retry %s/%s failed", connection.name, mapping.entity)
        error = exc
    return _finish(run_id, error)
