"""The hospital management page of the group administrator: the group's hospitals, a new one,
and each one's name, time zone and apps (core.admin.hospitals does the work)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from core import activation
from core.admin import bp
from core.admin import hospitals as svc
from core.admin.forms import HospitalForm
from core.admin.services import AdminError
from core.admin.views import _form_error
from core.extensions import db
from core.i18n import plugin_text
from core.models import Hospital
from core.permissions import hcrm, require
from core.tenancy import system_scope

PERMISSION = "core.hospitals.manage"


@bp.route("/hospitals")
@require(PERMISSION)
def hospitals():
    rows = svc.all_hospitals()
    with system_scope():
        live = {h.id: activation.live_plugins(h.id) for h in rows}
    return render_template("admin/hospitals.html", hospitals=rows, live=live, zone=svc.effective_zone,
                           titles={n: plugin_text(n, i.title) for n, i in hcrm().registry.infos.items()})


def _hospital_page(hospital: Hospital | None):
    form = HospitalForm(obj=hospital)
    registry = hcrm().registry
    form.plugins.choices = [(name, f"{plugin_text(name, info.title)} ({name})") for name, info in registry.infos.items()]
    if hospital is not None:
        del form.code
    if request.method == "GET":
        form.timezone.data = svc.effective_zone(hospital)
        if hospital is not None:
            with system_scope():
                form.plugins.data = [n for n in registry.infos if n in activation.live_plugins(hospital.id)]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            choice = svc.HospitalChoice(code=form.code.data if "code" in form else "", name=form.name.data,
                                        timezone=form.timezone.data, plugins=list(form.plugins.data or []))
            try:
                saved, messages = svc.save_hospital(hospital, choice, actor=current_user)
            except AdminError as exc:
                db.session.rollback()
                _form_error(form, exc)
            else:
                flash(_("Hospital “%(name)s” saved.", name=saved.name), "success")
                for message in messages:
                    flash(message.translated(), "info")
                return redirect(url_for("admin.hospitals"))
    return render_template("admin/hospital_form.html", form=form, hospital=hospital,
                           zones=svc.zone_names()), status


@bp.route("/hospitals/new", methods=["GET", "POST"])
@require(PERMISSION)
def hospital_new():
    return _hospital_page(None)


@bp.route("/hospitals/<int:hospital_id>", methods=["GET", "POST"])
@require(PERMISSION)
def hospital_edit(hospital_id):
    with system_scope():
        hospital = db.session.get(Hospital, hospital_id)
    if hospital is None:
        abort(404)
    return _hospital_page(hospital)
