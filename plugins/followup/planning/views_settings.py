"""Settings pages: follow-up methods (everyone who plans may add their own, shared or private),
categories and the escalation delay (administrators)."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.extensions import db
from core.i18n import gettext as _
from core.permissions import can, require
from core.tenancy import get_or_404
from plugins.followup.models import Category, Method
from plugins.followup.planning import settings_services as svc
from plugins.followup.planning.errors import FollowupInvalid
from plugins.followup.planning.forms import CategoryForm, EscalationForm, MethodForm
from plugins.patients.public import map_errors

bp = Blueprint("followup_settings", __name__, url_prefix="/followup/settings",
               template_folder=str(Path(__file__).resolve().parent.parent / "templates"))


def _flag(name: str):
    value = request.form.get(name)
    return None if value is None else value == "1"


@bp.route("/methods", methods=["GET", "POST"])
@require("followup.create")
def methods():
    form = MethodForm()
    if form.validate_on_submit():
        try:
            svc.add_method(form.name.data, shared=form.shared.data, sends_sms=form.sends_sms.data,
                           user_id=current_user.id)
        except FollowupInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(_("Method added."), "success")
            return redirect(url_for("followup_settings.methods"))
    admin = can("followup.settings")
    return render_template("followup/planning/settings_methods.html", form=form, admin=admin,
                           methods=svc.visible_methods(current_user.id, active_only=False),
                           may_manage=lambda m: svc.may_manage_method(m, current_user.id, admin)), \
        400 if form.errors or form.form_errors else 200


@bp.route("/methods/<int:method_id>", methods=["POST"])
@require("followup.create")
def change_method(method_id):
    method = get_or_404(Method, method_id)
    if not svc.may_manage_method(method, current_user.id, can("followup.settings")):
        abort(403, description=_("Only its author or a settings administrator changes this method."))
    try:
        svc.change_method(method, name=request.form.get("name"), shared=_flag("shared"),
                          sends_sms=_flag("sends_sms"), active=_flag("active"))
    except FollowupInvalid as exc:
        db.session.rollback()
        flash("; ".join(exc.errors.values()), "danger")
    else:
        db.session.commit()
        flash(_("Method saved."), "success")
    return redirect(url_for("followup_settings.methods"))


@bp.route("/", methods=["GET", "POST"])
@require("followup.settings")
def categories():
    form = CategoryForm(prefix="category")
    escalation = EscalationForm(prefix="escalation")
    if request.method == "GET":
        escalation.escalate_after_hours.data = str(svc.settings().escalate_after_hours)
    elif "category-name" in request.form:
        if form.validate_on_submit():
            try:
                svc.add_category(form.name.data)
            except FollowupInvalid as exc:
                db.session.rollback()
                map_errors(form, exc.errors)
            else:
                db.session.commit()
                flash(_("Category added."), "success")
                return redirect(url_for("followup_settings.categories"))
    elif escalation.validate_on_submit():
        try:
            svc.set_escalation_delay(escalation.escalate_after_hours.data)
        except FollowupInvalid as exc:
            db.session.rollback()
            map_errors(escalation, exc.errors)
        else:
            db.session.commit()
            flash(_("Escalation delay saved."), "success")
            return redirect(url_for("followup_settings.categories"))
    bad = form.errors or form.form_errors or escalation.errors or escalation.form_errors
    return render_template("followup/planning/settings_categories.html", form=form, escalation=escalation,
                           categories=svc.categories(active_only=False)), 400 if bad else 200


@bp.route("/categories/<int:category_id>", methods=["POST"])
@require("followup.settings")
def change_category(category_id):
    category = get_or_404(Category, category_id)
    try:
        svc.change_category(category, name=request.form.get("name"), active=_flag("active"))
    except FollowupInvalid as exc:
        db.session.rollback()
        flash("; ".join(exc.errors.values()), "danger")
    else:
        db.session.commit()
        flash(_("Category saved."), "success")
    return redirect(url_for("followup_settings.categories"))
