"""Rule pages (回访曲线): list, create, edit, delete (or deactivate), apply to earlier visits."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload

from core.extensions import db
from core.i18n import gettext as _
from core.permissions import require
from core.tenancy import get_or_404
from plugins.followup.models import Plan, Rule
from plugins.followup.planning import rules
from plugins.followup.planning.errors import FollowupInvalid, PlanStateError
from plugins.followup.planning.forms import ASSIGN_LABELS, TRIGGER_LABELS, ApplySinceForm, RuleForm, fill_rule_choices
from plugins.patients.public import KIND_LABELS, map_errors

bp = Blueprint("followup_rules", __name__, url_prefix="/followup/rules",
               template_folder=str(Path(__file__).resolve().parent.parent / "templates"))


@bp.context_processor
def rule_helpers():
    return dict(TRIGGER_LABELS=TRIGGER_LABELS, ASSIGN_LABELS=ASSIGN_LABELS, KIND_LABELS=KIND_LABELS,
                format_offset=rules.format_offset)


@bp.route("/")
@require("followup.rules")
def index():
    listed = db.session.execute(sa.select(Rule).options(selectinload(Rule.category), selectinload(Rule.method),
                                                        selectinload(Rule.department))
                                .order_by(Rule.active.desc(), Rule.name)).scalars().all()
    planned = dict(db.session.execute(sa.select(Plan.rule_id, sa.func.count()).where(Plan.rule_id.is_not(None))
                                      .group_by(Plan.rule_id)).all())
    return render_template("followup/planning/rules.html", rules=listed, planned=planned)


def _form_data(form: RuleForm) -> dict:
    return {field: getattr(form, field).data for field in rules.FIELDS}


def _save(form: RuleForm, rule: Rule | None):
    try:
        if rule is None:
            rule = rules.create_rule(_form_data(form), current_user.id)
        else:
            rules.update_rule(rule, _form_data(form), current_user.id)
    except FollowupInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return None
    db.session.commit()
    flash(_("Rule saved."), "success")
    return redirect(url_for("followup_rules.index"))


@bp.route("/new", methods=["GET", "POST"])
@require("followup.rules")
def new():
    form = RuleForm()
    fill_rule_choices(form, current_user.id)
    if form.validate_on_submit() and (done := _save(form, None)) is not None:
        return done
    return render_template("followup/planning/rule_form.html", form=form, rule=None, apply_form=None), \
        400 if form.errors or form.form_errors else 200


@bp.route("/<int:rule_id>", methods=["GET", "POST"])
@require("followup.rules")
def edit(rule_id):
    rule = get_or_404(Rule, rule_id)
    form = RuleForm()
    fill_rule_choices(form, current_user.id, rule)
    if request.method == "GET":
        data = rules.rule_data(rule)
        for field in rules.FIELDS:
            value = data[field]
            if field in ("offsets", "disease_codes"):
                value = ", ".join(value)
            elif field.endswith("_id"):
                value = str(value or "")
            getattr(form, field).data = value if value is not None else ""
    if form.validate_on_submit() and (done := _save(form, rule)) is not None:
        return done
    return render_template("followup/planning/rule_form.html", form=form, rule=rule, apply_form=ApplySinceForm(),
                           plan_count=rules.plan_count(rule)), 400 if form.errors or form.form_errors else 200


@bp.route("/<int:rule_id>/delete", methods=["POST"])
@require("followup.rules")
def delete(rule_id):
    rule = get_or_404(Rule, rule_id)
    try:
        rules.delete_rule(rule)
    except PlanStateError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for("followup_rules.edit", rule_id=rule_id))
    db.session.commit()
    flash(_("Rule deleted."), "success")
    return redirect(url_for("followup_rules.index"))


@bp.route("/<int:rule_id>/apply", methods=["POST"])
@require("followup.rules")
def apply(rule_id):
    rule = get_or_404(Rule, rule_id)
    form = ApplySinceForm()
    if form.validate_on_submit():
        try:
            made = rules.apply_since(rule, form.since.data or "")
        except FollowupInvalid as exc:
            db.session.rollback()
            flash(exc.errors.get("since", str(exc)), "danger")
        except PlanStateError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(_("%(n)d follow-up(s) planned for earlier visits.", n=made), "success")
    return redirect(url_for("followup_rules.edit", rule_id=rule_id))
