"""Birthday care (生日祝福, seed 001's 回访体系): rules with the ``birthday`` trigger plan a
greeting for each patient whose birthday falls in the coming days.

The daily job ``followup.birthdays`` looks LOOKAHEAD days ahead in the hospital's own calendar,
so a consumer that was down for a few days still plans every greeting before it is due. Per
(day, rule step) one set-based INSERT … SELECT writes the plans: due at the birthday's midnight
plus the step's offset (``9h`` → 09:00 on the birthday, local wall-clock like every plan).
``NOT EXISTS`` (same patient, step and due time) makes it idempotent: the job runs every day
over overlapping windows and never plans a greeting twice.

Who is greeted: live (unmerged) patients of the hospital with a birth date, except those who
opted out of SMS (``sms_consent`` false: they asked not to be contacted for anything but their
care); the rule's department is the patient's department, its disease codes match any diagnosis
of the patient's visits. People born on 29 February are greeted on 28 February in other years.
Assignment follows the visit rules' choices without a visit: the doctor or the owner is the
patient's owner, a role's member is looked up in the patient's department.
"""
from __future__ import annotations

import calendar
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from core.clock import local_today
from core.extensions import db
from core.models import utcnow
from plugins.followup.models import Plan, Rule, RuleDisease, RuleStep
from plugins.followup.planning.generation import role_member
from plugins.patients.public import Diagnosis, Patient

LOOKAHEAD = timedelta(days=7)
PLAN, RULE, STEP = Plan.__table__, Rule.__table__, RuleStep.__table__
PATIENT, DIAGNOSIS, RULE_DISEASE = Patient.__table__, Diagnosis.__table__, RuleDisease.__table__
INSERTED = ("hospital_id", "patient_id", "rule_id", "rule_step_id", "category_id", "method_id", "questionnaire_id",
            "due_at", "content", "status", "owner_id", "department_id", "created_at")


def _born_on(day: date):
    """Patients whose birthday is ``day`` (29 February birthdays on 28 February of other years)."""
    same_day = sa.and_(sa.extract("month", PATIENT.c.birth_date) == day.month,
                       sa.extract("day", PATIENT.c.birth_date) == day.day)
    if day.month == 2 and day.day == 28 and not calendar.isleap(day.year):
        return sa.or_(same_day, sa.and_(sa.extract("month", PATIENT.c.birth_date) == 2,
                                        sa.extract("day", PATIENT.c.birth_date) == 29))
    return same_day


def _plans_for(hospital_id: int, day: date, step, now: datetime):
    """The INSERT … SELECT of one rule step's greetings for the patients born on ``day``."""
    due_at = datetime.combine(day, time.min) + timedelta(minutes=step.offset_minutes)
    assignee = sa.case(
        (RULE.c.assign_to.in_(("doctor", "owner")), PATIENT.c.owner_id),
        (RULE.c.assign_to == "user", RULE.c.assignee_user_id),
        (RULE.c.assign_to == "role", role_member(PATIENT)),
    )
    no_codes = ~sa.exists().where(RULE_DISEASE.c.rule_id == RULE.c.id)
    code_matches = sa.exists().where(
        RULE_DISEASE.c.rule_id == RULE.c.id, DIAGNOSIS.c.patient_id == PATIENT.c.id,
        DIAGNOSIS.c.code.like(RULE_DISEASE.c.code + sa.literal("%")))
    planned = sa.exists().where(PLAN.c.patient_id == PATIENT.c.id, PLAN.c.rule_step_id == STEP.c.id,
                                PLAN.c.due_at == due_at)
    select = (
        sa.select(sa.literal(hospital_id), PATIENT.c.id, RULE.c.id, STEP.c.id, RULE.c.category_id,
                  RULE.c.method_id, RULE.c.questionnaire_id, sa.literal(due_at, sa.DateTime), RULE.c.content,
                  sa.literal("pending"), assignee, PATIENT.c.department_id, sa.literal(now, sa.DateTime))
        .select_from(PATIENT.join(RULE, RULE.c.hospital_id == PATIENT.c.hospital_id)
                     .join(STEP, STEP.c.rule_id == RULE.c.id))
        .where(PATIENT.c.hospital_id == hospital_id, STEP.c.id == step.id, RULE.c.active == sa.true(),
               PATIENT.c.merged_into_id.is_(None), PATIENT.c.birth_date.is_not(None), _born_on(day),
               sa.or_(PATIENT.c.sms_consent.is_(None), PATIENT.c.sms_consent == sa.true()),
               sa.or_(RULE.c.department_id.is_(None), RULE.c.department_id == PATIENT.c.department_id),
               sa.or_(no_codes, code_matches), ~planned)
    )
    return sa.insert(PLAN).from_select(list(INSERTED), select)


def plan_birthdays(hospital_id: int, today: date | None = None) -> int:
    """Plan the greetings of the hospital's active birthday rules for birthdays from ``today``
    (the hospital's day) to LOOKAHEAD ahead; returns how many plans were written (0 on a re-run)."""
    steps = db.session.execute(
        sa.select(STEP.c.id, STEP.c.offset_minutes).join(RULE, RULE.c.id == STEP.c.rule_id)
        .where(RULE.c.hospital_id == hospital_id, RULE.c.active == sa.true(), RULE.c.trigger == "birthday")).all()
    if not steps:
        return 0
    today = today or local_today()
    now, written = utcnow(), 0
    for offset in range((LOOKAHEAD.days) + 1):
        day = today + timedelta(days=offset)
        for step in steps:
            written += db.session.execute(_plans_for(hospital_id, day, step, now)).rowcount or 0
    return written


def run_birthdays(hospital) -> dict:
    """The ``followup.birthdays`` job for one hospital (run in its scope by core.jobs)."""
    planned = plan_birthdays(hospital.id)
    db.session.commit()
    return {"planned": planned}
