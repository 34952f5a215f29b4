"""VIP pages: members (list, export, detail, manual change), tiers and rules, re-tier preview
and apply, customer value (analysis, value rules, re-score now), churn warnings, referrer grades.
Thin: the work is in tiering, retier, value, churn and referrers."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from core import queue
from core.clock import utc_to_local
from core.extensions import db
from core.i18n import gettext as _
from core.models import Department, User
from core.paging import paginate_capped
from core.permissions import can, require
from core.tenancy import current_scope, get_or_404
from plugins.patients.public import Patient
from plugins.vip import churn as churn_svc
from plugins.vip import declare, tiering
from plugins.vip import members as members_svc
from plugins.vip import referrers as referrers_svc
from plugins.vip import retier as retier_svc
from plugins.vip import service_plans as plans_svc
from plugins.vip import value as value_svc
from plugins.vip.forms import (
    COMBINE_LABELS,
    DIRECTION_LABELS,
    REASON_LABELS,
    ActionForm,
    MemberTierForm,
    ServicePlanForm,
    TaskStatusForm,
    TierForm,
    ValueSettingsForm,
    map_errors,
)
from plugins.vip.models import Member, RetierRun, Score, ServicePlan, ServiceTask, Tier
from plugins.vip.panel import patient_value
from plugins.vip.schemas import MemberFilterSchema

bp = Blueprint("vip", __name__, url_prefix="/vip", template_folder=str(Path(__file__).resolve().parent / "templates"))
PER_PAGE = 50
LIST_CAP = 10000
EXPORT_LIMIT = 100000


@bp.context_processor
def labels():
    return dict(REASON_LABELS=REASON_LABELS, DIRECTION_LABELS=DIRECTION_LABELS, COMBINE_LABELS=COMBINE_LABELS,
                SEGMENT_LABELS=value_svc.SEGMENT_LABELS, ITEM_LABELS=value_svc.ITEM_LABELS,
                describe=lambda rule: tiering.spec_of(rule).describe())


def _page_number() -> int:
    number = request.args.get("page", type=int) or 1
    return number if 0 < number < 100000 else 1


def _hospital_id() -> int:
    return current_scope().hospital_id


# -- members --------------------------------------------------------------------------------------
def _member_filters() -> tuple[dict, dict]:
    try:
        return MemberFilterSchema().load(request.args.to_dict()), {}
    except ValidationError as exc:
        return {}, exc.messages


@bp.route("/")
@require("vip.read")
def members_page():
    return redirect(url_for("vip.members"))


@bp.route("/members")
@require("vip.read")
def members():
    filters, errors = _member_filters()
    page = paginate_capped(members_svc.members_stmt(filters), page=_page_number(), per_page=PER_PAGE, cap=LIST_CAP)
    return render_template("vip/members.html", page=page, filters=filters, errors=errors,
                           tiers=tiering.ordered_tiers()), 400 if errors else 200


@bp.route("/members/export")
@require("vip.read")
def members_export():
    filters, errors = _member_filters()
    if errors:
        abort(400, description="; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in errors.items()))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Patient"), _("Tier"), _("Since"), _("How"), _("Reason"), _("Below the rule since")])
    for member in db.session.execute(members_svc.members_stmt(filters).limit(EXPORT_LIMIT)).scalars():
        writer.writerow([member.patient.name, member.tier.name, f"{utc_to_local(member.since):%Y-%m-%d %H:%M}",
                         REASON_LABELS[member.reason_kind], member.reason or "", member.below_since or ""])
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=vip-members.csv"})


@bp.route("/patients/<int:patient_id>", methods=["GET", "POST"])
@require("vip.read")
def member(patient_id):
    patient = get_or_404(Patient, patient_id)
    form = MemberTierForm()
    form.tier_id.choices = [("", _("— not a member —"))] + [(str(t.id), t.name)
                                                            for t in tiering.ordered_tiers(active_only=True)]
    status = 200
    if request.method == "POST":
        if not can("vip.members"):
            abort(403)
        if form.validate_on_submit():
            try:
                tiering.change_member_tier(patient, form.tier_id.data or None, form.reason.data, current_user.id)
            except tiering.VipInvalid as exc:
                db.session.rollback()
                map_errors(form, exc.errors)
            else:
                db.session.commit()
                flash(_("Tier changed."), "success")
                return redirect(url_for("vip.member", patient_id=patient.id))
        status = 400
    return render_template("vip/member.html", patient=patient, info=patient_value(patient.id), form=form), status


# -- tiers and rules ------------------------------------------------------------------------------
@bp.route("/tiers")
@require("vip.manage")
def tiers():
    counts = dict(db.session.execute(sa.select(Member.tier_id, sa.func.count()).group_by(Member.tier_id)).all())
    return render_template("vip/tiers.html", tiers=tiering.ordered_tiers(), counts=counts)


def _tier_form_data(form: TierForm) -> tuple[dict, dict]:
    tier_data = {field: getattr(form, field).data for field in tiering.TIER_FIELDS}
    rule_data = {field: getattr(form, field).data for field in ("window_months", "min_spending", "min_visits",
                                                                  "combine", "grace_days")}
    rule_data["active"] = form.rule_active.data
    return tier_data, rule_data


def _save_tier(form: TierForm, tier: Tier | None, *, preview_only: bool):
    tier_data, rule_data = _tier_form_data(form)
    try:
        saved = tiering.save_tier(tier_data, tier)
        if form.has_rule.data:
            tiering.save_rule(saved, rule_data)
        else:
            tiering.delete_rule(saved)
        if preview_only:
            shown = retier_svc.preview(_hospital_id())
            db.session.rollback()
            return shown
    except tiering.VipInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return None
    db.session.commit()
    flash(_("Tier saved. Preview and apply the re-tiering to move members."), "success")
    return redirect(url_for("vip.retier"))


def _fill_tier_form(form: TierForm, tier: Tier) -> None:
    for field in tiering.TIER_FIELDS:
        getattr(form, field).data = getattr(tier, field)
    form.position.data = str(tier.position)
    rule = tier.rule
    form.has_rule.data = rule is not None
    if rule is not None:
        form.window_months.data = str(rule.window_months)
        form.min_spending.data = "" if rule.min_spending is None else str(rule.min_spending)
        form.min_visits.data = "" if rule.min_visits is None else str(rule.min_visits)
        form.combine.data, form.grace_days.data, form.rule_active.data = rule.combine, str(rule.grace_days), rule.active


def _tier_page(tier: Tier | None):
    form = TierForm()
    if request.method == "GET" and tier is not None:
        _fill_tier_form(form, tier)
    shown = None
    if form.validate_on_submit():
        wants_preview = "preview" in request.form
        done = _save_tier(form, tier, preview_only=wants_preview)
        if isinstance(done, retier_svc.Preview):
            shown = done
        elif done is not None:
            return done
    failed = bool(form.errors or form.form_errors)
    return render_template("vip/tier_form.html", form=form, tier=tier, preview=shown,
                           delete_form=ActionForm()), 400 if failed else 200


@bp.route("/tiers/new", methods=["GET", "POST"])
@require("vip.manage")
def tier_new():
    return _tier_page(None)


@bp.route("/tiers/<int:tier_id>", methods=["GET", "POST"])
@require("vip.manage")
def tier_edit(tier_id):
    return _tier_page(get_or_404(Tier, tier_id))


@bp.route("/tiers/<int:tier_id>/delete", methods=["POST"])
@require("vip.manage")
def tier_delete(tier_id):
    tier = get_or_404(Tier, tier_id)
    if ActionForm().validate_on_submit():
        try:
            tiering.delete_tier(tier)
        except tiering.VipInvalid as exc:
            db.session.rollback()
            flash(exc.errors["tier"], "warning")
            return redirect(url_for("vip.tier_edit", tier_id=tier_id))
        db.session.commit()
        flash(_("Tier deleted."), "success")
    return redirect(url_for("vip.tiers"))


# -- re-tier --------------------------------------------------------------------------------------
def _enqueue(name: str, summary: str):
    try:
        record = queue.enqueue(name, _hospital_id(), user=current_user.id, summary=summary)
    except (queue.QueueUnavailable, queue.TaskRefused) as exc:
        db.session.rollback()
        flash(exc.message.translated() if hasattr(exc.message, "translated") else str(exc), "danger")
        return None
    return record


@bp.route("/retier", methods=["GET", "POST"])
@require("vip.rescore")
def retier():
    form = ActionForm()
    if form.validate_on_submit():
        record = _enqueue(declare.RETIER_TASK, _("Re-tier VIP members"))
        if record is not None:
            flash(_("Re-tiering started (task #%(id)d): members move when it finishes.", id=record.id), "success")
        return redirect(url_for("vip.retier"))
    runs = db.session.execute(sa.select(RetierRun).order_by(RetierRun.id.desc()).limit(10)).scalars().all()
    return render_template("vip/retier.html", preview=retier_svc.preview(_hospital_id()), form=form, runs=runs,
                           specs=tiering.active_specs(), active=queue.active(declare.RETIER_TASK, _hospital_id()))



# -- customer value -------------------------------------------------------------------------------
@bp.route("/value")
@require("vip.read")
def value_page():
    return redirect(url_for("vip.value"))


@bp.route("/value/analysis")
@require("vip.read")
def value():
    top = db.session.execute(sa.select(Score).join(Patient, Patient.id == Score.patient_id)
                             .order_by(Score.score.desc(), Score.patient_id).limit(20)).scalars().all()
    return render_template("vip/value.html", segments=value_svc.segment_counts(), grid=value_svc.rfm_grid(),
                           distribution=value_svc.distribution(), top=top, settings=value_svc.settings(),
                           form=ActionForm(), active=queue.active(declare.RESCORE_TASK, _hospital_id()))



@bp.route("/value/rescore", methods=["POST"])
@require("vip.rescore")
def rescore():
    if ActionForm().validate_on_submit():
        record = _enqueue(declare.RESCORE_TASK, _("Re-score customer value"))
        if record is not None:
            flash(_("Re-scoring started (task #%(id)d).", id=record.id), "success")
    return redirect(url_for("vip.value"))


@bp.route("/value/rules", methods=["GET", "POST"])
@require("vip.manage")
def value_rules():
    form = ValueSettingsForm()
    listed = value_svc.items()
    errors: dict[str, str] = {}
    if request.method == "GET":
        conf = value_svc.settings()
        form.churn_factor.data, form.window_months.data = str(conf.churn_factor), str(conf.window_months)
        form.churn_single_visit_days.data = str(conf.churn_single_visit_days)
    elif form.validate_on_submit():
        rows = {item.id: {"weight": request.form.get(f"weight-{item.id}", ""),
                          "scale": request.form.get(f"scale-{item.id}", ""),
                          "enabled": request.form.get(f"enabled-{item.id}") == "1"} for item in listed}
        try:
            value_svc.save_items(rows)
            value_svc.save_settings({"churn_factor": form.churn_factor.data,
                                        "churn_single_visit_days": form.churn_single_visit_days.data,
                                        "window_months": form.window_months.data})
        except tiering.VipInvalid as exc:
            db.session.rollback()
            errors = exc.errors
            map_errors(form, {k: v for k, v in errors.items() if hasattr(form, k)})
            listed = value_svc.items()
        else:
            db.session.commit()
            flash(_("Value rules saved. They count from the next re-score."), "success")
            return redirect(url_for("vip.value_rules"))
    failed = bool(errors or form.errors)
    return render_template("vip/value_rules.html", form=form, items=listed, errors=errors,
                           posted=request.form if request.method == "POST" else None), 400 if failed else 200


# -- churn ----------------------------------------------------------------------------------------
def _churn_filters() -> dict:
    filters = {}
    for name in ("owner_id", "department_id"):
        number = request.args.get(name, type=int)
        if number and 0 < number < 2**31:
            filters[name] = number
    return filters


@bp.route("/churn", methods=["GET", "POST"])
@require("vip.read")
def churn():
    filters = _churn_filters()
    form = ActionForm()
    followup_live = churn_svc.followup_live()
    if request.method == "POST":
        if not (can("vip.members") and followup_live):
            abort(403)
        if form.validate_on_submit():
            made = churn_svc.request_followups(filters, current_user.id)
            db.session.commit()
            flash(_("%(n)d follow-up plan(s) requested for these patients.", n=made), "success")
        return redirect(url_for("vip.churn", **filters))
    page = paginate_capped(churn_svc.churn_stmt(filters), page=_page_number(), per_page=PER_PAGE, cap=LIST_CAP)
    return render_template("vip/churn.html", page=page, filters=filters, form=form, followup_live=followup_live,
                           owners=db.session.execute(sa.select(User).order_by(User.display_name)).scalars().all(),
                           departments=db.session.execute(sa.select(Department).order_by(Department.name))
                           .scalars().all(), by_owner=churn_svc.counts_by("owner_id"),
                           by_department=churn_svc.counts_by("department_id"))



# -- referrers ------------------------------------------------------------------------------------
@bp.route("/referrers", methods=["GET", "POST"])
@require("vip.read")
def referrers():
    grades = referrers_svc.grades()
    errors: dict[str, str] = {}
    form = ActionForm()
    if request.method == "POST":
        if not can("vip.manage"):
            abort(403)
        if form.validate_on_submit():
            rows = {grade.id: {"name": request.form.get(f"name-{grade.id}", ""),
                               "min_patients": request.form.get(f"patients-{grade.id}", ""),
                               "min_spending": request.form.get(f"spending-{grade.id}", "")} for grade in grades}
            try:
                referrers_svc.save_grades(rows)
            except tiering.VipInvalid as exc:
                db.session.rollback()
                errors = exc.errors
            else:
                db.session.commit()
                flash(_("Referrer grades saved."), "success")
                return redirect(url_for("vip.referrers"))
    ranking = referrers_svc.ranking()
    return render_template("vip/referrers.html", grades=referrers_svc.grades(), ranking=ranking, form=form,
                           errors=errors), 400 if errors else 200



# -- service plans and tasks ----------------------------------------------------------------------
def _plan_form(plan: ServicePlan | None) -> ServicePlanForm:
    form = ServicePlanForm()
    form.tier_id.choices = [(str(t.id), t.name) for t in tiering.ordered_tiers()]
    if request.method == "GET" and plan is not None:
        for field in ("name", "kind", "method", "festival_dates", "content", "active"):
            getattr(form, field).data = getattr(plan, field)
        form.tier_id.data, form.days_after.data = str(plan.tier_id), str(plan.days_after or "")
    return form


@bp.route("/plans")
@require("vip.manage")
def plans():
    return render_template("vip/plans.html", plans=plans_svc.plans(), by_plan=plans_svc.completion("plan"),
                           by_tier=plans_svc.completion("tier"), form=ActionForm(),
                           KIND_LABELS=plans_svc.KIND_LABELS, METHOD_LABELS=plans_svc.METHOD_LABELS)


def _plan_page(plan: ServicePlan | None):
    form = _plan_form(plan)
    if form.validate_on_submit():
        data = {field: getattr(form, field).data for field in ("name", "kind", "tier_id", "method", "days_after",
                                                               "festival_dates", "content", "active")}
        try:
            plans_svc.save_plan(data, plan)
        except tiering.VipInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(_("Service plan saved."), "success")
            return redirect(url_for("vip.plans"))
    return render_template("vip/plan_form.html", form=form, plan=plan), 400 if form.errors or form.form_errors else 200


@bp.route("/plans/new", methods=["GET", "POST"])
@require("vip.manage")
def plan_new():
    return _plan_page(None)


@bp.route("/plans/<int:plan_id>", methods=["GET", "POST"])
@require("vip.manage")
def plan_edit(plan_id):
    return _plan_page(get_or_404(ServicePlan, plan_id))


@bp.route("/plans/generate", methods=["POST"])
@require("vip.manage")
def plans_generate():
    if ActionForm().validate_on_submit():
        record = _enqueue(declare.SERVICE_TASK, _("Generate VIP service tasks"))
        if record is not None:
            flash(_("Generating the service tasks (task #%(id)d).", id=record.id), "success")
    return redirect(url_for("vip.plans"))


@bp.route("/tasks")
@require("vip.tasks")
def tasks():
    filters = {"status": request.args.get("status") if request.args.get("status") in plans_svc.STATUS_LABELS
               else None}
    for name in ("plan_id", "tier_id"):
        number = request.args.get(name, type=int)
        filters[name] = number if number and 0 < number < 2**31 else None
    page = paginate_capped(plans_svc.tasks_stmt(filters), page=_page_number(), per_page=PER_PAGE, cap=LIST_CAP)
    return render_template("vip/tasks.html", page=page, filters=filters, plans=plans_svc.plans(), form=TaskStatusForm(),
                           STATUS_LABELS=plans_svc.STATUS_LABELS, KIND_LABELS=plans_svc.KIND_LABELS,
                           METHOD_LABELS=plans_svc.METHOD_LABELS)


@bp.route("/tasks/<int:task_id>", methods=["POST"])
@require("vip.tasks")
def task_status(task_id):
    task = get_or_404(ServiceTask, task_id)
    form = TaskStatusForm()
    if form.validate_on_submit():
        try:
            plans_svc.set_status(task, form.status.data, form.note.data, current_user.id)
        except tiering.VipInvalid as exc:
            db.session.rollback()
            flash(" ".join(exc.errors.values()), "danger")
        else:
            db.session.commit()
            flash(_("Task updated."), "success")
    else:
        flash(_("The form has expired: try again."), "danger")
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url)
                    else url_for("vip.tasks"))
