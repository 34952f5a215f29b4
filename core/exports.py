"""Files made in the background for the user who asked: exports too large for a request.

A plugin declares a :class:`core.declarations.Task` with ``as_user=<its export permission>`` (so
the file never shows more than its requester may see), and its ``run`` calls :func:`save` with a
function that writes the file. The file goes to ``instance/exports`` (outside the web root, one
unguessable name per file) and is recorded on the task; the requester, and only they, downloads
it from the task's page (``core.admin.views_jobs``), each download written to the audit log.
The folder is ``HCRM_EXPORT_FOLDER`` (default ``instance/exports``).
Files are deleted after ``HCRM_EXPORT_KEEP_HOURS`` (default 48) by the consumers' scheduler round
(:func:`purge_if_due`, at most every ``PURGE_EVERY_SECONDS`` per consumer): the folder is the
deployment's, not a hospital's, so this is no per-hospital job.

Reports whose export takes more than a moment say so with ``Report(background_export=True)``:
their CSV and .xlsx are then made by the task ``core.report_export`` below.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from core import queue
from core.declarations import Task
from core.extensions import db
from core.models import TaskRecord
from core.tenancy import system_scope

REPORT_EXPORT = "core.report_export"
KEEP_HOURS = 48
PURGE_EVERY_SECONDS = 600
PARTIAL = ".part"
MIMETYPES = {"csv": "text/csv; charset=utf-8",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def setting(key: str, default, convert=str, app=None):
    """An ``HCRM_EXPORT_*`` setting: the app's config, else the process environment, else
    ``default``; a value ``convert`` refuses is a ValueError naming the variable."""
    app = app or current_app
    raw = app.config.get(key)
    if raw in (None, ""):
        raw = os.environ.get(key)
    if raw in (None, ""):
        return default
    try:
        return convert(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a {convert.__name__}, not {raw!r}") from None


def folder(app=None) -> Path:
    """Where files are kept: ``HCRM_EXPORT_FOLDER``, else ``instance/exports``. Web servers and
    consumers on several machines must share it (as they share the import folder)."""
    app = app or current_app
    configured = setting("HCRM_EXPORT_FOLDER", None, app=app)
    return Path(configured) if configured else Path(app.instance_path) / "exports"


def keep_hours(app=None) -> float:
    return setting("HCRM_EXPORT_KEEP_HOURS", KEEP_HOURS, float, app=app)


def save(produce: Callable[[BinaryIO], None], *, download_name: str, mimetype: str,
         rows: int | None = None) -> dict:
    """Inside a queued task: write the file with ``produce(binary_file)`` and record it on the
    task. Written under a temporary name and renamed when complete, so a task killed half-way
    leaves no file anyone could download (its retry writes a new one)."""
    record_id = queue.current_task_id()
    if record_id is None:
        raise RuntimeError("core.exports.save is for queued tasks (core.queue.enqueue)")
    directory = folder()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    stored = f"{record_id}-{secrets.token_hex(12)}{Path(download_name).suffix.lower()}"
    partial = directory / (stored + PARTIAL)
    with open(partial, "wb") as out:
        produce(out)
    os.replace(partial, directory / stored)
    result = {"file": stored, "name": download_name, "mimetype": mimetype,
              "bytes": (directory / stored).stat().st_size, "rows": rows}
    with system_scope():
        db.session.execute(sa.update(TaskRecord).where(TaskRecord.id == record_id).values(result=result))
    return result


def stored_file(record: TaskRecord) -> Path | None:
    """The record's file when it is still kept (None: no file, or purged)."""
    name = (record.result or {}).get("file")
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = folder() / name
    return path if path.is_file() else None


_last_purge = 0.0


def purge_if_due() -> int:
    """:func:`purge`, when this process last did it ``PURGE_EVERY_SECONDS`` ago or more."""
    global _last_purge
    if time.monotonic() - _last_purge < PURGE_EVERY_SECONDS and _last_purge:
        return 0
    _last_purge = time.monotonic()
    try:
        return purge()
    except OSError as exc:  # a shared folder unmounted for a moment: the next round tries again
        current_app.logger.warning("export files not purged: %s", exc)
        return 0


def purge() -> int:
    """Delete exports (and half-written ones) older than the keep time; returns how many."""
    cutoff = time.time() - keep_hours() * 3600
    removed = 0
    directory = folder()
    if not directory.is_dir():
        return 0
    for path in directory.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:  # another consumer's purge got there first
            continue
    return removed


def _report_export(hospital, *, report: str, params: dict, fmt: str, whole_group: bool = False) -> None:
    from core import reports, tenancy
    from core.clock import local_today
    from core.report_export import to_csv, to_xlsx
    declared = reports.get_report(report)  # 404/403 as HTTPException: the requester lost it meanwhile
    values = reports.parse_params(declared, params)
    with tenancy.group_wide() if whole_group else contextlib.nullcontext():
        result = reports.run_report(declared, values)
    body = to_csv(result) if fmt == "csv" else to_xlsx(result, str(declared.title))
    name = f"{declared.id}-{local_today().isoformat()}.{fmt}"
    save(lambda out: out.write(body), download_name=name, mimetype=MIMETYPES[fmt], rows=len(result.rows))


def declarations() -> list:
    return [Task(REPORT_EXPORT, _l("Report export"), run=_report_export, as_user="core.reports.read")]
