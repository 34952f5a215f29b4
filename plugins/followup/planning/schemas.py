"""Marshmallow schemas of the follow-up API (plans, rounds, rules). Input schemas check types;
the rules (choices of this hospital, times, offsets, transitions) live in the services.
Plan and round times are the hospital's local wall-clock time, like visit times."""
from __future__ import annotations

from datetime import date

from flask import g
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from core.api import LocalDateTime, Reference, UtcDateTime
from core.i18n import gettext as _
from plugins.followup.models import ASSIGN_TO, PLAN_STATUSES, RULE_TRIGGERS
from plugins.followup.planning.plan_services import ROUND_OUTCOMES, is_overdue, patient_briefs
from plugins.followup.planning.rules import format_offset
from plugins.patients.public import VISIT_KINDS, RefSchema, UserRefSchema

ID = {"validate": validate.Range(min=1)}


class RoundSchema(Schema):
    id = fields.Integer()
    plan_id = fields.Integer()
    at = LocalDateTime()
    user = Reference(UserRefSchema, allow_none=True)
    method = Reference(RefSchema, allow_none=True)
    reached = fields.Boolean()
    result = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    next_due_at = LocalDateTime(allow_none=True)
    next_plan_id = fields.Integer(allow_none=True)
    survey_response_id = fields.Integer(allow_none=True, dump_only=True, metadata={
        "description": "The survey answers recorded with the round, if any."})


class PlanSchema(Schema):
    id = fields.Integer()
    patient = fields.Method("_patient", metadata={"type": "object", "description": "id and name."})
    status = fields.String(metadata={"enum": list(PLAN_STATUSES)})
    overdue = fields.Function(lambda plan: is_overdue(plan), metadata={
        "type": "boolean", "description": "Still open and its due time has passed."})
    due_at = LocalDateTime()
    category = Reference(RefSchema, allow_none=True)
    method = Reference(RefSchema, allow_none=True)
    assignee = Reference(UserRefSchema, attribute="owner", allow_none=True)
    department = Reference(RefSchema, allow_none=True)
    content = fields.String(allow_none=True)
    questionnaire_id = fields.Integer(allow_none=True)
    visit_id = fields.Integer(allow_none=True)
    rule_id = fields.Integer(allow_none=True)
    previous_plan_id = fields.Integer(allow_none=True)
    escalated_at = UtcDateTime(allow_none=True)
    closed_at = UtcDateTime(allow_none=True)
    created_at = UtcDateTime()


    def _patient(self, plan):
        # The assignee sees whom to call even outside their data scope (see patient_briefs);
        # briefs are cached per request so a page costs one lookup per patient at most.
        cache = g.setdefault("followup_patient_briefs", {})
        if plan.patient_id not in cache:
            cache.update(patient_briefs([plan.patient_id]))
        brief = cache.get(plan.patient_id)
        return {"id": plan.patient_id, "name": brief.name if brief else None}


class PlanDetailSchema(PlanSchema):
    rounds = fields.List(fields.Nested(RoundSchema))


class PlanQuerySchema(Schema):
    status = fields.String(validate=validate.OneOf(PLAN_STATUSES))
    assignee_id = fields.Integer(**ID)
    patient_id = fields.Integer(**ID)
    category_id = fields.Integer(**ID)
    method_id = fields.Integer(**ID)
    due_from = fields.Date(metadata={"description": "Due on or after this day."})
    due_to = fields.Date(metadata={"description": "Due on or before this day."})
    overdue = fields.Boolean(metadata={"description": "Only overdue plans (true) or only the others (false)."})

    @validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("due_from"), data.get("due_to")
        if isinstance(start, date) and isinstance(end, date) and start > end:
            raise ValidationError(_("The end of the range is before its start."), "due_to")


class PlanCreateSchema(Schema):
    patient_id = fields.Integer(required=True, **ID)
    category_id = fields.Integer(required=True)
    method_id = fields.Integer(required=True)
    due_at = LocalDateTime(required=True, metadata={"description": "ISO 8601; without an offset: local time."})
    assignee_id = fields.Integer(metadata={"description": "Default: the caller."})
    content = fields.String(allow_none=True)
    questionnaire_id = fields.Integer(allow_none=True)


class RoundCreateSchema(Schema):
    at = LocalDateTime(metadata={"description": "Default: now."})
    method_id = fields.Integer(allow_none=True, metadata={"description": "Default: the plan's method."})
    reached = fields.Boolean(load_default=True)
    result = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    next_due_at = LocalDateTime(allow_none=True, metadata={"description": "Plans the next follow-up."})
    outcome = fields.String(validate=validate.OneOf(ROUND_OUTCOMES), metadata={
        "description": "The plan's status after the round (default: completed when reached or a next "
                       "due time is given, else in_progress)."})
    complaint = fields.Boolean(load_default=False, metadata={
        "description": "The patient complained: the hospital's complaints plugin (when enabled) opens a "
                       "complaint linked to the round."})
    answers = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "description": "Survey answers for the plan's questionnaire: question id → value (int for a "
                       "scale, text for single choice and free text, list of texts for multiple choice)."})


class RuleSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    active = fields.Boolean()
    trigger = fields.String(metadata={"enum": list(RULE_TRIGGERS)})
    visit_kind = fields.String(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    disease_codes = fields.Function(lambda r: [d.code for d in r.diseases], metadata={"type": "array"})
    offsets = fields.Function(lambda r: [format_offset(s.offset_minutes) for s in r.steps],
                              metadata={"type": "array", "description": "e.g. [\"24h\", \"7d\", \"30d\"]"})
    offset_minutes = fields.Function(lambda r: [s.offset_minutes for s in r.steps], metadata={"type": "array"})
    category_id = fields.Integer()
    method_id = fields.Integer()
    assign_to = fields.String(metadata={"enum": list(ASSIGN_TO)})
    assignee_role_id = fields.Integer(allow_none=True)
    assignee_user_id = fields.Integer(allow_none=True)
    questionnaire_id = fields.Integer(allow_none=True)
    content = fields.String(allow_none=True)
    applies_from = LocalDateTime(metadata={"description": "Visits whose trigger time is earlier are not planned."})
    created_at = UtcDateTime()


class RuleWriteSchema(Schema):
    """A rule (POST: name, offsets, category_id and method_id are needed; PATCH: any subset)."""

    name = fields.String()
    active = fields.Boolean()
    trigger = fields.String(validate=validate.OneOf(RULE_TRIGGERS))
    visit_kind = fields.String(allow_none=True, validate=validate.OneOf(VISIT_KINDS))
    department_id = fields.Integer(allow_none=True)
    disease_codes = fields.List(fields.String(), metadata={"description": "ICD-10 code prefixes, e.g. [\"I10\"]."})
    offsets = fields.List(fields.Raw(), metadata={
        "description": "After the visit (or discharge): \"24h\", \"7d\", \"30d\"; a number is days. "
                       "Positive, at most 3 years."})
    category_id = fields.Integer()
    method_id = fields.Integer()
    assign_to = fields.String(validate=validate.OneOf(ASSIGN_TO))
    assignee_role_id = fields.Integer(allow_none=True)
    assignee_user_id = fields.Integer(allow_none=True)
    questionnaire_id = fields.Integer(allow_none=True)
    content = fields.String(allow_none=True)


class ApplySinceSchema(Schema):
    since = fields.Date(required=True)


class ApplyResultSchema(Schema):
    planned = fields.Integer()
