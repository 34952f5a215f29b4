"""Pages of the hotline: thin views over services.py, each guarded by a permission.

The core answers 404 for every route of this blueprint when the plugin is not enabled for the
user's hospital, so the views never check that themselves.
"""
from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup
from marshmallow import ValidationError

from core.extensions import db
from core.i18n import gettext as _
from core.panels import render_panels
from core.permissions import require
from core.queue import QueueError
from core.tenancy import get_or_404
from hcrm_hotline import services
from hcrm_hotline.forms import CallForm, RetagForm
from hcrm_hotline.models import Call
from hcrm_hotline.schemas import CallQuerySchema

bp = Blueprint("hotline", __name__, url_prefix="/hotline", template_folder="templates")


@bp.route("/<int:call_id>")
@require("hotline.read")
def call(call_id):
    record = get_or_404(Call, call_id)
    return render_template("hotline/call.html", call=record,
                           panels=render_panels("hotline.call", record))


@bp.route("/")
@require("hotline.read")
def index():
    raw = {key: request.args[key] for key in ("phone", "since") if request.args.get(key)}
    try:
        filters = CallQuerySchema().load(raw)
    except ValidationError as exc:
        filters, errors = {}, exc.messages
    else:
        errors = {}
    page = db.paginate(services.calls_query(**filters), page=request.args.get("page", 1, type=int),
                       per_page=20, error_out=False)
    retag = RetagForm(phone=filters.get("phone")) if filters.get("phone") else None
    return render_template("hotline/index.html", page=page, raw=raw, errors=errors, retag=retag,
                           numbers=services.hotline_numbers(g.hcrm_hospital.code)), 400 if errors else 200


@bp.route("/new", methods=["GET", "POST"])
@require("hotline.create")
def new():
    form = CallForm(patient_id=request.args.get("patient_id", type=int))
    if form.validate_on_submit():
        try:
            call = services.record_call(form.phone.data, form.topic.data, patient_id=form.patient_id.data)
        except services.CallError as exc:
            for field, message in exc.errors.items():
                form[field].errors.append(message)
        else:
            flash(_("Call recorded."), "success")
            return redirect(url_for(".call", call_id=call.id))
    return render_template("hotline/new.html", form=form), 400 if form.errors else 200


@bp.route("/retag", methods=["POST"])
@require("hotline.edit")
def retag():
    form = RetagForm()
    if not form.validate_on_submit():
        flash(_("Enter a tag of at most %(max)d characters.", max=services.TAG_MAX), "danger")
        return redirect(url_for(".index", phone=form.phone.data or None))
    try:
        record = services.start_retag(form.tag.data, form.phone.data, current_user)
    except services.CallError as exc:
        flash(str(exc), "danger")
    except QueueError as exc:
        flash(exc.message.translated(), "danger")
    else:
        flash(_("The calls are being tagged in the background (task %(id)d).", id=record.id), "info")
    return redirect(url_for(".index", phone=form.phone.data))


def render_patient_panel(patient):
    """The "Hotline" tab of the patient page: the patient's latest calls (no tab without any)."""
    calls = services.calls_of(patient)
    if not calls:
        return None
    return Markup(render_template("hotline/_patient_panel.html", patient=patient, calls=calls))
