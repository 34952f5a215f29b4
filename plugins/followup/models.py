"""The follow-up centre's tables (随访中心).

Plans are DataScoped: ``owner_id`` is the assignee (so "own records" staff see the plans they
must work) and ``department_id`` the department responsible (so supervisors see their
department's queue). Times (``due_at``, ``at``, ``scheduled_at``) are the hospital's local
wall-clock time, like visit times; ``created_at`` columns are UTC like the rest of the core.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from core.choices import ChoiceList
from core.extensions import db
from core.models import utcnow
from core.tenancy import DataScoped, HospitalOwned, ScopedThrough

PLAN_STATUSES = ("pending", "in_progress", "completed", "cancelled", "no_followup")
OPEN_STATUSES = ("pending", "in_progress")  # a plan in these is still to be worked (overdue when late)
RULE_TRIGGERS = ("recorded", "discharged", "birthday")  # birthday: planning/birthdays.py
ASSIGN_TO = ("doctor", "owner", "role", "user")  # the visit's doctor, the patient's owner, a role, a user
QUESTION_KINDS = ("single", "multiple", "scale", "text")
SMS_STATUSES = ("queued", "sending", "sent", "failed", "cancelled")


class Settings(HospitalOwned, db.Model):
    """One row per hospital: follow-up settings that are not lists."""

    __tablename__ = "followup_settings"
    __table_args__ = (sa.UniqueConstraint("hospital_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    escalate_after_hours = sa.Column(sa.Integer, nullable=False, default=24)  # overdue this long → supervisor
    sms_signature = sa.Column(sa.String(32), nullable=True)  # e.g. 【第一人民医院】


class Method(ChoiceList, db.Model):
    """随访方式: phone, SMS, WeChat, home visit, and the hospital's own. A custom method added by
    a doctor is either shared with the hospital or private to its creator (seed §3.2.1)."""

    __tablename__ = "followup_method"
    sends_sms = sa.Column(sa.Boolean, nullable=False, default=False)  # rounds by this method may send an SMS
    shared = sa.Column(sa.Boolean, nullable=False, default=True)
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)


class Category(ChoiceList, db.Model):
    """分类/主题: post-discharge, chronic disease, post-operative, birthday care, satisfaction…"""

    __tablename__ = "followup_category"


class Rule(HospitalOwned, db.Model):
    """回访曲线: when a visit matching (trigger, kind, department, diagnosis codes) is recorded,
    plan one follow-up per step at the step's offset from the visit (or discharge) time."""

    __tablename__ = "followup_rule"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    trigger = sa.Column(sa.String(16), nullable=False, default="discharged")  # RULE_TRIGGERS
    visit_kind = sa.Column(sa.String(16), nullable=True)  # None: any kind
    department_id = sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=True)  # None: any
    category_id = sa.Column(sa.Integer, sa.ForeignKey("followup_category.id"), nullable=False)
    method_id = sa.Column(sa.Integer, sa.ForeignKey("followup_method.id"), nullable=False)
    assign_to = sa.Column(sa.String(16), nullable=False, default="doctor")  # ASSIGN_TO
    assignee_role_id = sa.Column(sa.Integer, sa.ForeignKey("core_role.id"), nullable=True)
    assignee_user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    content = sa.Column(sa.Text, nullable=True)
    questionnaire_id = sa.Column(sa.Integer, sa.ForeignKey("followup_questionnaire.id"), nullable=True)  # asked in the round
    # The rule plans visits whose trigger time (visit or discharge, local wall-clock) is at or
    # after this: a rule added today does not plan last year's visits when the HIS replays them,
    # unless someone applies it to visits since an earlier date on purpose.
    applies_from = sa.Column(sa.DateTime, nullable=False, default=datetime.now)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    category = relationship("Category")
    method = relationship("Method")
    department = relationship("Department")
    assignee_role = relationship("Role")
    assignee_user = relationship("User")
    steps = relationship("RuleStep", cascade="all, delete-orphan", order_by="RuleStep.offset_minutes",
                         lazy="selectin", back_populates="rule")
    diseases = relationship("RuleDisease", cascade="all, delete-orphan", lazy="selectin")

    def __str__(self) -> str:
        return self.name


class RuleStep(HospitalOwned, db.Model):
    """One point of a curve: T + ``offset_minutes`` (1 day = 1440; "+24 h" = 1440)."""

    __tablename__ = "followup_rule_step"
    __table_args__ = (sa.UniqueConstraint("rule_id", "offset_minutes"),)
    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(sa.Integer, sa.ForeignKey("followup_rule.id", ondelete="CASCADE"), nullable=False)
    offset_minutes = sa.Column(sa.Integer, nullable=False)
    rule = relationship("Rule", back_populates="steps")


class RuleDisease(HospitalOwned, db.Model):
    """A rule applies only to visits with a diagnosis whose code starts with one of these
    (``I10`` matches ``I10`` and ``I10.x``); a rule without any applies to every diagnosis."""

    __tablename__ = "followup_rule_disease"
    __table_args__ = (sa.UniqueConstraint("rule_id", "code"),)
    id = sa.Column(sa.Integer, primary_key=True)
    rule_id = sa.Column(sa.Integer, sa.ForeignKey("followup_rule.id", ondelete="CASCADE"), nullable=False)
    code = sa.Column(sa.String(16), nullable=False)


class Plan(DataScoped, db.Model):
    """随访计划 for a patient. ``owner_id`` is the assignee. A plan generated by a rule carries
    (visit_id, rule_step_id): unique, so the same visit never gets the same step twice."""

    __tablename__ = "followup_plan"
    __table_args__ = (
        sa.UniqueConstraint("visit_id", "rule_step_id"),
        sa.Index("ix_followup_plan_queue", "hospital_id", "owner_id", "status", "due_at"),
        sa.Index("ix_followup_plan_department_queue", "hospital_id", "department_id", "status", "due_at"),
        sa.Index("ix_followup_plan_patient", "patient_id", "due_at"),
        # Hospital-wide open work by due time: escalation, the overdue counts, "all departments".
        sa.Index("ix_followup_plan_hospital_due", "hospital_id", "status", "due_at"),
    )
    id = sa.Column(sa.Integer, primary_key=True)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=False)
    visit_id = sa.Column(sa.Integer, sa.ForeignKey("patients_visit.id"), nullable=True)
    rule_id = sa.Column(sa.Integer, sa.ForeignKey("followup_rule.id"), nullable=True)
    rule_step_id = sa.Column(sa.Integer, sa.ForeignKey("followup_rule_step.id"), nullable=True)
    previous_plan_id = sa.Column(sa.Integer, sa.ForeignKey("followup_plan.id"), nullable=True)  # from a round's next due time
    category_id = sa.Column(sa.Integer, sa.ForeignKey("followup_category.id"), nullable=True)
    method_id = sa.Column(sa.Integer, sa.ForeignKey("followup_method.id"), nullable=True)
    questionnaire_id = sa.Column(sa.Integer, sa.ForeignKey("followup_questionnaire.id"), nullable=True)
    due_at = sa.Column(sa.DateTime, nullable=False)
    content = sa.Column(sa.Text, nullable=True)
    status = sa.Column(sa.String(16), nullable=False, default="pending")  # PLAN_STATUSES
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    closed_at = sa.Column(sa.DateTime, nullable=True)  # when it became completed/cancelled/no_followup (UTC)
    escalated_at = sa.Column(sa.DateTime, nullable=True)  # when the supervisor was told it is overdue (UTC)

    patient = relationship("Patient")
    visit = relationship("Visit")
    category = relationship("Category")
    method = relationship("Method")
    owner = relationship("User", foreign_keys="Plan.owner_id")
    department = relationship("Department")
    rounds = relationship("Round", back_populates="plan", order_by="Round.at", foreign_keys="Round.plan_id")


class Round(ScopedThrough, db.Model):
    """One attempt on a plan: who, when, how, reached or not, the result; a next due time
    creates the next plan (``next_plan_id``). Whoever sees the plan sees its rounds."""

    __tablename__ = "followup_round"
    __hcrm_scope_through__ = "plan_id"
    __table_args__ = (sa.Index("ix_followup_round_hospital_at", "hospital_id", "at"),)
    id = sa.Column(sa.Integer, primary_key=True)
    plan_id = sa.Column(sa.Integer, sa.ForeignKey("followup_plan.id", ondelete="CASCADE"), nullable=False, index=True)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=False, index=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    at = sa.Column(sa.DateTime, nullable=False)
    method_id = sa.Column(sa.Integer, sa.ForeignKey("followup_method.id"), nullable=True)
    reached = sa.Column(sa.Boolean, nullable=False, default=True)
    result = sa.Column(sa.String(200), nullable=True)
    notes = sa.Column(sa.Text, nullable=True)
    next_due_at = sa.Column(sa.DateTime, nullable=True)
    next_plan_id = sa.Column(sa.Integer, sa.ForeignKey("followup_plan.id"), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    plan = relationship("Plan", back_populates="rounds", foreign_keys=[plan_id])
    user = relationship("User")
    method = relationship("Method")


class Phrase(HospitalOwned, db.Model):
    """短语库: reusable follow-up content, shared with the hospital or private to its author."""

    __tablename__ = "followup_phrase"
    id = sa.Column(sa.Integer, primary_key=True)
    category_id = sa.Column(sa.Integer, sa.ForeignKey("followup_category.id"), nullable=True)
    text = sa.Column(sa.Text, nullable=False)
    shared = sa.Column(sa.Boolean, nullable=False, default=True)
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    position = sa.Column(sa.Integer, nullable=False, default=0)
    category = relationship("Category")


class SmsTemplate(HospitalOwned, db.Model):
    """An SMS text with placeholders ({name}, {department}, {date}, …) filled per patient."""

    __tablename__ = "followup_sms_template"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "name"),)
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(64), nullable=False)
    body = sa.Column(sa.Text, nullable=False)
    category_id = sa.Column(sa.Integer, sa.ForeignKey("followup_category.id"), nullable=True)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    category = relationship("Category")


class SmsSettings(HospitalOwned, db.Model):
    """One row per hospital: which SMS gateway delivers its messages and how often a failed
    message is tried (a missing row means the built-in outbox gateway, 3 attempts)."""

    __tablename__ = "followup_sms_settings"
    __table_args__ = (sa.UniqueConstraint("hospital_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    gateway = sa.Column(sa.String(64), nullable=False, default="outbox", server_default="outbox")
    max_attempts = sa.Column(sa.Integer, nullable=False, default=3, server_default="3")


class SmsMessage(ScopedThrough, db.Model):
    """The outbox and the SMS log: every message is written here first (so nothing is lost),
    then handed to the gateway; its status records what the gateway said. A message carries
    its patient's name and clinical context: whoever sees the patient sees their messages."""

    __tablename__ = "followup_sms_message"
    __hcrm_scope_through__ = "patient_id"
    __table_args__ = (
        sa.Index("ix_followup_sms_message_due", "status", "scheduled_at"),
        sa.Index("ix_followup_sms_message_patient", "patient_id", "created_at"),
        sa.Index("ix_followup_sms_message_hospital_created", "hospital_id", "created_at"),
    )
    __hcrm_audit__ = False  # an append-only log of its own; bulk sends would flood the audit log
    id = sa.Column(sa.Integer, primary_key=True)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=True)
    plan_id = sa.Column(sa.Integer, sa.ForeignKey("followup_plan.id"), nullable=True)
    template_id = sa.Column(sa.Integer, sa.ForeignKey("followup_sms_template.id"), nullable=True)
    phone = sa.Column(sa.String(32), nullable=False)
    body = sa.Column(sa.Text, nullable=False)
    status = sa.Column(sa.String(16), nullable=False, default="queued")  # SMS_STATUSES
    scheduled_at = sa.Column(sa.DateTime, nullable=True)  # local time; None = as soon as possible
    gateway = sa.Column(sa.String(64), nullable=True)
    gateway_ref = sa.Column(sa.String(128), nullable=True)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    error = sa.Column(sa.String(500), nullable=True)
    sent_at = sa.Column(sa.DateTime, nullable=True)
    created_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    patient = relationship("Patient")


class Question(HospitalOwned, db.Model):
    """题库: a survey question. ``options`` lists the choices (single/multiple); a scale runs
    from ``scale_min`` to ``scale_max`` (e.g. 1–5, higher is better)."""

    __tablename__ = "followup_question"
    id = sa.Column(sa.Integer, primary_key=True)
    text = sa.Column(sa.String(500), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False)  # QUESTION_KINDS
    options = sa.Column(sa.JSON, nullable=True)
    scale_min = sa.Column(sa.Integer, nullable=True)
    scale_max = sa.Column(sa.Integer, nullable=True)
    active = sa.Column(sa.Boolean, nullable=False, default=True)


class Questionnaire(HospitalOwned, db.Model):
    """问卷: questions from the bank, in order."""

    __tablename__ = "followup_questionnaire"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False)
    description = sa.Column(sa.Text, nullable=True)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    items = relationship("QuestionnaireItem", cascade="all, delete-orphan", order_by="QuestionnaireItem.position",
                         lazy="selectin")

    def __str__(self) -> str:
        return self.name


class QuestionnaireItem(HospitalOwned, db.Model):
    """A question's place in a questionnaire; ``required`` answers must be given."""

    __tablename__ = "followup_questionnaire_item"
    __table_args__ = (sa.UniqueConstraint("questionnaire_id", "question_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    questionnaire_id = sa.Column(sa.Integer, sa.ForeignKey("followup_questionnaire.id", ondelete="CASCADE"),
                                 nullable=False)
    question_id = sa.Column(sa.Integer, sa.ForeignKey("followup_question.id"), nullable=False)
    position = sa.Column(sa.Integer, nullable=False, default=0)
    required = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    question = relationship("Question", lazy="joined")


class SurveyResponse(ScopedThrough, db.Model):
    """One patient's answers to a questionnaire, taken during a follow-up round. Department and
    doctor are copied from the plan's visit so statistics per department/doctor need no joins.
    Seen, like the round, by whoever sees the plan."""

    __tablename__ = "followup_survey_response"
    __hcrm_scope_through__ = "plan_id"
    __table_args__ = (
        sa.Index("ix_followup_survey_response_hospital_at", "hospital_id", "answered_at"),
        # One survey per round: answering again edits nothing behind the agent's back.
        sa.Index("ix_followup_survey_response_round", "round_id", unique=True),
    )
    id = sa.Column(sa.Integer, primary_key=True)
    questionnaire_id = sa.Column(sa.Integer, sa.ForeignKey("followup_questionnaire.id"), nullable=False)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=False, index=True)
    plan_id = sa.Column(sa.Integer, sa.ForeignKey("followup_plan.id"), nullable=True)
    round_id = sa.Column(sa.Integer, sa.ForeignKey("followup_round.id"), nullable=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    department_id = sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=True)
    doctor_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    doctor_name = sa.Column(sa.String(64), nullable=True)  # as the visit names the doctor (HIS visits may have no user)
    answered_at = sa.Column(sa.DateTime, nullable=False)
    questionnaire = relationship("Questionnaire")
    answers = relationship("SurveyAnswer", cascade="all, delete-orphan", lazy="selectin")


class SurveyAnswer(HospitalOwned, db.Model):
    """An answer: ``score`` for a scale, ``choices`` (list of option texts) for single/multiple,
    ``text`` for free text."""

    __tablename__ = "followup_survey_answer"
    __table_args__ = (sa.UniqueConstraint("response_id", "question_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    response_id = sa.Column(sa.Integer, sa.ForeignKey("followup_survey_response.id", ondelete="CASCADE"),
                            nullable=False)
    question_id = sa.Column(sa.Integer, sa.ForeignKey("followup_question.id"), nullable=False, index=True)
    score = sa.Column(sa.Integer, nullable=True)
    choices = sa.Column(sa.JSON, nullable=True)
    text = sa.Column(sa.Text, nullable=True)


MODELS = [Settings, Method, Category, Rule, RuleStep, RuleDisease, Plan, Round, Phrase, SmsTemplate, SmsSettings,
          SmsMessage, Question, Questionnaire, QuestionnaireItem, SurveyResponse, SurveyAnswer]
