"""Planning pages: the work queue, plans (new / edit / cancel / no follow-up / reopen) and
rounds. Thin: the rules live in plan_services and queue; every page works in the current
hospital and the user's data scope (a staff member sees the plans assigned to them)."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core.extensions import db
from core.i18n import gettext as _
from core.integers import digits_or_none
from core.models import User
from core.paging import paginate_capped
from core.permissions import can, require
from core.tenancy import get_or_404
from plugins.followup.models import Plan
from plugins.followup.planning import plan_services, queue
from plugins.followup.planning.errors import FollowupInvalid, PlanStateError
from plugins.followup.planning.forms import (
    PlanForm,
    RoundForm,
    category_choices,
    fill_plan_choices,
    fill_round_choices,
    method_choices,
)
from plugins.followup.planning.plan_services import STATUS_LABELS, is_overdue, local_now
from plugins.patients import public as patient_services
from plugins.patients.public import Patient, local_input, map_errors

bp = Blueprint("followup", __name__, url_prefix="/followup",
               template_folder=str(Path(__file__).resolve().parent.parent / "templates"))
PER_PAGE = 25
LIST_CAP = 10_000


@bp.context_processor
def planning_helpers():
    return dict(PLAN_STATUS_LABELS=STATUS_LABELS, is_overdue=is_overdue, BUCKET_LABELS=queue.BUCKET_LABELS,
                mask_phone=patient_services.shown_phone)


def _int_arg(name: str) -> int | None:
    return digits_or_none(request.args.get(name))


# -- the queue ----------------------------------------------------------------------------------
@bp.route("/", endpoint="queue")
@require("followup.read")
def queue_page():
    view = request.args.get("view", "mine")
    if view not in queue.VIEWS or (view == "team" and not can("followup.supervise")):
        view = "mine"
    bucket = request.args.get("bucket")
    if bucket is not None and bucket not in queue.BUCKETS + ("escalated",):
        bucket = "today"
    filters = queue.QueueFilter(view=view, bucket=bucket or "today", category_id=_int_arg("category"),
                                method_id=_int_arg("method"), key_only=request.args.get("key") == "1")
    now = local_now()
    counts = queue.counts(filters, current_user.id, now)  # the buckets' counts do not depend on the bucket shown
    if bucket is None and counts["overdue"]:
        filters.bucket = "overdue"  # late work first: the queue opens where it is
    page = paginate_capped(queue.plans_stmt(filters, current_user.id, now), page=_int_arg("page") or 1,
                           per_page=PER_PAGE, cap=LIST_CAP)
    return render_template(
        "followup/planning/queue.html", filters=filters, page=page, now=now, counts=counts,
        patients=plan_services.patient_briefs(plan.patient_id for plan in page.items),
        categories=category_choices(), methods=method_choices(current_user.id),
        assignees=db.session.execute(sa.select(User).where(User.active.is_(True))
                                     .order_by(User.display_name)).scalars().all() if view == "team" else [])



@bp.route("/reassign", methods=["POST"])
@require("followup.supervise")
def reassign():
    back = request.form.get("next") or url_for("followup.queue", view="team")
    try:
        changed = plan_services.reassign(request.form.getlist("plan_id"), request.form.get("owner_id"))
    except FollowupInvalid as exc:
        db.session.rollback()
        for message in exc.errors.values():
            flash(message, "danger")
        return redirect(back)
    db.session.commit()
    flash(_("%(n)d plan(s) reassigned.", n=changed), "success")
    return redirect(back)


# -- plans --------------------------------------------------------------------------------------
def _patient_matches(q: str) -> list[Patient]:
    if not q:
        return []
    stmt = patient_services.search(patient_services.PatientQuery(q=q)).limit(20)
    return db.session.execute(stmt).scalars().all()


@bp.route("/plans/new", methods=["GET", "POST"])
@require("followup.create")
def new_plan():
    patient_id = request.values.get("patient_id", "")
    if not patient_id.isdigit():
        q = (request.args.get("q") or "").strip()
        return render_template("followup/planning/pick_patient.html", q=q, matches=_patient_matches(q))
    patient = get_or_404(Patient, patient_id)
    form = PlanForm()
    fill_plan_choices(form, current_user.id)
    if request.method == "GET":
        form.owner_id.data = str(current_user.id)
        form.due_at.data = local_input(local_now().replace(minute=0, second=0))
    if form.validate_on_submit():
        try:
            plan = plan_services.create_plan(patient, _plan_data(form, patient), current_user.id)
        except FollowupInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        else:
            db.session.commit()
            flash(_("Follow-up planned."), "success")
            return redirect(url_for("followup.plan", plan_id=plan.id))
    return render_template("followup/planning/plan_form.html", form=form, patient=patient, plan=None), \
        400 if form.errors or form.form_errors else 200


def _plan_data(form: PlanForm, patient: Patient) -> dict:
    return {"category_id": form.category_id.data, "method_id": form.method_id.data, "due_at": form.due_at.data,
            "owner_id": form.owner_id.data, "content": plan_services.content_from(
                form.content.data, form.content_from.data, patient, current_user.id),
            "questionnaire_id": form.questionnaire_id.data or None}


@bp.route("/plans/<int:plan_id>")
@require("followup.read")
def plan(plan_id):
    record = get_or_404(Plan, plan_id)
    form = RoundForm()
    fill_round_choices(form, current_user.id, record)
    form.method_id.data = str(record.method_id or "")
    form.at.data = local_input(local_now())
    return _plan_page(record, form)


def _plan_page(record: Plan, form: RoundForm, status: int = 200):
    return render_template(
        "followup/planning/plan.html", plan=record, form=form, now=local_now(),
        patient=plan_services.patient_briefs([record.patient_id])[record.patient_id],
        transitions=sorted(plan_services.TRANSITIONS[record.status] - {"in_progress", "completed"}),
        sms_url=_sms_url(record)), status


def _sms_url(record: Plan) -> str | None:
    """Outreach's compose page for SMS methods, when that part is there."""
    if record.method is None or not record.method.sends_sms or "followup_sms.compose" not in current_app.view_functions:
        return None
    return url_for("followup_sms.compose", patient_id=record.patient_id, plan_id=record.id)


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@require("followup.edit")
def edit_plan(plan_id):
    record = get_or_404(Plan, plan_id)
    form = PlanForm(obj=None if request.method == "POST" else record)
    fill_plan_choices(form, current_user.id, record)
    if request.method == "GET":
        for field in ("category_id", "method_id", "owner_id", "questionnaire_id"):
            getattr(form, field).data = str(getattr(record, field) or "")
        form.due_at.data = local_input(record.due_at)
    if form.validate_on_submit():
        try:
            plan_services.update_plan(record, _plan_data(form, record.patient), current_user.id)
        except FollowupInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        except PlanStateError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
            return redirect(url_for("followup.plan", plan_id=plan_id))
        else:
            db.session.commit()
            flash(_("Plan saved."), "success")
            return redirect(url_for("followup.plan", plan_id=plan_id))
    patient = plan_services.patient_briefs([record.patient_id])[record.patient_id]
    return render_template("followup/planning/plan_form.html", form=form, patient=patient, plan=record), \
        400 if form.errors or form.form_errors else 200


@bp.route("/plans/<int:plan_id>/status", methods=["POST"])
@require("followup.edit")
def plan_status(plan_id):
    record = get_or_404(Plan, plan_id)
    try:
        plan_services.set_status(record, request.form.get("status", ""))
    except (FollowupInvalid, PlanStateError) as exc:
        db.session.rollback()
        flash(str(exc) if isinstance(exc, PlanStateError) else "; ".join(exc.errors.values()), "danger")
    else:
        db.session.commit()
        flash(_("The plan is now %(status)s.", status=STATUS_LABELS[record.status]), "success")
    return redirect(url_for("followup.plan", plan_id=plan_id))


# -- rounds -------------------------------------------------------------------------------------
@bp.route("/plans/<int:plan_id>/rounds", methods=["POST"])
@require("followup.create")
def record_round(plan_id):
    record = get_or_404(Plan, plan_id)
    form = RoundForm()
    fill_round_choices(form, current_user.id, record)
    if not form.validate():
        return _plan_page(record, form, 400)
    data = {"at": form.at.data, "method_id": form.method_id.data or None, "reached": form.reached.data == "1",
            "result": form.result.data, "notes": form.notes.data, "next_due_at": form.next_due_at.data or None,
            "outcome": form.outcome.data, "complaint": bool(form.complaint.data)}
    try:
        round_ = plan_services.record_round(record, data, current_user.id)
    except PlanStateError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("followup.plan", plan_id=plan_id))
    except FollowupInvalid as exc:
        db.session.rollback()
        map_errors(form, exc.errors)
        return _plan_page(get_or_404(Plan, plan_id), form, 400)
    db.session.commit()
    flash(_("Round recorded."), "success")
    if record.questionnaire_id and round_.reached and "followup_surveys.answer" in current_app.view_functions:
        return redirect(url_for("followup_surveys.answer", round_id=round_.id))
    if round_.next_plan_id:
        flash(_("The next follow-up is planned."), "info")
    return redirect(url_for("followup.plan", plan_id=plan_id))
