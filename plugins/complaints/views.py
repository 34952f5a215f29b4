"""Complaint pages: the list (filters shared with the export and the API), intake, the detail
with its workflow, comments, attachments, improvement actions and rewards/penalties, the per-staff
record and the settings. Thin: the rules live in the services."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from marshmallow import ValidationError

from core import clock
from core.choices import ordered
from core.declarations import ReportResult
from core.extensions import db
from core.i18n import gettext as _
from core.integers import digits_or_none
from core.models import Department, User
from core.permissions import can, denied, require
from core.report_export import content_disposition, to_csv
from core.tenancy import get_or_404

from . import attachments, services, settings_services, workdays
from . import sanctions as sanction_services
from .errors import ComplaintInvalid, TransitionRefused
from .models import (
    FINDINGS,
    REPLY_METHODS,
    SANCTION_KINDS,
    SEVERITIES,
    STATUSES,
    CalendarDay,
    Complaint,
    ComplaintAttachment,
    ComplaintCategory,
    ComplaintChannel,
    ImprovementAction,
    Sanction,
)
from .queries import list_loads, list_statement
from .schemas import ComplaintFilterSchema

bp = Blueprint("complaints", __name__, url_prefix="/complaints",
               template_folder=str(Path(__file__).resolve().parent / "templates"))
PER_PAGE = 25
EXPORT_LIMIT = 50_000
FILTERS = ComplaintFilterSchema()


@bp.context_processor
def helpers():
    return dict(STATUS_LABELS=services.STATUS_LABELS, SEVERITY_LABELS=services.SEVERITY_LABELS,
                FINDING_LABELS=services.FINDING_LABELS, REPLY_METHOD_LABELS=services.REPLY_METHOD_LABELS,
                KIND_LABELS=sanction_services.KIND_LABELS, SANCTION_STATE_LABELS=sanction_services.STATE_LABELS,
                is_overdue=services.is_overdue, local_today=clock.local_today)


def _form_data() -> dict:
    """The posted form as a dict; list fields keep every value."""
    data = {key: request.form.get(key) for key in request.form}
    for key in ("staff_ids", "department_ids", "status"):
        if key in request.form:
            data[key] = request.form.getlist(key)
    data["staff_names"] = [n for n in (request.form.get("staff_names") or "").replace("，", ",").split(",") if n.strip()]
    return data


def _filters() -> tuple[dict, dict]:
    """(filters, errors) from the query string through the shared schema; bad values are dropped
    with a message rather than a 500."""
    raw = {key: (request.args.getlist(key) if key == "status" else request.args.get(key))
           for key in request.args if key in FILTERS.fields and request.args.get(key) not in ("", None)}
    try:
        return FILTERS.load(raw), {}
    except ValidationError as exc:
        good = {k: v for k, v in raw.items() if k not in exc.messages}
        try:
            return FILTERS.load(good), exc.messages
        except ValidationError:
            return {}, exc.messages


def _choices():
    return dict(channels=ordered(ComplaintChannel, active_only=True),
                categories=ordered(ComplaintCategory, active_only=True),
                departments=db.session.execute(sa.select(Department).where(Department.active.is_(True))
                                               .order_by(Department.code)).scalars().all(),
                users=db.session.execute(sa.select(User).where(User.active.is_(True))
                                         .order_by(User.display_name)).scalars().all(),
                SEVERITIES=SEVERITIES, STATUSES=STATUSES, FINDINGS=FINDINGS, REPLY_METHODS=REPLY_METHODS,
                SANCTION_KINDS=SANCTION_KINDS)


# -- list and export ----------------------------------------------------------------------------
@bp.route("/")
@require("complaints.read")
def index():
    filters, errors = _filters()
    page = db.paginate(list_statement(filters).options(*list_loads()), page=digits_or_none(request.args.get("page")) or 1,
                       per_page=PER_PAGE, error_out=False)
    return render_template("complaints/list.html", page=page, filters=filters, filter_errors=errors, **_choices())


EXPORT_COLUMNS = (("reference", "Reference"), ("received", "Received"), ("status", "Status"),
                  ("channel", "Channel"), ("category", "Category"), ("severity", "Severity"),
                  ("complainant", "Complainant"), ("department", "Department"), ("staff", "Staff involved"),
                  ("due_date", "Due"), ("finding", "Finding"), ("description", "Description"))


@bp.route("/export.csv")
@require("complaints.export")
def export():
    filters, errors = _filters()
    if errors:
        abort(400, description=_("Invalid filters: %(fields)s.", fields=", ".join(errors)))
    rows = []
    for c in db.session.execute(list_statement(filters).limit(EXPORT_LIMIT)).scalars():
        rows.append({"reference": c.reference, "received": clock.utc_to_local(c.received_at),
                     "status": services.status_label(c.status), "channel": c.channel.name,
                     "category": c.category.name, "severity": str(services.SEVERITY_LABELS[c.severity]),
                     "complainant": c.complainant_display, "department": c.department.name if c.department else "",
                     "staff": "、".join(s.display for s in c.staff), "due_date": c.due_date,
                     "finding": str(services.FINDING_LABELS.get(c.finding, "")) if c.finding else "",
                     "description": c.description})
    result = ReportResult(columns=[(k, _(label)) for k, label in EXPORT_COLUMNS], rows=rows)
    return Response(to_csv(result), mimetype="text/csv", headers={
        "Content-Disposition": content_disposition("complaints", _("Complaints"), clock.local_today(), "csv")})


# -- intake -------------------------------------------------------------------------------------
@bp.route("/new", methods=("GET", "POST"))
@require("complaints.create")
def new():
    data, errors = {}, {}
    if request.method == "GET":
        data = {"patient_id": request.args.get("patient_id", "")}
    else:
        data = _form_data()
        try:
            complaint = services.create_complaint(data, user_id=current_user.id)
        except ComplaintInvalid as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("Complaint %(ref)s recorded; reply due %(due)s.", ref=complaint.reference,
                    due=complaint.due_date.isoformat()), "success")
            return redirect(url_for("complaints.detail", complaint_id=complaint.id))
    patient = None
    patient_id = digits_or_none(str(data.get("patient_id") or ""))
    if patient_id and "patient_id" not in errors:
        from plugins.patients.public import Patient
        patient = db.session.execute(sa.select(Patient).where(Patient.id == patient_id)).scalar_one_or_none()
    return render_template("complaints/form.html", data=data, errors=errors, patient=patient, **_choices()), \
        422 if errors else 200


# -- detail and its actions -----------------------------------------------------------------------
@bp.route("/<int:complaint_id>")
@require("complaints.read")
def detail(complaint_id):
    complaint = get_or_404(Complaint, complaint_id)
    return _detail(complaint)


def _detail(complaint, errors=None, data=None, status=200):
    complaint_sanctions = db.session.execute(sa.select(Sanction).where(Sanction.complaint_id == complaint.id)
                                             .order_by(Sanction.id)).scalars().all()
    return render_template("complaints/detail.html", complaint=complaint, steps=services.allowed_steps(complaint),
                           errors=errors or {}, data=data or {}, sanction_rows=complaint_sanctions,
                           **_choices()), status


def _on_complaint(complaint_id, work, anchor: str = "", message: str | None = None, error_prefix: str = ""):
    """Load the complaint (404 outside the hospital or scope), run ``work(complaint, data)``,
    commit and go back to the detail; a refusal rolls back and shows the detail with its errors."""
    complaint = get_or_404(Complaint, complaint_id)
    data = _form_data()
    try:
        work(complaint, data)
    except TransitionRefused as exc:
        db.session.rollback()
        abort(exc.status, description=exc.message)
    except ComplaintInvalid as exc:
        db.session.rollback()
        return _detail(get_or_404(Complaint, complaint_id), {f"{error_prefix}{k}": v for k, v in exc.errors.items()},
                       data, 422)
    db.session.commit()
    if message:
        flash(message if isinstance(message, str) else message(complaint), "success")
    return redirect(url_for("complaints.detail", complaint_id=complaint_id) + anchor)


@bp.route("/<int:complaint_id>/transition", methods=("POST",))
@require("complaints.read")
def transition(complaint_id):
    return _on_complaint(complaint_id, lambda c, data: services.transition(c, data.get("action") or "", data),
                         message=lambda c: _("Complaint %(ref)s is now “%(status)s”.", ref=c.reference,
                                             status=services.status_label(c.status)))


@bp.route("/<int:complaint_id>/comment", methods=("POST",))
@require("complaints.read")
def comment(complaint_id):
    return _on_complaint(complaint_id, lambda c, data: services.add_comment(c, data.get("body")), "#comments")


def _attach(complaint, data):
    upload = request.files.get("file")
    if upload is None:
        raise ComplaintInvalid({"file": _("Choose a file.")})
    attachments.add_attachment(complaint, upload.stream, upload.filename or "", user_id=current_user.id)


@bp.route("/<int:complaint_id>/attach", methods=("POST",))
@require("complaints.create")
def attach(complaint_id):
    return _on_complaint(complaint_id, _attach, "#attachments", _("Attachment added."))


@bp.route("/attachments/<int:attachment_id>")
@require("complaints.read")
def attachment(attachment_id):
    row = get_or_404(ComplaintAttachment, attachment_id)
    get_or_404(Complaint, row.complaint_id)  # visible only with its complaint ("not about me" included)
    path = attachments.path_of(row)
    if not path.is_file():
        abort(404)
    inline = row.content_type.startswith("image/") or row.content_type == "application/pdf"
    return send_file(path, mimetype=row.content_type, as_attachment=not inline, download_name=row.filename)


@bp.route("/<int:complaint_id>/actions", methods=("POST",))
@require("complaints.handle")
def add_action(complaint_id):
    return _on_complaint(complaint_id, services.add_action, "#actions")


@bp.route("/actions/<int:action_id>/done", methods=("POST",))
@require("complaints.handle")
def action_done(action_id):
    action = get_or_404(ImprovementAction, action_id)
    complaint = get_or_404(Complaint, action.complaint_id)
    services.mark_action_done(action)
    db.session.commit()
    return redirect(url_for("complaints.detail", complaint_id=complaint.id) + "#actions")


@bp.route("/<int:complaint_id>/sanctions", methods=("POST",))
@require("complaints.handle")
def propose_sanction(complaint_id):
    return _on_complaint(complaint_id, lambda c, data: sanction_services.propose(data, c), "#sanctions",
                         _("Reward or penalty proposed; it awaits approval."), error_prefix="sanction_")


@bp.route("/sanctions/<int:sanction_id>/decide", methods=("POST",))
@require("complaints.decide_rewards")
def decide_sanction(sanction_id):
    sanction = get_or_404(Sanction, sanction_id)
    try:
        sanction_services.decide(sanction, request.form.get("decision") == "approve")
    except TransitionRefused as exc:
        db.session.rollback()
        abort(exc.status, description=exc.message)
    db.session.commit()
    target = request.form.get("back") == "record"
    return redirect(url_for("complaints.sanctions", user_id=sanction.user_id) if target else
                    url_for("complaints.detail", complaint_id=sanction.complaint_id) if sanction.complaint_id else
                    url_for("complaints.sanctions"))


# -- rewards and penalties ----------------------------------------------------------------------
@bp.route("/sanctions", methods=("GET", "POST"))
@require("complaints.read")
def sanctions():
    errors, data = {}, {}
    if request.method == "POST":
        if not can("complaints.handle"):
            abort(403, description=denied("complaints.handle"))
        data = _form_data()
        try:
            row = sanction_services.propose(data)
        except ComplaintInvalid as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("Reward or penalty proposed; it awaits approval."), "success")
            return redirect(url_for("complaints.sanctions", user_id=row.user_id))
    user_id = digits_or_none(request.args.get("user_id"))
    staff = db.session.execute(sa.select(User).where(User.id == user_id)).scalar_one_or_none() if user_id else None
    if staff is not None:
        rows = sanction_services.record_of(staff.id)
    else:
        rows = db.session.execute(sa.select(Sanction).order_by(Sanction.created_at.desc(), Sanction.id.desc())
                                  .limit(200)).scalars().all()
    totals = sanction_services.summary(rows) if staff is not None else None
    return render_template("complaints/sanctions.html", sanction_rows=rows, staff=staff, errors=errors, data=data,
                           totals=totals,
                           **_choices()), 422 if errors else 200



# -- settings -----------------------------------------------------------------------------------
@bp.route("/settings", methods=("GET", "POST"))
@require("complaints.manage_settings")
def settings():
    errors = {}
    row = settings_services.settings()
    if request.method == "POST":
        try:
            settings_services.update_settings(_form_data())
        except ComplaintInvalid as exc:
            db.session.rollback()
            errors = exc.errors
            row = settings_services.settings()
        else:
            db.session.commit()
            flash(_("Settings saved."), "success")
            return redirect(url_for("complaints.settings"))
    today = clock.local_today()
    return render_template("complaints/settings.html", settings=row, errors=errors,
                           uncovered=workdays.uncovered_years(today),
                           categories=ordered(ComplaintCategory), channels=ordered(ComplaintChannel),
                           days=settings_services.calendar_days(),
                           users=db.session.execute(sa.select(User).where(User.active.is_(True))
                                                    .order_by(User.display_name)).scalars().all()), \
        422 if errors else 200


def _settings_error(errors: dict):
    for message in errors.values():
        flash(message, "danger")
    return redirect(url_for("complaints.settings"))


def _save_list_row(save, model, row_id, anchor: str, message: str):
    row = get_or_404(model, row_id) if row_id else None
    try:
        save(_form_data(), row)
    except ComplaintInvalid as exc:
        db.session.rollback()
        return _settings_error(exc.errors)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("complaints.settings") + anchor)


@bp.route("/settings/categories", methods=("POST",))
@bp.route("/settings/categories/<int:category_id>", methods=("POST",))
@require("complaints.manage_settings")
def save_category(category_id=None):
    return _save_list_row(settings_services.save_category, ComplaintCategory, category_id, "#categories",
                          _("Category saved."))


@bp.route("/settings/channels", methods=("POST",))
@bp.route("/settings/channels/<int:channel_id>", methods=("POST",))
@require("complaints.manage_settings")
def save_channel(channel_id=None):
    return _save_list_row(settings_services.save_channel, ComplaintChannel, channel_id, "#channels",
                          _("Channel saved."))


@bp.route("/settings/calendar", methods=("POST",))
@require("complaints.manage_settings")
def save_day():
    from datetime import date
    try:
        day = date.fromisoformat(request.form.get("day") or "")
    except ValueError:
        day = None
    try:
        settings_services.save_calendar_day(day, request.form.get("working") == "1", request.form.get("note"))
    except ComplaintInvalid as exc:
        db.session.rollback()
        return _settings_error(exc.errors)
    db.session.commit()
    flash(_("Calendar day saved."), "success")
    return redirect(url_for("complaints.settings") + "#calendar")


@bp.route("/settings/calendar/<int:day_id>/delete", methods=("POST",))
@require("complaints.manage_settings")
def delete_day(day_id):
    db.session.delete(get_or_404(CalendarDay, day_id))
    db.session.commit()
    return redirect(url_for("complaints.settings") + "#calendar")
