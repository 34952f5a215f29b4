"""The jobs page (background tasks of the current hospital: queued, running, failed with their
error, a retry button) and the JSON status a page polls for the task it started."""
from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core import audit, exports, queue
from core.admin import bp
from core.extensions import db
from core.jobs import declared_title, task_rows
from core.models import TaskRecord
from core.permissions import can, require
from core.tenancy import system_scope

JOBS_PER_PAGE = 100
REFRESH_SECONDS = 5


def _record_of_this_hospital(task_id: int) -> TaskRecord:
    with system_scope():
        record = db.session.get(TaskRecord, task_id)
    if record is None or record.hospital_id != g.hcrm_hospital.id:
        abort(404)
    return record


@bp.route("/jobs")
@require("core.jobs.read")
def jobs():
    state = request.args.get("state") or None
    if state is not None and state not in queue.STATES:
        abort(400, description=_("Unknown task state “%(state)s”.", state=state))
    rows = task_rows(hospital_id=g.hcrm_hospital.id, state=state, limit=JOBS_PER_PAGE)
    going = any(row.state in queue.ACTIVE for row in rows)
    return render_template("admin/jobs.html", rows=rows, state=state, states=queue.STATES,
                           refresh=REFRESH_SECONDS if going else None)


@bp.route("/jobs/<int:task_id>/retry", methods=["POST"])
@require("core.jobs.manage")
def job_retry(task_id):
    _record_of_this_hospital(task_id)
    try:
        with system_scope():
            queue.retry(task_id)
    except queue.QueueError as exc:
        flash(exc.message.translated(), "danger")
    else:
        flash(_("Task #%(id)d is queued again.", id=task_id), "success")
    return redirect(url_for("admin.jobs"))


def _visible_record(task_id: int) -> TaskRecord:
    """The task, for the user who started it or an administrator of the tasks (404 otherwise)."""
    record = _record_of_this_hospital(task_id)
    if record.user_id != current_user.id and not can("core.jobs.read"):
        abort(404)
    return record


def _download_url(record: TaskRecord) -> str | None:
    """Only the requester downloads: the file holds what *their* scope and permissions showed."""
    if record.state == "ok" and record.user_id == current_user.id and exports.stored_file(record):
        return url_for("admin.job_download", task_id=record.id)
    return None


@bp.route("/jobs/<int:task_id>/status")
@login_required
def job_status(task_id):
    """A task's state and progress, for the page of the user who started it (or an administrator)."""
    record = _visible_record(task_id)
    return jsonify(dict(queue.status(record), download_url=_download_url(record)))


@bp.route("/jobs/<int:task_id>")
@login_required
def job_page(task_id):
    """One task's progress and, for its requester, its file once made (a background export)."""
    record = _visible_record(task_id)
    title = declared_title(record.task)
    expired = record.state == "ok" and bool(record.result) and exports.stored_file(record) is None
    return render_template("admin/job.html", record=record, title=title, expired=expired,
                           keep_hours=int(exports.keep_hours()), download_url=_download_url(record))


@bp.route("/jobs/<int:task_id>/download")
@login_required
def job_download(task_id):
    record = _visible_record(task_id)
    if record.user_id != current_user.id:
        abort(403, description=_("Only the user who asked for this file may download it."))
    path = exports.stored_file(record) if record.state == "ok" else None
    if path is None:
        abort(410, description=_("This file is no longer kept (files are deleted %(n)d hours after they are made): "
                                 "export again.", n=int(exports.keep_hours())))
    result = record.result
    audit.log_event("download", "TaskRecord", record.id,
                    note=f"{result.get('name')}: {result.get('rows')} row(s), {result.get('bytes')} bytes"[:255])
    db.session.commit()
    response = send_file(path, mimetype=result.get("mimetype") or "application/octet-stream", as_attachment=True,
                         download_name=result.get("name") or path.name)
    response.headers["Cache-Control"] = "no-store"
    return response
