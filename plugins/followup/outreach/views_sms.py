"""SMS pages: the outbox / log, sending one message, bulk SMS, templates and the gateway settings.
Thin: the rules live in sms.py, bulk.py, sms_templates.py and templating.py."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from babel.dates import get_month_names
from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_login import current_user

from core import audit
from core.clock import utc_to_local
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import Department
from core.permissions import require
from core.tenancy import get_or_404
from plugins.followup.models import Plan, SmsMessage, SmsTemplate
from plugins.followup.outreach import bulk, content, gateways, sms, sms_settings, sms_templates
from plugins.followup.outreach.forms import (
    STATUS_LABELS,
    ComposeForm,
    SmsSettingsForm,
    TemplateForm,
    category_choices,
    day_arg,
    map_errors,
    options,
    parse_local,
    placeholder_help,
)
from plugins.followup.outreach.preview import preview_context
from plugins.followup.outreach.templating import PLACEHOLDERS, TemplateInvalid, render_template_for
from plugins.followup.outreach.validation import OutreachInvalid
from plugins.patients import services as patient_services
from plugins.patients.forms import active_diseases, parse_list_args
from plugins.patients.identity import mask_phone
from plugins.patients.models import Patient, Tag
from plugins.patients.settings_services import ordered_sources

TEMPLATES = str(Path(__file__).resolve().parent.parent / "templates")
bp = Blueprint("followup_sms", __name__, url_prefix="/followup/sms", template_folder=TEMPLATES)
PER_PAGE = 50


@bp.context_processor
def sms_helpers():
    reveal = patient_services.may_see_sensitive()
    return dict(SMS_STATUS=STATUS_LABELS, shown_number=lambda phone: phone if reveal else mask_phone(phone),
                placeholder_help=placeholder_help, local_time=utc_to_local, month_name=_month_name)


def _month_name(month: int) -> str:
    return get_month_names("wide", locale=get_locale())[month]


def _status(code: int, form) -> int:
    return 400 if form.errors or form.form_errors else code


# -- the outbox / log -----------------------------------------------------------------------------
@bp.route("/")
@require("followup.read")
def outbox():
    errors: list[str] = []
    status = request.args.get("status") or ""
    if status and status not in STATUS_LABELS:
        errors.append(_("Unknown status “%(value)s”.", value=status[:20]))
    since, until = day_arg(request.args, "since", errors), day_arg(request.args, "until", errors)
    patient_id = request.args.get("patient_id", type=int)
    patient = get_or_404(Patient, patient_id) if patient_id else None
    stmt = sms.outbox_select(status=status if status in STATUS_LABELS else None, since=since, until=until,
                             patient_id=patient.id if patient is not None else None)
    page = db.paginate(stmt, page=request.args.get("page", 1, type=int), per_page=PER_PAGE, error_out=False)
    if page.items and patient_services.may_see_sensitive():
        audit.log_event("view", "SmsMessage", None, note="SMS log: unmasked phones")
        db.session.commit()
    return render_template("followup/outreach/outbox.html", page=page, status=status, since=since, until=until,
                           patient=patient, errors=errors, args={k: v for k, v in request.args.items() if k != "page"},
                           settings=sms_settings.current()), 400 if errors else 200


@bp.route("/messages/<int:message_id>/<any(cancel, retry):action>", methods=["POST"])
@require("followup.sms")
def message_action(message_id, action):
    message = get_or_404(SmsMessage, message_id)
    try:
        (sms.cancel if action == "cancel" else sms.retry)(message)
    except OutreachInvalid as exc:
        flash(" ".join(exc.errors.values()), "danger")
    else:
        flash(_("Message cancelled.") if action == "cancel" else _("Message queued again."), "success")
    return redirect(request.referrer or url_for("followup_sms.outbox"))


# -- one message --------------------------------------------------------------------------------
def _template_choice(form) -> SmsTemplate | None:
    ident = form.template_id.data
    if not ident:
        return None
    template = db.session.execute(sa.select(SmsTemplate).where(SmsTemplate.id == int(ident)) if ident.isdigit()
                                  else sa.select(SmsTemplate).where(sa.false())).scalar_one_or_none()
    if template is None:
        form.template_id.errors = [_("Unknown template.")]
    return template


@bp.route("/compose/<int:patient_id>", methods=["GET", "POST"])
@require("followup.sms")
def compose(patient_id):
    patient = get_or_404(Patient, patient_id)
    plan_id = request.values.get("plan_id", type=int)
    plan = get_or_404(Plan, plan_id) if plan_id else None
    if plan is not None and plan.patient_id != patient.id:
        abort(404)
    form = ComposeForm()
    form.template_id.choices = options([("", _("— free text —"))] + [(str(t.id), t.name)
                                                                     for t in sms_templates.active_templates()])
    preview = None
    if request.method == "POST":
        template = _template_choice(form)
        errors: dict[str, str] = {}
        when = parse_local(form.scheduled_at.data, "scheduled_at", errors)
        body = (form.body.data or "").strip()
        if not errors and not form.errors:
            try:
                if body:  # free text may use placeholders too
                    body = render_template_for(body, patient, plan=plan)
                if request.form.get("action") == "preview":
                    preview = body or (render_template_for(template, patient, plan=plan) if template else "")
                else:
                    message = sms.queue_message(patient, body, plan=plan, template=template, scheduled_at=when)
                    db.session.commit()
                    sms.send_now(message)
                    flash(_flash_for(message), "success" if message.status in ("sent", "queued") else "warning")
                    return redirect(url_for("patients.patient", patient_id=patient.id, tab="followup.sms"))
            except TemplateInvalid as exc:
                errors["body"] = str(exc)
            except OutreachInvalid as exc:
                errors.update(exc.errors)
        db.session.rollback()
        map_errors(form, errors)
    return render_template("followup/outreach/compose.html", form=form, patient=patient, plan=plan, preview=preview,
                           mobile=sms.mobile_of(patient)), _status(200, form)


def _flash_for(message: SmsMessage) -> str:
    if message.status == "sent":
        return _("Message sent to %(phone)s.", phone=mask_phone(message.phone))
    if message.status == "failed":
        return _("The gateway refused the message (%(error)s); it will be tried again.", error=message.error)
    if message.scheduled_at:
        return _("Message scheduled for %(when)s.", when=message.scheduled_at.strftime("%Y-%m-%d %H:%M"))
    return _("Message queued: it goes out with the next delivery run.")


# -- bulk ---------------------------------------------------------------------------------------
def _filter_choices() -> dict:
    """The patient list's filter options, as the patients plugin's list page offers them."""
    return dict(departments=db.session.execute(sa.select(Department).where(Department.active.is_(True))
                                               .order_by(Department.name)).scalars().all(),
                sources=ordered_sources(),
                tags=db.session.execute(sa.select(Tag).order_by(Tag.name).limit(300)).scalars().all(),
                diseases=active_diseases(), purposes=PURPOSE_LABELS)


PURPOSE_LABELS = {"care": _l("Care or notice (everyone but those who opted out)"),
                  "marketing": _l("Marketing (only patients who agreed)")}


def _reach(args, filters: dict) -> bulk.Reach:
    """The bulk page's own filters (purpose, birthday month), kept in ``filters`` for the links.
    Raises ValueError with a message for the user."""
    purpose = (args.get("purpose") or "care").strip()
    if purpose not in PURPOSE_LABELS:
        raise ValueError(_("The purpose is care or marketing (got “%(value)s”).", value=purpose[:40]))
    month_text = (args.get("birth_month") or "").strip()
    month = None
    if month_text:
        if not month_text.isdigit() or not 1 <= int(month_text) <= 12:
            raise ValueError(_("The birthday month is a number from 1 to 12 (got “%(value)s”).",
                               value=month_text[:40]))
        month = int(month_text)
        filters["birth_month"] = str(month)
    filters["purpose"] = purpose
    return bulk.Reach(marketing=purpose == "marketing", birth_month=month)


@bp.route("/bulk", methods=["GET", "POST"], endpoint="bulk")
@require("followup.sms_bulk")
def bulk_sms():
    args = request.values
    errors: dict[str, str] = {}
    query, filters, _page, _per_page, problems = parse_list_args(args)
    if args.get("disease"):
        filters["disease"] = args["disease"].strip()
    try:
        reach = _reach(args, filters)
    except ValueError as exc:
        reach, problems = None, [*problems, str(exc)]
    if problems:
        query, errors["filters"] = None, " ".join(problems)
    form = ComposeForm(formdata=request.form if request.method == "POST" else None)
    form.template_id.choices = options([("", _("— free text —"))] + [(str(t.id), t.name)
                                                                     for t in sms_templates.active_templates()])
    template = _template_choice(form) if request.method == "POST" else None
    text = (form.body.data or "").strip() or (template.body if template else "")
    audience, result = None, None
    if query is not None and request.method == "POST" and not form.errors:
        when = parse_local(form.scheduled_at.data, "scheduled_at", errors)
        try:
            if request.form.get("action") == "send" and not errors:
                result = bulk.queue_bulk(query, text, reach=reach, template=template, scheduled_at=when,
                                         author_id=current_user.id)
                flash(_("%(queued)d messages queued; %(skipped)d patients without a mobile number and "
                        "%(consent)d without consent for it were left out.",
                        queued=result.queued, skipped=result.skipped, consent=result.without_consent), "success")
                if result.task_id:  # sent now by a background task: follow its progress here
                    return redirect(url_for("followup_sms.bulk", task=result.task_id))
                return redirect(url_for("followup_sms.outbox", status="queued"))
            audience = bulk.preview(query, text, reach)
        except OutreachInvalid as exc:
            db.session.rollback()
            errors.update(exc.errors)
    elif query is not None:
        audience = bulk.count_audience(query, reach)
    map_errors(form, {k: v for k, v in errors.items() if k != "filters"})
    return render_template("followup/outreach/bulk.html", form=form, filters=filters, audience=audience,
                           filter_error=errors.get("filters"), max_bulk=bulk.MAX_BULK,
                           task_id=request.args.get("task", type=int), **_filter_choices()), \
        400 if errors or form.errors else 200


# -- templates ----------------------------------------------------------------------------------
@bp.route("/templates")
@require("followup.templates")
def templates():
    return render_template("followup/outreach/templates.html", templates=sms_templates.all_templates(),
                           placeholders=PLACEHOLDERS)


@bp.route("/templates/new", methods=["GET", "POST"], defaults={"template_id": None})
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@require("followup.templates")
def template_form(template_id):
    template = get_or_404(SmsTemplate, template_id) if template_id else None
    form = TemplateForm(obj=template) if request.method == "GET" else TemplateForm()
    form.category_id.choices = category_choices()
    if template is not None and request.method == "GET":
        form.category_id.data = str(template.category_id or "")
    if request.method == "POST":
        try:
            sms_templates.save_template(request.form | {"active": form.active.data}, template)
        except OutreachInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        else:
            flash(_("Template saved."), "success")
            return redirect(url_for("followup_sms.templates"))
    return render_template("followup/outreach/template_form.html", form=form, template=template,
                           placeholders=PLACEHOLDERS), _status(200, form)


@bp.route("/templates/preview")
@require("followup.templates")
def template_preview():
    """A template's text filled for a real patient of the hospital (chosen by id or search)."""
    context = preview_context(request.args)
    return render_template("followup/outreach/template_preview.html", **context), 400 if context["error"] else 200


# -- settings -----------------------------------------------------------------------------------
@bp.route("/settings", methods=["GET", "POST"])
@require("followup.settings")
def settings():
    current = sms_settings.current()
    form = SmsSettingsForm() if request.method == "POST" else SmsSettingsForm(
        gateway=current.gateway, max_attempts=current.max_attempts, signature=sms.signature())
    available = gateways.available_gateways()
    form.gateway.choices = options([(name, gateways.gateway_title(g)) for name, g in available.items()])
    if request.method == "POST":
        try:
            sms_settings.save_settings(request.form)
        except OutreachInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        else:
            flash(_("SMS settings saved."), "success")
            return redirect(url_for("followup_sms.settings"))
    return render_template("followup/outreach/sms_settings.html", form=form, missing=current.gateway not in available,
                           current=current), _status(200, form)


# -- content sources (followup_content_sources): the "insert from…" picker ------------------------
@bp.app_template_global("followup_content_sources")
def content_source_titles() -> list[str]:
    """Titles of the content sources live for the hospital: the forms show the picker when any."""
    return [str(getattr(s, "title", name)) for name, s in content.sources().items()]


@bp.route("/content")
@require("followup.read")
def content_search():
    """Picker search (JSON): items of every live source for ``q``, for the patient ``patient_id``."""
    patient_id = request.args.get("patient_id", type=int)
    patient = get_or_404(Patient, patient_id) if patient_id else None
    try:
        items = content.search(request.args.get("q", ""), patient)
    except ValueError as exc:
        return jsonify(error=str(exc), items=[]), 400
    return jsonify(items=items)


@bp.route("/content/<source>/<int:item_id>", methods=["POST"])
@require("followup.read")
def content_used(source, item_id):
    """The picker inserted an item: the source counts it and answers the item (JSON)."""
    item = content.used(source, item_id)
    if item is None:
        abort(404)
    db.session.commit()
    return jsonify(item)
