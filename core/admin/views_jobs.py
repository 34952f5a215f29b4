"""The jobs page (background tasks of the current hospital: queued, running, failed with their
error, a retry button) and the JSON status a page polls for the task it started."""
from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from core import queue
from core.admin import bp
from core.extensions import db
from core.jobs import task_rows
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


@bp.route("/jobs/<int:task_id>/status")
@login_required
def job_status(task_id):
    """A task's state and progress, for the page of the user who started it (or an administrator)."""
    record = _record_of_this_hospital(task_id)
    if record.user_id != current_user.id and not can("core.jobs.read"):
        abort(404)
    return jsonify(queue.status(record))
