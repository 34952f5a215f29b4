"""Import and export of patients: upload → column mapping → validation (background, with a
progress bar) → all-or-nothing commit; export of the filtered list. The work is done by
transfer_services (import) and transfer_export (export)."""
from __future__ import annotations

import io

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user

from core import queue
from core.clock import local_today
from core.i18n import gettext as _
from core.permissions import require
from core.report_export import content_disposition
from core.tenancy import current_scope, use_scope
from plugins.patients import services
from plugins.patients import transfer_export as export_service
from plugins.patients import transfer_services as ts
from plugins.patients.query_args import filters_of, query_from_args

bp = Blueprint("patients_transfer", __name__, url_prefix="/patients/transfer", template_folder="templates")

IMPORT = "patients.import"
EXPORT = "patients.export"
SHOWN_ERROR_ROWS = 100
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload(token: str) -> dict:
    """The upload, if it is this user's in this hospital: any other token is a 404."""
    try:
        return ts.load_upload(token, hospital_id=g.hcrm_hospital.id, user_id=current_user.id)
    except LookupError:
        abort(404)


def _locale() -> str:
    return str(get_locale() or "")


def _upload_page(error: str | None = None, status: int = 200):
    return render_template("patients/transfer_upload.html", error=error, targets=ts.TARGETS,
                           max_mb=ts.MAX_UPLOAD_BYTES // (1024 * 1024)), status


@bp.get("/import")
@require(IMPORT)
def import_form():
    return _upload_page()


@bp.get("/import/template.<fmt>")
@require(IMPORT)
def template(fmt):
    """The import template (.xlsx or .csv): the importer's columns and one example row."""
    from plugins.patients import transfer_template
    if fmt not in ("xlsx", "csv"):
        abort(404)
    body = transfer_template.xlsx_bytes() if fmt == "xlsx" else transfer_template.csv_bytes()
    return send_file(io.BytesIO(body), mimetype=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
                     as_attachment=True, download_name=f"患者导入模板.{fmt}")


@bp.post("/import")
@require(IMPORT)
def upload():
    too_large = _("The file is larger than %(mb)d MB: split it into smaller files.",
                  mb=ts.MAX_UPLOAD_BYTES // (1024 * 1024))
    # Refuse an oversized body before reading it (the form's own fields add a few hundred bytes).
    if (request.content_length or 0) > ts.MAX_UPLOAD_BYTES + 64 * 1024:
        return _upload_page(too_large, 413)
    file = request.files.get("file")
    if file is None or not file.filename:
        return _upload_page(_("Choose the .xlsx or .csv file to import."), 400)
    try:
        token = ts.save_upload(file.stream, file.filename, hospital_id=g.hcrm_hospital.id,
                               user_id=current_user.id, locale=_locale())
    except ts.UploadTooLarge as exc:
        return _upload_page(str(exc), 413)
    except ts.UploadRefused as exc:
        return _upload_page(str(exc), 400)
    return redirect(url_for(".mapping", token=token))


@bp.route("/import/<token>/mapping", methods=["GET", "POST"])
@require(IMPORT)
def mapping(token):
    meta = _upload(token)
    if ts.read_progress(meta)["state"] in ts.RUNNING + ("done",):
        return redirect(url_for(".status", token=token))
    chosen, allow, error, status = meta["mapping"], meta["allow_duplicates"], None, 200
    if request.method == "POST":
        chosen = [request.form.get(f"column-{i}", "ignore") for i in range(len(meta["headers"]))]
        allow = request.form.get("allow_duplicates") == "1"
        try:
            ts.set_mapping(meta, chosen, allow, _locale())
            ts.start_job(token, "validate", user=current_user.id)
            return redirect(url_for(".status", token=token))
        except ts.UploadRefused as exc:
            error, status = str(exc), 400
    try:
        headers, sample = ts.preview(meta)
    except ts.UploadRefused as exc:
        return _upload_page(str(exc), 410)
    return render_template("patients/transfer_mapping.html", meta=meta, headers=headers, sample=sample,
                           chosen=chosen, allow=allow, targets=ts.TARGETS, error=error), status


def _list_url() -> str | None:
    """The patient list (views.py's), when that page exists in this build."""
    for endpoint in ("patients.index", "patients.list"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return None


def _status_page(meta: dict, error: str | None = None, status: int = 200):
    progress = ts.read_progress(meta)
    errors = ts.row_errors(meta) if progress["state"] == "validated" and progress["errors"] else {}
    shown = sorted(errors.items())[:SHOWN_ERROR_ROWS]
    return render_template("patients/transfer_status.html", meta=meta, progress=progress, error_rows=shown,
                           can_commit=ts.commit_allowed(progress), running=progress["state"] in ts.RUNNING,
                           error=error, list_url=_list_url()), status


@bp.get("/import/<token>")
@require(IMPORT)
def status(token):
    return _status_page(_upload(token))


@bp.get("/import/<token>/progress")
@require(IMPORT)
def progress(token):
    state = ts.read_progress(_upload(token))
    return jsonify({key: state[key] for key in ("state", "phase", "done", "total", "percent", "ok", "errors",
                                                "imported", "message")})


@bp.get("/import/<token>/report.<fmt>")
@require(IMPORT)
def report(token, fmt):
    meta = _upload(token)
    if fmt not in ("xlsx", "csv"):
        abort(404)
    if ts.read_progress(meta)["state"] != "validated":
        return _status_page(meta, _("The error report exists once the file has been checked."), 409)
    try:
        data = ts.error_report(meta, fmt)
    except ts.UploadRefused as exc:
        return _status_page(meta, str(exc), 410)
    disposition = content_disposition("import-errors", _("Import errors"), local_today(), fmt)
    mimetype = XLSX if fmt == "xlsx" else "text/csv; charset=utf-8"
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": disposition})


@bp.post("/import/<token>/commit")
@require(IMPORT)
def commit(token):
    meta = _upload(token)
    try:
        started = ts.start_job(token, "commit", user=current_user.id)
    except ts.UploadRefused as exc:
        return _status_page(meta, str(exc), 400)
    if not started:
        flash(_("This file is already being processed."), "warning")
    return redirect(url_for(".status", token=token))


@bp.post("/import/<token>/discard")
@require(IMPORT)
def discard(token):
    meta = _upload(token)
    if ts.read_progress(meta)["state"] in ts.RUNNING:
        return _status_page(meta, _("Wait until the file has been processed."), 409)
    ts.discard(token)
    flash(_("The uploaded file was deleted."), "info")
    return redirect(url_for(".import_form"))


@bp.get("/export")
@require(EXPORT)
def export():
    fmt = request.args.get("format", "xlsx")
    if fmt not in ("xlsx", "csv"):
        abort(400, description=_("The export format is xlsx or csv."))
    try:
        query = query_from_args(request.args)
    except ValueError as exc:
        abort(400, description=str(exc))
    reveal = services.may_see_sensitive()
    rows = export_service.count(query)
    if fmt == "xlsx" and rows > export_service.XLSX_MAX_ROWS:
        abort(400, description=_("%(n)d patients are more than an Excel sheet holds: export them as CSV, or "
                                 "narrow the filters.", n=rows))
    if rows > export_service.inline_rows():
        return _export_in_background(fmt)
    if reveal:
        export_service.log_unmasked_export(rows, filters_of(request.args), fmt)
    disposition = content_disposition("patients", "患者档案", local_today(), fmt)
    if fmt == "xlsx":
        response = send_file(export_service.xlsx_file(query, reveal), mimetype=XLSX, as_attachment=True,
                             download_name=f"patients-{local_today().isoformat()}.xlsx")
        response.headers["Content-Disposition"] = disposition
        return response
    scope = current_scope()

    def chunks():
        # The request's scope ends before a streamed body is sent: carry it into the generator.
        with use_scope(scope):
            yield from export_service.csv_chunks(query, reveal)

    return Response(stream_with_context(chunks()), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": disposition})


def _export_in_background(fmt: str):
    """A long list is written by a worker: the user follows it on the task's page and downloads
    the file there (or later, from the same link)."""
    try:
        record = queue.enqueue(export_service.EXPORT_TASK, g.hcrm_hospital, user=current_user,
                               filters=filters_of(request.args), fmt=fmt,
                               summary=_("Patients (%(format)s)", format=fmt))
    except queue.QueueError as exc:
        flash(exc.message.translated(), "danger")
        return redirect(url_for("patients.index", **filters_of(request.args)))
    return redirect(url_for("admin.job_page", task_id=record.id))
