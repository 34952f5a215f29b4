"""Patient pages: the list, registration and editing, the patient hub (health record, visits and
other plugins' panels) and the screen pop. Thin: the rules live in services.py.

Every page works in the current hospital (a group administrator's in the one they switched to).
Phones and ID numbers are masked unless the user holds patients.view_sensitive; each page that
shows them unmasked writes a "view" row to the audit log.
"""
from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from core import audit, tenancy
from core.clock import local_now
from core.extensions import db
from core.i18n import gettext as _
from core.models import AuditLog, Department, User
from core.paging import paginate_capped
from core.panels import render_panels
from core.permissions import require
from plugins.patients import services
from plugins.patients.forms import (
    CONSENT_FORM_VALUE,
    CONSENT_LABELS,
    GENDER_LABELS,
    KIND_LABELS,
    PER_PAGE_CHOICES,
    SENSITIVE_FIELDS,
    STATUS_LABELS,
    HealthForm,
    PatientForm,
    VisitForm,
    active_diseases,
    fill_patient_choices,
    fill_visit_choices,
    local_input,
    map_errors,
    parse_list_args,
    tag_names,
)
from plugins.patients.identity import (
    IdentityError,
    age_on,
    mask_id_number,
    mask_insurance_no,
    mask_phone,
    normalize_phone,
)
from plugins.patients.list_filters import live_filters
from plugins.patients.models import Disease, Patient, Tag, Visit
from plugins.patients.settings_services import ordered_sources

bp = Blueprint("patients", __name__, url_prefix="/patients", template_folder="templates")

HUB_TABS = ("overview", "health", "visits")
RECENT_VISITS = 3


@bp.context_processor
def patient_helpers():
    return dict(GENDER_LABELS=GENDER_LABELS, CONSENT_LABELS=CONSENT_LABELS, CONSENT_FORM_VALUE=CONSENT_FORM_VALUE,
                KIND_LABELS=KIND_LABELS, STATUS_LABELS=STATUS_LABELS, age_on=age_on,
                has_endpoint=lambda endpoint: endpoint in current_app.view_functions,
                shown_phone=services.shown_phone, shown_id_number=services.shown_id_number,
                shown_insurance_no=services.shown_insurance_no, mask_phone=mask_phone)


def _log_unmasked(patients, where: str) -> None:
    """Audit the unmasked view of the patients whose phone or ID number the page shows."""
    shown = [p for p in patients if any(getattr(p, f) for f in SENSITIVE_FIELDS)]
    if shown and services.may_see_sensitive():
        services.log_sensitive_view(shown, where)
        audit.commit_keeping_loaded()


# -- the list -----------------------------------------------------------------------------------
def _sort_links(query) -> dict[str, str]:
    base = {k: v for k, v in request.args.items() if k not in ("page", "sort", "order")}
    links = {}
    for column in services.SORTS:
        if query.sort == column:
            order = "asc" if query.descending else "desc"
        else:
            order = "asc" if column == "name" else "desc"
        links[column] = url_for("patients.index", **base, sort=column, order=order)
    return links


@bp.route("/")
@require("patients.read")
def index():
    query, filters, page_no, per_page, errors = parse_list_args(request.args)
    page = None
    if not errors:
        stmt = services.search(query).options(selectinload(Patient.department), selectinload(Patient.source),
                                              selectinload(Patient.owner))
        page = paginate_capped(stmt, page=page_no, per_page=per_page, cap=services.LIST_COUNT_CAP,
                               counted=services.counted(query))
    reveal = services.may_see_sensitive()
    if page is not None and reveal:
        _log_unmasked(page.items, "patient list")
    disease_code = (request.args.get("disease") or "").strip()
    if not disease_code and query.disease_id:
        disease_code = db.session.execute(sa.select(Disease.code).where(Disease.id == query.disease_id)).scalar() or ""
    # "No match": offer to register the patient with what was typed.
    new_args = {}
    if re.fullmatch(r"[\d\s()+\-]{7,}", query.q):
        new_args["phone"] = query.q
    elif query.q and not query.q.isascii():
        new_args["name"] = query.q
    return render_template(
        "patients/list.html", page=page, query=query, errors=errors, reveal=reveal, filters=filters,
        disease_code=disease_code, sort_links=_sort_links(query), new_args=new_args, per_page=per_page,
        per_page_choices=PER_PAGE_CHOICES,
        departments=db.session.execute(sa.select(Department).where(Department.active.is_(True))
                                       .order_by(Department.name)).scalars().all(),
        sources=ordered_sources(),
        tags=db.session.execute(sa.select(Tag).order_by(Tag.name).limit(300)).scalars().all(),
        diseases=active_diseases(), extra_filters=live_filters(),
    ), 400 if errors else 200


# -- registering and editing --------------------------------------------------------------------
def _initial(patient: Patient) -> dict:
    data = {f: getattr(patient, f) for f in PatientForm.FIELDS}
    for field in ("region_id", "source_id", "referrer_id", "owner_id", "department_id"):
        data[field] = str(data[field]) if data[field] else ""
    data["birth_date"] = patient.birth_date.isoformat() if patient.birth_date else ""
    data["tags"] = ", ".join(t.name for t in patient.tags)
    data["sms_consent"] = CONSENT_FORM_VALUE[patient.sms_consent]
    return data


def _form_page(form, patient=None, *, duplicates=(), status=200):
    return render_template("patients/form.html", form=form, patient=patient, duplicates=duplicates,
                           tag_names=tag_names(), reveal=services.may_see_sensitive()), status


@bp.route("/new", methods=["GET", "POST"])
@require("patients.create")
def new():
    if request.method == "GET":
        # Prefilled from the query string: the screen pop sends ?phone=<caller>.
        data = {"owner_id": str(current_user.id), "department_id": str(current_user.department_id or "")}
        data.update({f: request.args[f][:200] for f in PatientForm.FIELDS + ("tags",)
                     if request.args.get(f) and f != "key_patient"})
        data["key_patient"] = request.args.get("key_patient") in ("1", "on", "true")
        form = PatientForm(data=data)
        fill_patient_choices(form)
        return _form_page(form)
    form = PatientForm()
    fill_patient_choices(form)
    try:
        patient = services.create_patient(form.data_for_service(), allow_duplicate=form.allow_duplicate.data)
    except services.PatientInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _form_page(form, status=400)
    except services.PossibleDuplicate as exc:
        db.session.rollback()
        form.allow_duplicate.data = False
        return _form_page(form, duplicates=exc.matches, status=409)
    flash(_("Patient “%(name)s” registered.", name=patient.name), "success")
    return redirect(url_for("patients.patient", patient_id=patient.id))


def _hide_sensitive_inputs(form, patient: Patient) -> None:
    """A user who may not see the numbers may replace them, never read them: the boxes start
    empty with the masked value as a hint, and an empty box keeps the stored number."""
    for field, masked in (("phone", mask_phone(patient.phone)), ("phone2", mask_phone(patient.phone2)),
                          ("id_number", mask_id_number(patient.id_number)),
                          ("insurance_no", mask_insurance_no(patient.insurance_no))):
        if masked:
            form[field].render_kw = {**(form[field].render_kw or {}), "placeholder": masked}
            form[field].description = _("Hidden. Type a new value to replace it, or leave empty to keep it.")


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@require("patients.edit")
def edit(patient_id):
    patient = tenancy.get_or_404(Patient, patient_id)
    reveal = services.may_see_sensitive()
    if request.method == "GET":
        data = _initial(patient)
        if not reveal:
            data.update({f: "" for f in SENSITIVE_FIELDS})
        form = PatientForm(data=data)
    else:
        form = PatientForm()
    fill_patient_choices(form, patient)
    if not reveal:
        _hide_sensitive_inputs(form, patient)
    if request.method == "GET":
        if reveal:
            _log_unmasked([patient], "patient edit form")
        return _form_page(form, patient)
    try:
        services.update_patient(patient, form.data_for_service(keep_blank_sensitive=not reveal))
    except services.PatientInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _form_page(form, patient, status=400)
    flash(_("Patient “%(name)s” saved.", name=patient.name), "success")
    return redirect(url_for("patients.patient", patient_id=patient.id))


# -- the patient hub ----------------------------------------------------------------------------
def _health_history(record) -> list[dict]:
    """The health record's changes, newest first, from the audit log (its version history)."""
    if record.id is None:
        return []
    rows = db.session.execute(
        sa.select(AuditLog).where(AuditLog.model == "HealthRecord", AuditLog.record_id == str(record.id))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc()).limit(10)).scalars().all()
    ids = {r.user_id for r in rows if r.user_id}
    names = dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all()) if ids else {}
    labels = {f.name: f.label.text for f in HealthForm(formdata=None)}
    return [dict(at=r.at, who=names.get(r.user_id) or r.username, action=r.action,
                 fields=[labels[k] for k in (r.after or {}) if k in labels]) for r in rows]


def _visits(patient: Patient, limit: int | None = None) -> list[Visit]:
    stmt = (sa.select(Visit).where(Visit.patient_id == patient.id)
            .order_by(Visit.visit_at.desc(), Visit.id.desc()).options(selectinload(Visit.department)))
    return db.session.execute(stmt.limit(limit or 500)).scalars().all()


def _hub(patient: Patient, *, tab: str = "overview", health_form=None, visit_form=None, error=None, status=200):
    record = services.health_record(patient)
    if health_form is None:
        health_form = HealthForm(formdata=None, obj=record)
    if visit_form is None:
        visit_form = VisitForm(formdata=None, data={"visit_at": local_input(_now()), "spending": "0",
                                                    "department_id": str(patient.department_id or "")})
        fill_visit_choices(visit_form)
    panels = render_panels("patients.patient", patient)
    if tab not in HUB_TABS and tab not in {p.id for p in panels}:
        tab = "overview"
    visits = _visits(patient)
    reveal = services.may_see_sensitive()
    if reveal:
        _log_unmasked([patient], "patient page")
    return render_template(
        "patients/patient.html", patient=patient, reveal=reveal, tab=tab, record=record,
        health_form=health_form, history=_health_history(record), visit_form=visit_form, visits=visits,
        spending=sum((v.spending or 0) for v in visits), panels=panels, error=error,
        diseases=active_diseases()), status


def _now() -> datetime:
    return local_now().replace(second=0)


@bp.route("/<int:patient_id>")
@require("patients.read")
def patient(patient_id):
    record = tenancy.get_or_404(Patient, patient_id)
    if record.merged_into_id:  # a merged duplicate lives on in the patient it was merged into
        from plugins.patients.merge_services import resolve_merged
        flash(_("This record was merged into another patient; showing that patient."), "info")
        return redirect(url_for("patients.patient", patient_id=resolve_merged(record).id))
    return _hub(record, tab=request.args.get("tab", "overview"))


@bp.route("/<int:patient_id>/health", methods=["POST"])
@require("patients.edit")
def health(patient_id):
    patient = tenancy.get_or_404(Patient, patient_id)
    form = HealthForm()
    try:
        services.save_health_record(patient, {f: form[f].data for f in services.HEALTH_FIELDS})
    except services.PatientInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _hub(patient, tab="health", health_form=form, status=400)
    flash(_("Health record saved."), "success")
    return redirect(url_for("patients.patient", patient_id=patient.id, tab="health"))


@bp.route("/<int:patient_id>/visits", methods=["POST"])
@require("patients.create")
def visits(patient_id):
    patient = tenancy.get_or_404(Patient, patient_id)
    form = VisitForm()
    fill_visit_choices(form)
    try:
        services.record_visit(patient, form.data_for_service())
    except services.PatientInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _hub(patient, tab="visits", visit_form=form, status=400)
    flash(_("Visit recorded."), "success")
    return redirect(url_for("patients.patient", patient_id=patient.id, tab="visits"))


@bp.route("/<int:patient_id>/delete", methods=["POST"])
@require("patients.delete")
def delete(patient_id):
    patient = tenancy.get_or_404(Patient, patient_id)
    name = patient.name
    try:
        services.delete_patient(patient)
    except services.PatientInvalid as exc:
        db.session.rollback()
        return _hub(patient, error=" ".join(exc.errors.values()), status=409)
    flash(_("Patient “%(name)s” deleted.", name=name), "success")
    return redirect(url_for("patients.index"))


# -- the screen pop (来电弹屏) -------------------------------------------------------------------
def caller_number(raw: str) -> str:
    """The caller's number as stored. Switchboards often dial out with a 0 before a mobile
    number (013812345678): that is the mobile, not a landline."""
    digits = re.sub(r"[\s()\-]", "", raw or "")
    if re.fullmatch(r"01[3-9]\d{9}", digits):
        digits = digits[1:]
    return normalize_phone(digits)


@bp.route("/lookup")
@require("patients.read")
def lookup():
    raw = request.args.get("phone")
    if raw is None:  # opened from the menu: just the box
        return render_template("patients/lookup.html", phone="", number=None, cards=[], error=None)
    if not raw.strip():
        return render_template("patients/lookup.html", phone="", number=None, cards=[],
                               error=_("Enter the caller's phone number.")), 400
    try:
        number = caller_number(raw)
    except IdentityError as exc:
        return render_template("patients/lookup.html", phone=raw[:40], number=None, cards=[], error=str(exc)), 400
    patients = services.by_phone(number)
    reveal = services.may_see_sensitive()
    cards = [dict(patient=p, visits=_visits(p, RECENT_VISITS), panels=render_panels("patients.patient", p))
             for p in patients]
    if reveal:
        _log_unmasked(patients, "screen pop")
    return render_template("patients/lookup.html", phone=raw[:40], number=number, cards=cards, reveal=reveal,
                           error=None)


from plugins.patients import settings_views  # noqa: E402,F401  (the settings pages register on bp)
