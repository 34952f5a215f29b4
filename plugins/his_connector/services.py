"""The HIS connector's public API, shared by the pages, the API, the CLI and the job.

Every function works in the current tenancy scope (a request, or ``hospital_scope`` in CLI and
jobs). Errors meant for people are :class:`HisError` (``str()`` is English for the CLI and logs,
``.translated()`` follows the request's language; ``.errors`` maps form fields to messages).

Connections:   create_connection, update_connection, delete_connection, test_connection,
               last_test_message, connection_password_state, allowed_sources, allowed_source,
               source_problem
Mappings:      entity_fields, save_mapping, preview, reset_cursor
Syncing:       sync (every enabled mapping of a connection, patients → visits → charges),
               sync_mapping (one), due_connections (the scheduler's choice); one sync per
               connection at a time: running_run, run_state, claim_sync / release_sync, SyncBusy
Run log:       list_runs, last_run_summary
Quarantine:    list_quarantine, resolve_quarantine, retry_quarantine, quarantine_row
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.extensions import db
from core.i18n import Message, _m
from core.models import utcnow
from plugins.his_connector import locks, resolve, source
from plugins.his_connector import mapping as field_maps
from plugins.his_connector import settings as his_settings
from plugins.his_connector.errors import HisError, from_stored, stored
from plugins.his_connector.locks import SyncBusy, run_state, running_run
from plugins.his_connector.models import ENCODINGS, ENTITIES, UNKNOWN_DIAGNOSES, Connection, Mapping, Quarantine, Run

__all__ = [
    "HisError", "create_connection", "update_connection", "delete_connection", "test_connection", "last_test_message",
    "last_test_warning", "diseases_from_his", "list_connections", "export_connection", "import_connection", "department_preview", "import_departments", "doctor_preview", "import_doctors", "history_loaded", "apply_to_history", "connection_password_state", "allowed_sources", "allowed_source", "source_problem", "entity_fields", "save_mapping", "preview", "reset_cursor", "sync",
    "sync_mapping", "due_connections", "list_runs", "last_run_summary", "list_quarantine",
    "resolve_quarantine", "retry_quarantine", "quarantine_row", "SyncBusy", "running_run", "run_state", "claim_sync",
    "release_sync",
]

CONNECTION_FIELDS = ("name", "source", "username", "password_env", "timezone", "encoding", "statement_timeout", "batch_size",
                     "safety_lag", "schedule_minutes", "unknown_diagnoses", "enabled")
LIMITS = {"statement_timeout": (1, 86_400), "batch_size": (100, 100_000), "safety_lag": (0, 86_400),
          "schedule_minutes": (1, 10_080)}


# -- connections --------------------------------------------------------------------------------
def _int(value, field, errors, *, optional=False):
    if value in (None, "") and optional:
        return None
    low, high = LIMITS[field]
    try:
        number = int(value)
    except (TypeError, ValueError):
        errors[field] = _m("Enter a whole number.")
        return None
    if not low <= number <= high:
        errors[field] = _m("Enter a number from %(low)d to %(high)d.", low=low, high=high)
    return number


def clean_connection(data: dict, current: Connection | None = None) -> dict:
    """Validate connection settings (only the keys present when updating ``current``).
    Raises HisError with per-field errors; nothing is written."""
    errors: dict = {}
    clean: dict = {}
    if "url" in data:  # where the HIS is belongs to config.yaml, never to a form or a script
        errors["source"] = _m("A connection takes no URL: pick one of the HIS sources the operator configured "
                              "in config.yaml.")
    present = [f for f in CONNECTION_FIELDS if f in data] if current is not None else CONNECTION_FIELDS
    for field in present:
        value = data.get(field)
        if field == "name":
            clean[field] = (value or "").strip()
            if not clean[field] or len(clean[field]) > 64:
                errors[field] = _m("Enter a name of at most 64 characters.")
        elif field == "source":
            clean[field] = (value or "").strip() or None
            if allowed_source(clean[field], current) is None:
                errors[field] = _m("Pick one of the HIS sources configured for this hospital.")
        elif field == "username":
            clean[field] = (value or "").strip() or None
            if clean[field] and (len(clean[field]) > 128 or any(c in clean[field] for c in "@/:?#")):
                errors[field] = _m("Enter the HIS account's user name (at most 128 characters, no @ / : ? #).")
        elif field == "password_env":
            clean[field] = (value or "").strip() or None
            problem = his_settings.password_env_problem(clean[field])
            if problem:
                errors[field] = problem
        elif field == "timezone":
            clean[field] = (value or "Asia/Shanghai").strip()
            if not source.valid_timezone(clean[field]):
                errors[field] = _m("Unknown time zone (use an IANA name such as Asia/Shanghai).")
        elif field == "encoding":
            clean[field] = (value or "utf8").strip().lower().replace("-", "")
            if clean[field] not in ENCODINGS:
                errors[field] = _m("The text encoding is UTF-8, GBK or GB18030.")
        elif field == "unknown_diagnoses":
            clean[field] = (value or "quarantine").strip().lower()
            if clean[field] not in UNKNOWN_DIAGNOSES:
                errors[field] = _m("Choose quarantine or add.")
        elif field == "enabled":  # a new connection is enabled unless the data says otherwise
            clean[field] = data.get(field, True) in (True, 1, "1", "true", "on", "yes")
        elif field in LIMITS:
            default = {"statement_timeout": 300, "batch_size": 5000, "safety_lag": 120}.get(field)
            given = default if value in (None, "") and default is not None else value
            clean[field] = _int(given, field, errors, optional=field == "schedule_minutes")
    chosen = allowed_source(clean["source"] if "source" in clean else getattr(current, "source", None), current)
    password_env = clean["password_env"] if "password_env" in clean else getattr(current, "password_env", None)
    if chosen is not None and chosen.kind == "sqlite" and "password_env" not in errors:
        if password_env:
            errors["password_env"] = _m("A SQLite file has no password: leave the password variable empty.")
        if clean.get("username"):
            errors["username"] = _m("A SQLite file has no user name: leave it empty.")
    if chosen is not None and chosen.username and clean.get("username") not in (None, chosen.username):
        errors["username"] = _m("The operator fixed this source's user name to %(user)s.", user=chosen.username)
    name = clean.get("name")
    if name and "name" not in errors:
        taken = sa.select(Connection.id).where(Connection.name == name)
        if current is not None:
            taken = taken.where(Connection.id != current.id)
        if db.session.execute(taken.limit(1)).first():
            errors["name"] = _m("Another connection has this name.")
    if errors:
        raise HisError(_m("The connection settings are not valid."), errors=errors)
    return clean


def list_connections() -> list[Connection]:
    """The current hospital's connections by name."""
    return db.session.execute(sa.select(Connection).order_by(Connection.name)).scalars().all()


def export_connection(connection: Connection) -> str:
    """The connection and its mappings as YAML, without secrets (see transfer.py)."""
    from plugins.his_connector.transfer import export_connection as export
    return export(connection)


def import_connection(text: str, *, overrides: dict | None = None) -> Connection:
    """Create or update a connection and its mappings from an export, validating everything
    before writing anything (see transfer.py). Raises HisError."""
    from plugins.his_connector.transfer import import_connection as load
    return load(text, overrides=overrides)


def _hospital_code(current: Connection | None) -> str | None:
    from core.models import Hospital
    from core.tenancy import current_scope
    hospital_id = current.hospital_id if current is not None else getattr(current_scope(), "hospital_id", None)
    hospital = db.session.get(Hospital, hospital_id) if hospital_id else None
    return hospital.code if hospital is not None else None


def allowed_sources(current: Connection | None = None) -> list[his_settings.Source]:
    """The HIS sources config.yaml allows to the current hospital (or ``current``'s)."""
    code = _hospital_code(current)
    return his_settings.current().sources_for(code) if code else []


def allowed_source(name: str | None, current: Connection | None = None) -> his_settings.Source | None:
    return next((s for s in allowed_sources(current) if s.name == name), None) if name else None


def source_problem(connection: Connection) -> Message | None:
    """Why the connection cannot reach its HIS now: its source was removed from config.yaml,
    or an old connection still waits for an administrator to pick one. None when it can."""
    return resolve.source_problem(connection)


def create_connection(data: dict, *, commit: bool = True) -> Connection:
    """A new connection of the current hospital from form/API/CLI data: name, source (the name
    of a HIS source config.yaml allows to the hospital; a ``url`` is refused), username,
    password_env (``HCRM_HIS_PASSWORD_…``), timezone, encoding, statement_timeout, batch_size,
    safety_lag, schedule_minutes (empty: manual only), enabled."""
    connection = Connection(**clean_connection(data))
    db.session.add(connection)
    db.session.flush()
    if commit:
        db.session.commit()
    return connection


def update_connection(connection: Connection, data: dict, *, commit: bool = True) -> Connection:
    """Change the settings present in ``data``. Changing the source keeps the mappings and their
    cursors (a moved server is the same HIS); reset cursors explicitly when it is not. Picking a
    source for an old connection forgets its stored URL."""
    for field, value in clean_connection(data, current=connection).items():
        setattr(connection, field, value)
    if connection.source:
        connection.legacy_url = None
    db.session.flush()
    if commit:
        db.session.commit()
    return connection


def delete_connection(connection: Connection) -> None:
    """Delete a connection with its mappings, run log and quarantine. Synced patients, visits
    and charges stay: they are the hospital's records now."""
    db.session.delete(connection)
    db.session.commit()


def connection_password_state(connection: Connection) -> str:
    """``none`` (no variable named), ``set`` or ``missing`` (named but unset in this process):
    what a page may show about the password — never its value."""
    return source.password_state(connection)


def test_connection(connection: Connection, *, commit: bool = True) -> source.TestResult:
    """Connect read-only, ask the server's version and clock, and record the outcome on the
    connection (last_test_at/ok/message). Never raises for an unreachable HIS: the result says
    what went wrong (``ok`` False, ``message`` naming the problem)."""
    result = source.test(connection)
    connection.last_test_at = utcnow()
    connection.last_test_ok = result.ok
    connection.last_test_message = stored(result.message)  # translated when shown: see last_test_message
    connection.last_test_warning = stored(result.warnings[0]) if result.warnings else None
    if commit:
        db.session.commit()
    return result


def last_test_message(connection: Connection) -> Message | None:
    """What the last test said, as a Message (``str()`` English, ``.translated()`` for pages)."""
    return from_stored(connection.last_test_message)


def diseases_from_his(connection: Connection) -> int:
    """How many entries of the disease catalogue this connection added from the HIS."""
    from plugins.his_connector.diagnoses import from_his_count
    return from_his_count(connection.id)


def last_test_warning(connection: Connection) -> Message | None:
    """What the last (passed) test found odd: the HIS clock and the newest cursor value disagree
    by more than an hour (the connection's time zone is probably wrong)."""
    return from_stored(connection.last_test_warning)


# -- mappings -----------------------------------------------------------------------------------
def entity_fields(entity: str) -> list[field_maps.FieldInfo]:
    """Our fields an entity's mapping may fill: name, label, kind, required, help."""
    return field_maps.fields_of(entity)


def _mapping_for(connection: Connection, entity: str) -> Mapping | None:
    return db.session.execute(sa.select(Mapping).where(Mapping.connection_id == connection.id,
                                                       Mapping.entity == entity)).scalar_one_or_none()


def clean_mapping(connection: Connection, entity: str, data: dict, *, check_source: bool = True) -> dict:
    """Validate a mapping: query (one SELECT), key_column, cursor_column, fields (dict or JSON
    text), enabled. With ``check_source`` the query runs on the HIS wrapped in ``WHERE 1=0``
    and every named column must be among its columns. Raises HisError; writes nothing."""
    if entity not in ENTITIES:
        raise HisError(_m("Unknown entity '%(entity)s' (diseases, patients, visits or charges).", entity=entity))
    errors: dict = {}
    query, problem = source.clean_query(data.get("query"))
    if problem:
        errors["query"] = problem
    key_column = (data.get("key_column") or "").strip()
    cursor_column = (data.get("cursor_column") or "").strip()
    for field, value in (("key_column", key_column), ("cursor_column", cursor_column)):
        if not source.COLUMN_RE.fullmatch(value):
            errors[field] = _m("Enter a column name of the query (letters, digits, underscores).")
    fields = data.get("fields") or {}
    if isinstance(fields, str):
        try:
            fields = json.loads(fields)
        except ValueError as exc:
            errors["fields"] = _m("The field map is not valid JSON: %(error)s", error=str(exc))
            fields = {}
    if not errors:
        errors.update(field_maps.check_fields(entity, fields, connection=connection))
    if not errors and check_source:
        columns = source.query_columns(connection, query)  # raises HisError when the HIS refuses it
        wanted = {key_column, cursor_column} | field_maps.columns_used(fields)
        missing = sorted(c for c in wanted if c.upper() not in {x.upper() for x in columns})
        if missing:
            errors["fields"] = _m("The query has no column(s) %(missing)s (it has: %(columns)s).",
                                  missing=", ".join(missing), columns=", ".join(columns))
    if errors:
        raise HisError(_m("The mapping is not valid."), errors=errors)
    return dict(query=query, key_column=key_column, cursor_column=cursor_column, fields=fields,
                enabled=data.get("enabled", True) in (True, 1, "1", "true", "on", "yes"))


def save_mapping(connection: Connection, entity: str, data: dict, *, commit: bool = True,
                 check_source: bool = True) -> Mapping:
    """Create or replace the connection's mapping for ``entity`` after validating it (see
    clean_mapping). A changed query, key or cursor column resets the stored cursor (the old
    position means nothing for another query); a changed field map keeps it — run a full
    sync to re-apply it to rows already read."""
    values = clean_mapping(connection, entity, data, check_source=check_source)
    mapping = _mapping_for(connection, entity)
    if mapping is None:
        mapping = Mapping(connection_id=connection.id, entity=entity, hospital_id=connection.hospital_id)
        db.session.add(mapping)
    elif any(getattr(mapping, f) != values[f] for f in ("query", "key_column", "cursor_column")):
        _clear_cursor(mapping)
    for field, value in values.items():
        setattr(mapping, field, value)
    db.session.flush()
    if commit:
        db.session.commit()
    return mapping


def _clear_cursor(mapping: Mapping) -> None:
    mapping.cursor_value = mapping.cursor_type = mapping.cursor_key = mapping.cursor_key_type = None


def reset_cursor(mapping: Mapping, *, commit: bool = True) -> None:
    """Forget how far the sync has read: the next run reads everything again (idempotently)."""
    _clear_cursor(mapping)
    if commit:
        db.session.commit()


def preview(connection: Connection, entity: str, data: dict | None = None, *, limit: int = 20,
            unmasked: bool = False):
    """Run the mapping (the saved one, or ``data`` as in save_mapping, unsaved) on the HIS with a
    small limit, in cursor order, and map the rows without writing anything. Returns a
    ``sync.Preview``: ``columns`` (source columns), ``fields`` (our columns), ``rows`` (each a
    PreviewRow with ``key``, ``raw`` {column: value}, ``values`` {field: value} (None when the
    row has errors), ``errors`` [text]). Phones and ID numbers are masked unless ``unmasked``."""
    from plugins.his_connector.sync import preview_rows
    if data is None:
        mapping = _mapping_for(connection, entity)
        if mapping is None:
            raise HisError(_m("There is no %(entity)s mapping on this connection yet.", entity=entity))
        values = dict(query=mapping.query, key_column=mapping.key_column, cursor_column=mapping.cursor_column,
                      fields=mapping.fields)
    else:
        values = clean_mapping(connection, entity, data)
    return preview_rows(connection, entity, values, limit=max(1, min(int(limit), 200)), unmasked=unmasked)


# -- history ------------------------------------------------------------------------------------
def history_loaded(connection: Connection) -> bool:
    """Whether a visits sync of the connection has finished (its history is in the CRM)."""
    return db.session.execute(sa.select(Run.id).where(Run.connection_id == connection.id, Run.entity == "visits",
                                                      Run.status == "ok").limit(1)).first() is not None


def apply_to_history(connection: Connection, since, *, commit: bool = True) -> list[str]:
    """Ask the other plugins to apply to the visits since ``since`` (a date or YYYY-MM-DD) what
    they apply to new ones — the follow-up plugin's rules only plan visits of the last week, so
    a first sync of years of history plans nothing for older discharges. Returns what each
    plugin reported (empty when none applies anything). Raises HisError for a bad date."""
    from datetime import date

    from core.clock import local_today
    from core.events import emit
    if isinstance(since, str):
        try:
            since = date.fromisoformat(since.strip())
        except ValueError:
            raise HisError(_m("Enter a date as YYYY-MM-DD."), errors={"since": _m("Enter a date as YYYY-MM-DD.")}) \
                from None
    if not isinstance(since, date) or since > local_today():
        raise HisError(_m("Enter a date that is not in the future."),
                       errors={"since": _m("Enter a date that is not in the future.")})
    report: list[str] = []
    emit("patients.visits_backfill", hospital_id=connection.hospital_id, since=since, report=report)
    if commit:
        db.session.commit()
    return report


# -- departments from the HIS ---------------------------------------------------------------------
def department_preview(connection: Connection, *, query: str | None = None, entity: str = "visits"):
    """What importing the HIS's departments would do (departments.Candidate per HIS code: its
    name, our code, and ``exists`` / ``name`` / ``create`` / ``invalid``), from the HIS's
    code table (``query``: ``SELECT code, name FROM …``) or the distinct department codes of
    the ``entity`` mapping's rows. Writes nothing."""
    from plugins.his_connector import departments
    return departments.candidates(connection, query=query, entity=entity)


def import_departments(connection: Connection, *, query: str | None = None, entity: str = "visits",
                       commit: bool = True) -> dict:
    """Create the departments the CRM lacks and map the HIS codes in the patients and visits
    mappings' department code tables, in one transaction (see department_preview)."""
    from plugins.his_connector import departments
    return departments.apply(connection, departments.candidates(connection, query=query, entity=entity),
                             commit=commit)


def doctor_preview(connection: Connection, query: str):
    """What importing the HIS's doctors would do (doctors.Candidate per HIS code: its name and
    ``add`` / ``same`` / ``changed`` / ``invalid``), from the HIS's staff table (``query``:
    ``SELECT code, name FROM …``). Writes nothing."""
    from plugins.his_connector import doctors
    return doctors.candidates(connection, query)


def import_doctors(connection: Connection, query: str, *, commit: bool = True) -> dict:
    """Put the HIS's doctor code → name table into the visits mapping's doctor field, so visits
    that name their doctor by code carry the name (see doctor_preview)."""
    from plugins.his_connector import doctors
    return doctors.apply(connection, doctors.candidates(connection, query), commit=commit)


# -- syncing ------------------------------------------------------------------------------------
def sync(connection: Connection, *, entities=None, full: bool = False, trigger: str = "cli", user=None,
         progress=None, count: bool = False, lock_token: str | None = None, stop=None) -> list[Run]:
    """Sync the connection's enabled mappings (or only ``entities``) in the order patients →
    visits → charges, each into its own Run. ``full`` reads from the start (still idempotent).
    ``progress(run, batch_rows, total)`` is called after each committed batch; ``total`` is the
    number of rows to read when ``count`` (one COUNT on the HIS first), else None. A mapping whose run
    fails stops the following ones (visits after failed patients would be quarantined for
    nothing); the failed Run carries the error and the cursor of its last good batch.

    One sync per connection at a time: the connection's lock (locks.py) is held for the whole
    sync — taken here, or handed over as ``lock_token`` by a caller that claimed it already —
    and a sync already running raises ``SyncBusy`` (a HisError naming that run). ``stop`` (a
    threading.Event) set meanwhile ends the sync at the next batch boundary: that run is
    ``cancelled``, the following mappings are not run, the lock is released."""
    from plugins.his_connector.sync import run_mapping
    wanted = [e for e in ENTITIES if entities is None or e in entities]
    unknown = sorted(set(entities or ()) - set(ENTITIES))
    if unknown:
        raise HisError(_m("Unknown entity '%(entity)s' (diseases, patients, visits or charges).",
                          entity=", ".join(unknown)))
    mappings = [m for e in wanted if (m := _mapping_for(connection, e)) is not None and m.enabled]
    if not mappings:
        raise HisError(_m("Connection '%(name)s' has no enabled mapping for %(entities)s.", name=connection.name,
                          entities=", ".join(wanted)))
    runs = []
    with locks.holding(connection, lock_token):
        for mapping in mappings:
            run = run_mapping(mapping, full=full, trigger=trigger, user=user, progress=progress, count=count,
                              stop=stop)
            runs.append(run)
            if run.status != "ok":
                break
    return runs


def sync_mapping(mapping: Mapping, *, full: bool = False, trigger: str = "cli", user=None, progress=None) -> Run:
    """Sync one mapping (see sync), holding its connection's lock."""
    from plugins.his_connector.sync import run_mapping
    with locks.holding(mapping.connection):
        return run_mapping(mapping, full=full, trigger=trigger, user=user, progress=progress)


def claim_sync(connection: Connection) -> str:
    """Take the connection's sync lock now (committed) and return its token, to hand over to
    sync/retry_quarantine (``lock_token``) in another thread. Raises SyncBusy."""
    return locks.claim(connection)


def release_sync(connection_id: int, token: str) -> None:
    """Give back a claim that was never handed over (sync and retry_quarantine release theirs)."""
    locks.release(connection_id, token)


def due_connections(now: datetime | None = None) -> list[Connection]:
    """Enabled connections with a schedule whose last run started at least that long ago, and
    whose HIS source is configured (see source_problem)."""
    now = now or utcnow()
    due = []
    connections = db.session.execute(sa.select(Connection).where(Connection.enabled.is_(True),
                                                                 Connection.schedule_minutes.isnot(None))
                                     .order_by(Connection.name)).scalars()
    for connection in connections:
        if resolve.source_problem(connection) is not None:
            continue  # its page says why; a failed run every few minutes would only bury that
        last = db.session.execute(sa.select(sa.func.max(Run.started_at))
                                  .where(Run.connection_id == connection.id)).scalar()
        if last is None or last + timedelta(minutes=connection.schedule_minutes) <= now:
            due.append(connection)
    return due


# -- run log ------------------------------------------------------------------------------------
def list_runs(connection: Connection | None = None, *, status: str | None = None, limit: int = 50,
              before_id: int | None = None) -> list[Run]:
    """Newest runs first (keyset-paged with ``before_id``), optionally of one connection/status."""
    query = sa.select(Run).order_by(Run.id.desc()).limit(limit)
    if connection is not None:
        query = query.where(Run.connection_id == connection.id)
    if status:
        query = query.where(Run.status == status)
    if before_id:
        query = query.where(Run.id < before_id)
    return db.session.execute(query).scalars().all()


def last_run_summary() -> dict:
    """For the dashboard card: the last run, failures in the last 7 days, open quarantine rows."""
    last = db.session.execute(sa.select(Run).order_by(Run.id.desc()).limit(1)).scalar_one_or_none()
    week = utcnow() - timedelta(days=7)
    failures = db.session.execute(sa.select(sa.func.count(Run.id)).where(Run.status == "failed",
                                                                        Run.started_at >= week)).scalar_one()
    quarantined = db.session.execute(sa.select(sa.func.count(Quarantine.id))
                                     .where(Quarantine.resolved.is_(False))).scalar_one()
    return {"last": last, "failures_7d": failures, "open_quarantine": quarantined}


# -- quarantine ---------------------------------------------------------------------------------
def list_quarantine(*, mapping: Mapping | None = None, resolved: bool | None = False, limit: int = 100,
                    before_id: int | None = None) -> list[Quarantine]:
    """Quarantined rows, newest first (``resolved`` None: all)."""
    query = sa.select(Quarantine).order_by(Quarantine.id.desc()).limit(limit)
    if mapping is not None:
        query = query.where(Quarantine.mapping_id == mapping.id)
    if resolved is not None:
        query = query.where(Quarantine.resolved.is_(resolved))
    if before_id:
        query = query.where(Quarantine.id < before_id)
    return db.session.execute(query).scalars().all()


def resolve_quarantine(entry_ids, *, user=None, commit: bool = True) -> int:
    """Mark entries resolved (handled outside the sync, e.g. fixed in the HIS and re-synced, or
    not wanted). Returns how many changed."""
    ids = [int(i) for i in entry_ids]
    entries = db.session.execute(sa.select(Quarantine).where(Quarantine.id.in_(ids),
                                                             Quarantine.resolved.is_(False))).scalars().all()
    for entry in entries:
        entry.resolved, entry.resolved_at, entry.resolved_by_id = True, utcnow(), getattr(user, "id", None)
    if commit:
        db.session.commit()
    return len(entries)


def retry_quarantine(mapping: Mapping, *, trigger: str = "cli", user=None, lock_token: str | None = None) -> Run:
    """Read the mapping's open quarantined keys again from the HIS (e.g. visits whose patient
    has arrived since) and write those that map now; the cursor does not move. Holds the
    connection's lock like sync (``lock_token``: a claim handed over)."""
    from plugins.his_connector.sync import run_retry
    with locks.holding(mapping.connection, lock_token):
        return run_retry(mapping, trigger=trigger, user=user)


def quarantine_row(entry: Quarantine, *, unmasked: bool = False) -> dict:
    """The entry's raw source row for display: values of the columns mapped to phones and ID
    numbers are masked unless ``unmasked`` (check patients.view_sensitive and log the view)."""
    try:
        raw = json.loads(entry.raw)
    except ValueError:
        return {"raw": entry.raw}
    if unmasked or entry.mapping is None:
        return raw
    return field_maps.mask_sensitive(entry.mapping.fields, raw)
