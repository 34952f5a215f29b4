"""Merging duplicate patients: pick the duplicate, compare it with the record to keep, choose the
value of each field, merge. The work is done by merge_services.merge_patients."""
from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for

from core import audit
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.i18n import lazy_pgettext
from core.permissions import require
from core.tenancy import get_or_404
from plugins.patients import merge_services, services
from plugins.patients.forms import CONSENT_FORM_VALUE, CONSENT_LABELS
from plugins.patients.identity import age_on
from plugins.patients.models import HealthRecord, Patient, Visit

bp = Blueprint("patients_merge", __name__, url_prefix="/patients/merge", template_folder="templates")

PERMISSION = "patients.merge"
SEARCH_LIMIT = 20
FIELD_LABELS = {
    "name": lazy_pgettext("person", "Name"), "gender": _l("Gender"), "birth_date": _l("Birth date"),
    "id_number": _l("ID number"),
    "phone": _l("Phone"), "phone2": _l("Second phone"), "insurance_no": _l("Insurance number"),
    "region_id": _l("Region"), "address": _l("Address"), "occupation": _l("Occupation"),
    "source_id": _l("Source"), "referrer_id": _l("Referrer"), "owner_id": _l("Staff in charge"),
    "department_id": _l("Department"), "key_patient": _l("Key patient"), "notes": _l("Notes"),
    "external_id": _l("HIS patient ID"), "sms_consent": _l("Marketing SMS"),
}
GENDER_LABELS = {"M": _l("Male"), "F": _l("Female"), "U": _l("Unknown")}


def shown_value(patient: Patient, field: str, reveal: bool):
    """A field's value as this user may see it (phones, ID and insurance numbers masked without the
    permission)."""
    if field in ("phone", "phone2"):
        return services.shown_phone(patient, reveal, field)
    if field == "id_number":
        return services.shown_id_number(patient, reveal)
    if field == "insurance_no":
        return services.shown_insurance_no(patient, reveal)
    if field == "gender":
        return GENDER_LABELS.get(patient.gender, patient.gender)
    if field == "key_patient":
        return _("Yes") if patient.key_patient else _("No")
    if field == "sms_consent":
        return CONSENT_LABELS[CONSENT_FORM_VALUE[patient.sms_consent]]
    if field == "birth_date" and patient.birth_date:
        return _("%(date)s (age %(age)s)", date=patient.birth_date.isoformat(), age=age_on(patient.birth_date))
    if field.endswith("_id") and field != "external_id":
        related = getattr(patient, field[:-3])
        return (getattr(related, "display_name", None) or str(related)) if related is not None else None
    return getattr(patient, field)


def _facts(patient: Patient) -> dict:
    """What moves with a merge, shown under the comparison so the user sees what is at stake."""
    visits = db.session.execute(sa.select(sa.func.count()).select_from(Visit)
                                .where(Visit.patient_id == patient.id)).scalar_one()
    record = db.session.execute(sa.select(HealthRecord.id).where(HealthRecord.patient_id == patient.id)).first()
    return {"visits": visits, "tags": ", ".join(t.name for t in patient.tags),
            "health_record": record is not None, "created_at": patient.created_at}


def patient_url(patient: Patient) -> str:
    """The patient's page (owned by views.py); the merge page of the patient until it exists."""
    try:
        rule = next(current_app.url_map.iter_rules("patients.patient"))
    except (KeyError, StopIteration):
        return url_for("patients_merge.index", source=patient.id)
    return url_for("patients.patient", **{next(iter(rule.arguments)): patient.id})


def _found(q: str, exclude_id: int | None) -> list[Patient]:
    if not q.strip():
        return []
    stmt = services.search(services.PatientQuery(q=q[:100]))
    if exclude_id:
        stmt = stmt.where(Patient.id != exclude_id)
    return db.session.execute(stmt.limit(SEARCH_LIMIT)).scalars().all()


def _page(source: Patient | None, target: Patient | None, *, error: str | None = None,
          field_errors: dict | None = None, choices: dict | None = None, confirm: bool = False):
    q = request.values.get("q", "").strip()
    reveal = services.may_see_sensitive()
    rows, shown = [], []
    if source is not None and target is not None and source.id != target.id:
        chosen = {**merge_services.default_choices(source, target), **(choices or {})}
        rows = [{"field": f, "label": FIELD_LABELS[f], "source": shown_value(source, f, reveal),
                 "target": shown_value(target, f, reveal), "choice": chosen[f],
                 "same": getattr(source, f) == getattr(target, f)} for f in merge_services.MERGE_FIELDS]
        shown = [source, target]
    different_ids = bool(source is not None and target is not None and source.id_number and target.id_number
                         and source.id_number != target.id_number)
    candidates = merge_services.candidates(source) if source is not None and not source.merged_into_id else []
    results = _found(q, source.id if source else None)
    listed = shown + [p for p in candidates + results if p not in shown]
    if reveal and listed:
        services.log_sensitive_view(listed, "merge page")
        audit.commit_keeping_loaded()  # a GET writes nothing else: the log entry must not wait for a later change
    return render_template(
        "patients/merge_index.html", source=source, target=target, rows=rows, q=q, results=results,
        candidates=candidates, reveal=reveal, error=error, field_errors=field_errors or {},
        different_ids=different_ids, confirm=confirm, field_labels=FIELD_LABELS,
        source_facts=_facts(source) if source is not None else None,
        target_facts=_facts(target) if target is not None else None,
        shown_phone=services.shown_phone, patient_url=patient_url,
    ), 400 if error else 200


@bp.get("/")
@require(PERMISSION)
def index():
    """Without ``source``: find the duplicate to merge. With it: its candidates and, with
    ``target``, the side-by-side comparison and the merge form."""
    source_id, target_id = request.args.get("source"), request.args.get("target")
    source = get_or_404(Patient, source_id) if source_id else None
    target = get_or_404(Patient, target_id) if target_id and source is not None else None
    return _page(source, target)


@bp.post("/")
@require(PERMISSION)
def merge():
    source = get_or_404(Patient, request.form.get("source"))
    target = get_or_404(Patient, request.form.get("target"))
    choices = {f: request.form[f"keep_{f}"] for f in merge_services.MERGE_FIELDS if request.form.get(f"keep_{f}")}
    confirm = request.form.get("confirm_different_id") == "1"
    try:
        merge_services.merge_patients(source, target, choices, confirm_different_id=confirm)
    except merge_services.MergeRefused as exc:
        return _page(source, target, error=str(exc), choices=choices, confirm=confirm)
    except services.PatientInvalid as exc:
        errors = {FIELD_LABELS.get(f, f): message for f, message in exc.errors.items()}
        return _page(source, target, error=_("The values chosen do not fit together; nothing was merged."),
                     field_errors=errors, choices=choices, confirm=confirm)
    flash(_("Patient #%(source)s was merged into #%(target)s %(name)s.", source=source.id, target=target.id,
            name=target.name), "success")
    return redirect(patient_url(target))
