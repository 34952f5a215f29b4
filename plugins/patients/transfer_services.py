"""Patient import: an uploaded .xlsx/.csv kept server-side under a random token, its columns mapped
to patient fields, every row validated, then all rows written in one transaction — or none.

Shared by the import pages (transfer.py) and ``hcrm patients import`` (cli.py). Reading the file
and turning spreadsheet cells into patient data lives in transfer_rows.py; this module keeps the
upload's files, the column mapping, the validation and commit jobs and their progress.

An upload's folder (``instance/imports/<token>/``) holds the file, ``meta.json`` (hospital, user,
headers, mapping, language), ``progress.json`` (what the job is doing) and ``errors.json`` (the
rows refused by the last validation). The file is deleted after a commit; folders older than
24 hours are removed on each upload.
"""
from __future__ import annotations

import csv
import io
import json
import os
import secrets
import shutil
import threading
import time
from contextvars import ContextVar
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale

from core.extensions import db
from core.i18n import gettext as _
from core.tenancy import hospital_scope
from plugins.patients import services
from plugins.patients.transfer_export import safe_text
from plugins.patients.transfer_rows import (
    TARGETS,
    RowReader,
    UploadRefused,
    cell_text,
    iter_data_rows,
    read_head,
    store_file,
    suggest_mapping,
    target_label,
)

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
KEEP_SECONDS = 24 * 3600
STALE_SECONDS = 15 * 60      # a running job that has not reported for this long has died
PROGRESS_EVERY = 100         # rows between two progress writes
RUNNING = ("queued", "validating", "committing")
_START_LOCK = threading.Lock()

__all__ = ["MAX_UPLOAD_BYTES", "TARGETS", "UploadRefused", "UploadTooLarge", "suggest_mapping", "target_label",
           "save_upload", "load_upload", "preview", "set_mapping", "queue_job", "start_job", "run_job", "import_task",
           "read_progress",
           "row_errors", "error_report", "commit_allowed", "discard", "cleanup_old_uploads", "import_folder"]


class UploadTooLarge(UploadRefused):
    """The file is over the size limit (HTTP 413)."""


# -- the upload's folder ------------------------------------------------------------------------
_task_folder: ContextVar[str | None] = ContextVar("patients_import_folder", default=None)


def import_folder() -> Path:
    """Where uploads are kept: the queued job's own (the folder of the server that received the
    upload, which consumers on other machines must share), else HCRM_IMPORT_FOLDER or instance/."""
    configured = _task_folder.get() or current_app.config.get("HCRM_IMPORT_FOLDER")
    return Path(configured) if configured else Path(current_app.instance_path) / "imports"


def _folder(token: str) -> Path:
    """The token's folder; a token that is not one of ours (e.g. a path) is simply unknown."""
    if not isinstance(token, str) or len(token) != 32 or any(c not in "0123456789abcdef" for c in token):
        raise LookupError(token)
    return import_folder() / token


def _read_json(path: Path, default=None):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


def _write_json(path: Path, data) -> None:
    """Write then rename: a poller never reads half a file."""
    temporary = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(temporary, path)


def cleanup_old_uploads(now: float | None = None) -> int:
    """Remove upload folders older than 24 hours; returns how many went."""
    root = import_folder()
    if not root.is_dir():
        return 0
    now = now or time.time()
    removed = 0
    for folder in root.iterdir():
        meta = _read_json(folder / "meta.json", {}) if folder.is_dir() else {}
        created = meta.get("created") or _mtime(folder)
        if now - created > KEEP_SECONDS:
            shutil.rmtree(folder, ignore_errors=True) if folder.is_dir() else folder.unlink(missing_ok=True)
            removed += 1
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def save_upload(stream, filename: str, *, hospital_id: int, user_id: int | None, locale: str | None = None) -> str:
    """Keep an uploaded file for the next steps; return its token. Raises UploadTooLarge or
    UploadRefused (not a spreadsheet, unreadable, no header row) with a message for the user."""
    cleanup_old_uploads()
    token = secrets.token_hex(16)
    folder = _folder(token)
    folder.mkdir(parents=True, exist_ok=False)
    try:
        kind, path = store_file(stream, filename, folder, MAX_UPLOAD_BYTES, too_large=UploadTooLarge)
        headers, _rows = read_head(path, kind, 0)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    meta = {"hospital_id": hospital_id, "user_id": user_id, "filename": os.path.basename(filename or "")[:200],
            "kind": kind, "file": path.name, "created": time.time(), "headers": headers,
            "mapping": suggest_mapping(headers), "mapped": False, "allow_duplicates": False,
            "locale": locale}
    _write_json(folder / "meta.json", meta)
    _write_json(folder / "progress.json", _progress("uploaded"))
    return token


def load_upload(token: str, *, hospital_id: int, user_id: int | None) -> dict:
    """The upload's meta data, only for the hospital and user who uploaded it (LookupError
    otherwise: the page answers 404, as for any record of another hospital)."""
    meta = _read_json(_folder(token) / "meta.json")
    if not meta or meta.get("hospital_id") != hospital_id or meta.get("user_id") != user_id:
        raise LookupError(token)
    meta["token"] = token
    return meta


def _meta(token: str) -> dict:
    meta = _read_json(_folder(token) / "meta.json")
    if not meta:
        raise LookupError(token)
    meta["token"] = token
    return meta


def _file(meta: dict) -> Path:
    path = _folder(meta["token"]) / meta["file"]
    if not path.is_file():
        raise UploadRefused(_("The uploaded file is no longer kept (imports are kept for 24 hours): "
                              "upload it again."))
    return path


def preview(meta: dict, rows: int = 5) -> tuple[list[str], list[list]]:
    """The header row and the first ``rows`` data rows, as shown on the mapping page."""
    return read_head(_file(meta), meta["kind"], rows)


def set_mapping(meta: dict, mapping: list[str], allow_duplicates: bool, locale: str | None = None) -> dict:
    """Check and store the column mapping (one target field per column). Raises UploadRefused
    naming what is wrong: an unknown field, a field chosen twice, no name column."""
    headers = meta["headers"]
    if len(mapping) != len(headers):
        raise UploadRefused(_("Choose a field (or “ignore”) for each of the %(n)d columns.", n=len(headers)))
    for field in mapping:
        if field not in TARGETS:
            raise UploadRefused(_("Unknown field “%(field)s”.", field=str(field)[:40]))
    for field in TARGETS:
        columns = [headers[i] for i, f in enumerate(mapping) if f == field]
        if field != "ignore" and len(columns) > 1:
            raise UploadRefused(_("Only one column can be imported as %(field)s (now: %(columns)s).",
                                  field=target_label(field), columns=", ".join(columns)))
    if "name" not in mapping:
        raise UploadRefused(_("Choose the column that holds the patients' names: the name is required."))
    if read_progress(meta)["state"] in RUNNING + ("done",):
        raise UploadRefused(_("This file is being processed or was already imported."))
    token = meta["token"]
    stored = {k: v for k, v in meta.items() if k != "token"}
    stored.update(mapping=list(mapping), mapped=True, allow_duplicates=bool(allow_duplicates),
                  locale=locale or meta.get("locale"))
    _write_json(_folder(token) / "meta.json", stored)
    return {**stored, "token": token}


def discard(token: str) -> None:
    shutil.rmtree(_folder(token), ignore_errors=True)


# -- progress ------------------------------------------------------------------------------------
def _progress(state: str, **values) -> dict:
    base = {"state": state, "phase": None, "done": 0, "total": None, "ok": 0, "errors": 0, "imported": 0,
            "message": None, "updated": time.time()}
    base.update(values)
    return base


def read_progress(meta_or_token) -> dict:
    """What the upload's job is doing; a running job that stopped reporting is shown as failed."""
    token = meta_or_token if isinstance(meta_or_token, str) else meta_or_token["token"]
    progress = _read_json(_folder(token) / "progress.json") or _progress("uploaded")
    if progress["state"] in RUNNING and time.time() - progress.get("updated", 0) > STALE_SECONDS:
        progress.update(state="failed", message=_("The import job stopped unexpectedly (was the server "
                                                  "restarted?). Start it again."))
    total = progress.get("total")
    progress["percent"] = int(100 * progress["done"] / total) if total else (100 if progress["state"] in
                                                                             ("validated", "done") else 0)
    return progress


def _save_progress(token: str, progress: dict) -> None:
    progress = {k: v for k, v in progress.items() if k != "percent"}
    progress["updated"] = time.time()
    _write_json(_folder(token) / "progress.json", progress)


def row_errors(meta: dict) -> dict[int, list[str]]:
    """Row number → the reasons that row was refused by the last validation."""
    return {int(k): v for k, v in (_read_json(_folder(meta["token"]) / "errors.json", {}) or {}).items()}


def commit_allowed(progress: dict) -> bool:
    return progress["state"] == "validated" and progress["errors"] == 0 and progress["ok"] > 0


# -- the jobs ------------------------------------------------------------------------------------
def queue_job(token: str, kind: str) -> bool:
    """Mark the upload's ``validate`` or ``commit`` job as queued (False if one is running: one
    job per upload at a time). The last validation's counts are kept for the commit's check."""
    if kind not in ("validate", "commit"):
        raise ValueError(kind)
    with _START_LOCK:
        progress = read_progress(token)
        if progress["state"] in RUNNING:
            return False
        if kind == "commit" and not commit_allowed(progress):
            raise UploadRefused(_("Only a validated file without errors can be imported: nothing was imported."))
        if not _claim(token):
            return False
        kept = {k: progress[k] for k in ("ok", "errors")} if kind == "commit" else {}
        _save_progress(token, _progress("queued", phase=kind, **kept))
    return True


def _claim(token: str) -> bool:
    """The lock file that keeps a second job off this upload, even from another server process.
    Only called when the progress shows no live job: a lock left by a dead one is taken over."""
    lock = _folder(token) / "job.lock"
    for _attempt in range(2):
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            if time.time() - _mtime(lock) < 5:  # another process claimed it just now
                return False
            lock.unlink(missing_ok=True)
    return False


IMPORT_TASK = "patients.import"


def start_job(token: str, kind: str, *, user=None) -> bool:
    """Queue ``validate`` or ``commit`` for this upload on the task queue (False if a job is
    already running for it). Raises UploadRefused when the queue cannot take it: the upload
    is then left as it was."""
    from core import queue
    before = read_progress(token)
    if not queue_job(token, kind):
        return False
    meta = _meta(token)
    try:
        queue.enqueue(IMPORT_TASK, meta["hospital_id"], user=user if user is not None else meta.get("user_id"),
                      locale=meta.get("locale"), summary=f"{kind}: {meta.get('filename') or token[:8]}",
                      token=token, kind=kind, folder=str(import_folder().resolve()))
    except queue.QueueError as exc:
        _save_progress(token, before)
        (_folder(token) / "job.lock").unlink(missing_ok=True)
        raise UploadRefused(exc.message.translated()) from None
    return True


class _Actor:
    """The uploader, as hospital_scope wants a user: new patients belong to them."""

    def __init__(self, user_id):
        self.id = user_id


def import_task(hospital, token: str, kind: str, folder: str | None = None) -> None:
    """The queued job, in the consumer's scope of the uploader's hospital, user and language. A
    job found half-way (its consumer died; the commit is one transaction, so nothing of it was
    kept) starts again from the beginning. Its outcome is in the upload's progress."""
    reset = _task_folder.set(folder)
    try:
        _import(token, kind)
    finally:
        _task_folder.reset(reset)


def _import(token: str, kind: str) -> None:
    progress = read_progress(token)
    if progress["state"] in ("validating", "committing"):
        kept = {k: progress[k] for k in ("ok", "errors")} if kind == "commit" else {}
        _save_progress(token, _progress("queued", phase=kind, **kept))
    result = _run_in_scope(current_app._get_current_object(), token, kind)
    if result["state"] == "failed":
        raise RuntimeError(result["message"])


def run_job(app, token: str, kind: str) -> dict:
    """The job body in its own app context, the uploader's hospital scope and language (the
    command line runs it in the foreground). Returns the final progress."""
    with app.app_context():
        meta = _meta(token)
        locale = meta.get("locale") or app.config.get("BABEL_DEFAULT_LOCALE", "zh_CN")
        with force_locale(locale), hospital_scope(meta["hospital_id"], _Actor(meta.get("user_id"))):
            try:
                return _run_in_scope(app, token, kind)
            finally:
                db.session.remove()


def _run_in_scope(app, token: str, kind: str) -> dict:
    """Validate or commit in the current scope; any failure is rolled back and shown as the
    job's error."""
    meta = _meta(token)
    try:
        return validate_upload(meta) if kind == "validate" else commit_upload(meta)
    except UploadRefused as exc:
        db.session.rollback()
        return _fail(token, kind, str(exc))
    except Exception as exc:  # shown to the user; the details go to the log
        db.session.rollback()
        app.logger.exception("patient import %s (%s) failed", token, kind)
        return _fail(token, kind, _("The import stopped on an unexpected error (%(error)s). "
                                    "Nothing was saved.", error=f"{type(exc).__name__}: {exc}"[:300]))
    finally:
        (_folder(token) / "job.lock").unlink(missing_ok=True)


def _fail(token: str, kind: str, message: str) -> dict:
    progress = read_progress(token)
    progress.update(state="failed", phase=kind, message=message)
    _save_progress(token, progress)
    return read_progress(token)


def _sqlite_cache_spill(on: bool) -> None:
    """On SQLite, a transaction that outgrows the page cache locks the whole file, and every
    page (this import's progress bar included) would fail with "database is locked" until the
    commit. Keeping the import's pages in memory lets readers go on meanwhile."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(sa.text(f"PRAGMA cache_spill = {'ON' if on else 'OFF'}"))
        if on:
            db.session.commit()


def _count_rows(meta: dict) -> int:
    total = sum(1 for _row in iter_data_rows(_file(meta), meta["kind"], len(meta["headers"])))
    if total == 0:
        raise UploadRefused(_("The file has no rows below its header row."))
    return total


def validate_upload(meta: dict) -> dict:
    """Check every row (as create_patient would, plus duplicates in the file and in the hospital)
    and record each refused row's reasons. Writes nothing to the database."""
    token = meta["token"]
    progress = _progress("validating", phase="validate")
    _save_progress(token, progress)
    progress["total"] = _count_rows(meta)
    reader = RowReader(meta["mapping"], allow_duplicates=meta.get("allow_duplicates", False))
    errors: dict[int, list[str]] = {}
    for row_number, values in iter_data_rows(_file(meta), meta["kind"], len(meta["headers"])):
        _data, problems = reader.check(row_number, values)
        if problems:
            errors[row_number] = problems
        progress["done"] += 1
        if progress["done"] % PROGRESS_EVERY == 0:
            _save_progress(token, progress)
    db.session.rollback()  # validation only reads; leave nothing pending
    _write_json(_folder(token) / "errors.json", errors)
    progress.update(state="validated", ok=progress["done"] - len(errors), errors=len(errors))
    _save_progress(token, progress)
    return read_progress(token)


def commit_upload(meta: dict) -> dict:
    """Insert every row in one transaction; any refused row (the database may have changed since
    the validation) rolls everything back and names the row."""
    token = meta["token"]
    previous = read_progress(token)
    if previous["state"] != "queued" or previous["phase"] != "commit" or previous["errors"] or not previous["ok"]:
        raise UploadRefused(_("Only a validated file without errors can be imported: nothing was imported."))
    progress = _progress("committing", phase="commit", total=previous["ok"], ok=previous["ok"])
    _save_progress(token, progress)
    allow = meta.get("allow_duplicates", False)
    _sqlite_cache_spill(False)
    reader = RowReader(meta["mapping"], allow_duplicates=allow)
    for row_number, values in iter_data_rows(_file(meta), meta["kind"], len(meta["headers"])):
        data, problems = reader.translate(values)
        try:
            if problems:
                raise services.PatientInvalid(problems)
            services.create_patient(data, allow_duplicate=allow, commit=False, origin="import")
        except (services.PatientInvalid, services.PossibleDuplicate) as exc:
            db.session.rollback()
            reason = "; ".join(exc.errors.values()) if isinstance(exc, services.PatientInvalid) else \
                _("possible duplicate of patient(s) %(matches)s", matches=str(exc))
            raise UploadRefused(_("Row %(row)d was refused (%(reason)s): nothing was imported. Check the file "
                                  "and validate it again.", row=row_number, reason=reason)) from None
        progress["done"] += 1
        if progress["done"] % PROGRESS_EVERY == 0:
            _save_progress(token, progress)
    db.session.commit()
    _sqlite_cache_spill(True)
    # The patients are in: the uploaded data is not kept any longer than needed.
    _file(meta).unlink(missing_ok=True)
    (_folder(token) / "errors.json").unlink(missing_ok=True)
    progress.update(state="done", imported=progress["done"])
    _save_progress(token, progress)
    return read_progress(token)


# -- the per-row error report --------------------------------------------------------------------
def error_report(meta: dict, fmt: str) -> bytes:
    """The refused rows as they are in the file, with their spreadsheet row number first and
    the reasons in a last column: the user fixes them in the file and uploads it again."""
    errors = row_errors(meta)
    header = [_("Row")] + list(meta["headers"]) + [_("Errors")]
    lines = ([number, *(safe_text(cell_text(v)) for v in values), safe_text(" ".join(errors[number]))]
             for number, values in iter_data_rows(_file(meta), meta["kind"], len(meta["headers"]))
             if number in errors)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in line] for line in lines)
        return ("\ufeff" + buffer.getvalue()).encode("utf-8")
    from openpyxl import Workbook  # imported when needed: see core.report_export.to_xlsx
    from openpyxl.styles import Font
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Errors")[:31])
    sheet.freeze_panes = "B2"
    bold, red = Font(bold=True), Font(color="C00000")
    sheet.append([_styled(sheet, title, bold) for title in header])
    for line in lines:
        sheet.append(line[:-1] + [_styled(sheet, line[-1], red)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _styled(sheet, value, font):
    from openpyxl.cell import WriteOnlyCell
    cell = WriteOnlyCell(sheet, value=value)
    cell.font = font
    return cell
