"""Follow-up API (/api/v1/followup): plans, rounds and rules. Thin views over the services the
pages use; answers 404 for another hospital's record and where the plugin is disabled."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import Blueprint
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm import selectinload

from core.api import api_route, paginate
from core.extensions import db
from core.i18n import gettext as _
from core.tenancy import get_or_404
from core.web import json_error
from plugins.followup.models import Plan, Round, Rule
from plugins.followup.planning import plan_services, rules
from plugins.followup.planning.errors import FollowupInvalid, PlanStateError
from plugins.followup.planning.schemas import (
    ApplyResultSchema,
    ApplySinceSchema,
    PlanCreateSchema,
    PlanDetailSchema,
    PlanQuerySchema,
    PlanSchema,
    RoundCreateSchema,
    RoundSchema,
    RuleSchema,
    RuleWriteSchema,
)
from plugins.patients.public import Patient

bp = Blueprint("followup_api", __name__, url_prefix="/api/v1/followup")
PLAN_LOADS = (selectinload(Plan.category), selectinload(Plan.method),
              selectinload(Plan.owner), selectinload(Plan.department))


def _invalid(errors: dict[str, str], rename: dict | None = None) -> ValidationError:
    rename = rename or {}
    return ValidationError({rename.get(field, field): [message] for field, message in errors.items()})


# -- plans --------------------------------------------------------------------------------------
@api_route(bp, "/plans", permission="followup.read", query=PlanQuerySchema, response=PlanSchema, paginated=True)
def list_plans(query):
    """List follow-up plans.

    Plans the caller may see (a staff token: the plans assigned to it), soonest due first.
    """
    stmt = sa.select(Plan).options(*PLAN_LOADS).order_by(Plan.due_at, Plan.id)
    filters = {"status": Plan.status, "assignee_id": Plan.owner_id, "patient_id": Plan.patient_id,
               "category_id": Plan.category_id, "method_id": Plan.method_id}
    for key, column in filters.items():
        if key in query:
            stmt = stmt.where(column == query[key])
    if "due_from" in query:
        stmt = stmt.where(Plan.due_at >= datetime.combine(query["due_from"], time.min))
    if "due_to" in query:
        stmt = stmt.where(Plan.due_at < datetime.combine(query["due_to"] + timedelta(days=1), time.min))
    if "overdue" in query:
        condition = plan_services.overdue_condition()
        stmt = stmt.where(condition if query["overdue"] else ~condition)
    return paginate(stmt)


@api_route(bp, "/plans/<int:plan_id>", permission="followup.read", response=PlanDetailSchema)
def get_plan(plan_id):
    """One plan with its rounds."""
    return get_or_404(Plan, plan_id)


@api_route(bp, "/plans", methods=("POST",), permission="followup.create", body=PlanCreateSchema,
           response=PlanSchema, status=201)
def create_plan(body):
    """Plan a follow-up for a patient."""
    patient = db.session.execute(sa.select(Patient).where(Patient.id == body.pop("patient_id"))).scalar_one_or_none()
    if patient is None:
        raise ValidationError({"patient_id": [_("Unknown patient: it does not exist in this hospital.")]})
    data = dict(body)
    if "assignee_id" in data:
        data["owner_id"] = data.pop("assignee_id")
    try:
        plan = plan_services.create_plan(patient, data, current_user.id)
    except FollowupInvalid as exc:
        raise _invalid(exc.errors, {"owner_id": "assignee_id"}) from None
    db.session.commit()
    return plan, 201, {"Location": f"/api/v1/followup/plans/{plan.id}"}


@api_route(bp, "/plans/<int:plan_id>/rounds", methods=("POST",), permission="followup.create",
           body=RoundCreateSchema, response=RoundSchema, status=201, errors=(404, 409))
def create_round(plan_id, body):
    """Record a follow-up round on a plan.

    `409` when the plan is cancelled, completed or marked "no follow-up". With `answers`, the
    plan's questionnaire is answered in the same transaction (`422` naming the bad answers).
    """
    plan = get_or_404(Plan, plan_id)
    answers = body.pop("answers", None)
    try:
        round_ = plan_services.record_round(plan, body, current_user.id)
    except PlanStateError as exc:
        db.session.rollback()
        return json_error(409, str(exc))
    except FollowupInvalid as exc:
        raise _invalid(exc.errors) from None
    if answers is not None:
        round_.survey_response_id = _record_answers(plan, round_, answers)
    db.session.commit()
    return round_


def _record_answers(plan: Plan, round_: Round, answers: dict) -> int:
    if plan.questionnaire_id is None:
        raise ValidationError({"answers": [_("This plan has no questionnaire.")]})
    from plugins.followup.outreach.surveys import SurveyInvalid, record_response  # outreach's contract
    try:
        return record_response(round_, answers).id
    except SurveyInvalid as exc:
        raise ValidationError({"answers": {key: [message] for key, message in exc.errors.items()}}) from None


# -- rules --------------------------------------------------------------------------------------
@api_route(bp, "/rules", permission="followup.rules", response=RuleSchema, paginated=True)
def list_rules():
    """List follow-up rules (回访曲线)."""
    return paginate(sa.select(Rule).order_by(Rule.id))


@api_route(bp, "/rules/<int:rule_id>", permission="followup.rules", response=RuleSchema)
def get_rule(rule_id):
    """One rule."""
    return get_or_404(Rule, rule_id)


@api_route(bp, "/rules", methods=("POST",), permission="followup.rules", body=RuleWriteSchema,
           response=RuleSchema, status=201)
def create_rule(body):
    """Create a rule. It plans the visits recorded (or discharged) from now on."""
    try:
        rule = rules.create_rule(body, current_user.id)
    except FollowupInvalid as exc:
        raise _invalid(exc.errors) from None
    db.session.commit()
    return rule, 201, {"Location": f"/api/v1/followup/rules/{rule.id}"}


@api_route(bp, "/rules/<int:rule_id>", methods=("PATCH",), permission="followup.rules", body=RuleWriteSchema,
           response=RuleSchema)
def update_rule(rule_id, body):
    """Change a rule; only the fields sent change."""
    rule = get_or_404(Rule, rule_id)
    try:
        rules.update_rule(rule, body, current_user.id)
    except FollowupInvalid as exc:
        raise _invalid(exc.errors) from None
    db.session.commit()
    return rule


@api_route(bp, "/rules/<int:rule_id>", methods=("DELETE",), permission="followup.rules", status=204,
           errors=(404, 409))
def delete_rule(rule_id):
    """Delete a rule that has planned nothing (`409` otherwise: deactivate it instead)."""
    rule = get_or_404(Rule, rule_id)
    try:
        rules.delete_rule(rule)
    except PlanStateError as exc:
        db.session.rollback()
        return json_error(409, str(exc))
    db.session.commit()
    return None


@api_route(bp, "/rules/<int:rule_id>/apply", methods=("POST",), permission="followup.rules",
           body=ApplySinceSchema, response=ApplyResultSchema, errors=(404, 409))
def apply_rule(rule_id, body):
    """Apply a rule to the visits since a day (each visit is planned once)."""
    rule = get_or_404(Rule, rule_id)
    try:
        made = rules.apply_since(rule, body["since"])
    except FollowupInvalid as exc:
        raise _invalid(exc.errors) from None
    except PlanStateError as exc:
        db.session.rollback()
        return json_error(409, str(exc))
    db.session.commit()
    return {"planned": made}
