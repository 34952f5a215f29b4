"""Setting a connection up from the HIS itself: import departments from the HIS's code table or
from the distinct codes of the synced rows, and doctors' names from its staff table (preview
first, then import). Routes register on the
blueprint of views.py; services.py decides."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice

from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.permissions import require
from core.tenancy import get_or_404
from plugins.his_connector import MANAGE, services
from plugins.his_connector.models import Connection
from plugins.his_connector.views import bp, message_text


class DepartmentImportForm(FlaskForm):
    query = TextAreaField(_l("The HIS's department code table"),
                          render_kw={"rows": 2, "spellcheck": "false", "class": "font-monospace",
                                     "placeholder": "SELECT KSDM, KSMC FROM GY_KSDM"},
                          description=_l("A SELECT giving code and name. Leave empty to use the distinct department "
                                         "codes of the chosen mapping's rows."))
    entity = SelectField(_l("Or the codes found in"), choices=[SelectChoice("visits", _l("Visits")), SelectChoice("patients", _l("Patients"))],
                         default="visits")


ACTIONS = {"mapped": _l("already in the mappings' code table"), "exists": _l("same code here"), "name": _l("same name here"), "create": _l("will be created"),
           "invalid": _l("skipped: not a valid department code")}


def _preview_then_import(connection, form, template: str, actions: dict, preview, apply, done_message):
    """The code-table pages' one flow: a POST previews what ``preview()`` finds; with
    action=import, ``apply()`` writes it and ``done_message(result)`` is flashed. A HIS error
    shows under the query (400), nothing written."""
    found, status = None, 200
    if request.method == "POST" and form.validate_on_submit():
        try:
            if request.form.get("action") == "import":
                flash(done_message(apply()), "success")
                return redirect(url_for("his_connector.connection", connection_id=connection.id))
            found = preview()
        except services.HisError as exc:
            db.session.rollback()
            form.query.errors = list(form.query.errors) + [message_text(exc.message, connection)]
            status = 400
    elif request.method == "POST":
        status = 400
    return render_template(template, connection=connection, form=form, found=found, actions=actions), status


@bp.route("/connections/<int:connection_id>/departments", methods=["GET", "POST"])
@require(MANAGE)
def departments(connection_id):
    connection = get_or_404(Connection, connection_id)
    form = DepartmentImportForm()
    entity = form.entity.data if form.entity.data in ("visits", "patients") else "visits"
    query = (form.query.data or "").strip() or None
    return _preview_then_import(
        connection, form, "his_connector/departments.html", ACTIONS,
        preview=lambda: services.department_preview(connection, query=query, entity=entity),
        apply=lambda: services.import_departments(connection, query=query, entity=entity),
        done_message=lambda done: _("%(created)d departments created, %(mapped)d HIS codes mapped in the mappings.",
                                    created=done["created"], mapped=done["mapped"]))


class DoctorImportForm(FlaskForm):
    query = TextAreaField(_l("The HIS's staff table"),
                          render_kw={"rows": 2, "spellcheck": "false", "class": "font-monospace",
                                     "placeholder": "SELECT YSDM, YSXM FROM GY_YGDM"},
                          description=_l("A SELECT giving the doctor's code and name, for visits whose doctor column "
                                         "holds the HIS's code."))


DOCTOR_ACTIONS = {"add": _l("will be added"), "same": _l("already in the code table"),
                  "changed": _l("the name will change"), "invalid": _l("skipped: no name, or longer than 64 characters")}


@bp.route("/connections/<int:connection_id>/doctors", methods=["GET", "POST"])
@require(MANAGE)
def doctors(connection_id):
    connection = get_or_404(Connection, connection_id)
    form = DoctorImportForm()
    query = (form.query.data or "").strip()
    return _preview_then_import(
        connection, form, "his_connector/doctors.html", DOCTOR_ACTIONS,
        preview=lambda: services.doctor_preview(connection, query),
        apply=lambda: services.import_doctors(connection, query),
        done_message=lambda done: _("%(added)d doctors added and %(changed)d renamed in the visits mapping's doctor "
                                    "code table.", added=done["added"], changed=done["changed"]))


@bp.route("/connections/<int:connection_id>/history", methods=["POST"])
@require(MANAGE)
def history(connection_id):
    """The first sync's offer: apply the follow-up rules (and whatever other plugins do for new
    visits) to the visits since a date."""
    connection = get_or_404(Connection, connection_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        report = services.apply_to_history(connection, request.form.get("since", ""))
    except services.HisError as exc:
        db.session.rollback()
        flash(message_text(exc.message, connection), "danger")
        return redirect(url_for("his_connector.connection", connection_id=connection.id)), 303
    flash(" ".join(report) or _("No module applies anything to past visits here."), "success")
    return redirect(url_for("his_connector.connection", connection_id=connection.id))
