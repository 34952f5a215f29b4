"""Plan generation: visits × active rules × steps, in ONE set-based INSERT … SELECT.

Called from the patients plugin's bulk hook (one visit from a page or the API, thousands from a
HIS sync batch). ``ON CONFLICT (visit_id, rule_step_id) DO NOTHING`` makes it idempotent: a
visit edited, discharged later or replayed by the sync never gets the same step twice. The
statement is SQLAlchemy Core, compiled for SQLite or PostgreSQL; it names ``hospital_id``
explicitly, as set-based SQL must (the ORM's tenancy filter does not see it).

Matching: an active rule of the hospital applies to a visit when the trigger fits (``recorded``:
any visit; ``discharged``: the visit has a discharge time; ``birthday`` rules never match a visit,
see birthdays.py), the kind and department fit (or the
rule names none), one of the visit's diagnoses starts with one of the rule's disease codes (or
the rule names none), and the trigger time is at or after the rule's ``applies_from``.
Cancelled visits and visits of merged-away patients are skipped.

Each plan: ``due_at`` = trigger time (discharge for discharge rules, else the visit time) + the
step's offset; ``department_id`` = the visit's department; ``owner_id`` (the assignee):
- ``doctor``: the visit's doctor, else the patient's owner (HIS visits may name a doctor who
  has no account);
- ``owner``: the patient's owner;
- ``user``: the rule's user;
- ``role``: the lowest-id active member of the rule's role working in the visit's department,
  else the lowest-id active member of the role — deterministic, so a replay or a re-run agrees;
  supervisors rebalance with the queue's bulk reassign.
A plan without anybody to assign stays unassigned and shows in the department queue.
Generated plans are not written to the audit log row by row (a HIS batch would flood it); the
rule and the visit that caused them are on the plan.
"""
from __future__ import annotations

import json
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core.extensions import db
from core.models import User, user_roles, utcnow
from plugins.followup.models import Plan, Rule, RuleDisease, RuleStep
from plugins.patients.models import Diagnosis, Patient, Visit

PLAN = Plan.__table__
RULE, STEP, RULE_DISEASE = Rule.__table__, RuleStep.__table__, RuleDisease.__table__
VISIT, PATIENT, DIAGNOSIS = Visit.__table__, Patient.__table__, Diagnosis.__table__
USER = User.__table__
INSERTED = ("hospital_id", "patient_id", "visit_id", "rule_id", "rule_step_id", "category_id", "method_id",
            "questionnaire_id", "due_at", "content", "status", "owner_id", "department_id", "created_at")


def _plus_minutes(dialect: str, base, minutes):
    """``base + minutes`` as a timestamp, in the dialect's own arithmetic. SQLite stores
    SQLAlchemy datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' text: keep that shape (whole minutes
    never touch the fraction) so comparisons with other stored times stay right."""
    if dialect == "sqlite":
        shifted = sa.func.strftime("%Y-%m-%d %H:%M:%S", base, sa.literal("+") + sa.cast(minutes, sa.String)
                                   + sa.literal(" minutes"))
        return sa.type_coerce(shifted.op("||")(sa.func.substr(base, 20)), sa.DateTime)
    return base + minutes * sa.literal_column("INTERVAL '1 minute'", sa.Interval)


def _visit_filter(dialect: str, visit_ids: list[int]):
    """``visit.id IN (ids)`` with the ids as ONE parameter (a JSON array on SQLite, an array on
    PostgreSQL), so a 100k-visit call neither hits SQLite's variable limit nor builds a huge
    statement."""
    if dialect == "sqlite":
        ids = sa.func.json_each(json.dumps(visit_ids)).table_valued("value")
        return VISIT.c.id.in_(sa.select(ids.c.value))
    if dialect == "postgresql":
        # IN (SELECT unnest(array)), not = ANY(array): the planner then probes the primary key per
        # id instead of filtering a sequential scan of every visit of the hospital.
        ids = sa.bindparam("visit_ids", visit_ids, type_=postgresql.ARRAY(sa.Integer))
        return VISIT.c.id.in_(sa.select(sa.func.unnest(ids)))
    return VISIT.c.id.in_(visit_ids)


def role_member(row):
    """The lowest-id active member of the rule's role in the department of ``row`` (a visit, or a
    patient for birthday rules), else of the role (two MIN subqueries: SQLite cannot see the
    outer row from a subquery's ORDER BY)."""
    def lowest(*extra):
        member = USER.alias()
        return (sa.select(sa.func.min(member.c.id))
                .join(user_roles, user_roles.c.user_id == member.c.id)
                .where(user_roles.c.role_id == RULE.c.assignee_role_id, member.c.active.is_(True),
                       member.c.hospital_id == RULE.c.hospital_id, *[condition(member) for condition in extra])
                .scalar_subquery())
    return sa.func.coalesce(lowest(lambda member: member.c.department_id == row.c.department_id), lowest())


def plans_select(dialect: str, hospital_id: int, visit_condition, now: datetime):
    """The SELECT of every (visit, rule step) pair to plan, in INSERTED's column order."""
    trigger_at = sa.case((RULE.c.trigger == "discharged", VISIT.c.discharge_at), else_=VISIT.c.visit_at)
    assignee = sa.case(
        (RULE.c.assign_to == "doctor", sa.func.coalesce(VISIT.c.doctor_id, PATIENT.c.owner_id)),
        (RULE.c.assign_to == "owner", PATIENT.c.owner_id),
        (RULE.c.assign_to == "user", RULE.c.assignee_user_id),
        (RULE.c.assign_to == "role", role_member(VISIT)),
    )
    no_codes = ~sa.exists().where(RULE_DISEASE.c.rule_id == RULE.c.id)
    code_matches = sa.exists().where(
        RULE_DISEASE.c.rule_id == RULE.c.id, DIAGNOSIS.c.visit_id == VISIT.c.id,
        DIAGNOSIS.c.code.like(RULE_DISEASE.c.code + sa.literal("%")))
    return (
        sa.select(sa.literal(hospital_id), VISIT.c.patient_id, VISIT.c.id, RULE.c.id, STEP.c.id,
                  RULE.c.category_id, RULE.c.method_id, RULE.c.questionnaire_id,
                  _plus_minutes(dialect, trigger_at, STEP.c.offset_minutes), RULE.c.content,
                  sa.literal("pending"), assignee, VISIT.c.department_id, sa.literal(now, sa.DateTime))
        .select_from(VISIT.join(PATIENT, PATIENT.c.id == VISIT.c.patient_id)
                     .join(RULE, sa.and_(RULE.c.hospital_id == VISIT.c.hospital_id, RULE.c.active.is_(True)))
                     .join(STEP, STEP.c.rule_id == RULE.c.id))
        .where(VISIT.c.hospital_id == hospital_id, PATIENT.c.hospital_id == hospital_id, visit_condition,
               VISIT.c.status != "cancelled", PATIENT.c.merged_into_id.is_(None),
               sa.or_(RULE.c.trigger == "recorded",
                      sa.and_(RULE.c.trigger == "discharged", VISIT.c.discharge_at.is_not(None))),
               sa.or_(RULE.c.visit_kind.is_(None), RULE.c.visit_kind == VISIT.c.kind),
               sa.or_(RULE.c.department_id.is_(None), RULE.c.department_id == VISIT.c.department_id),
               trigger_at >= RULE.c.applies_from,
               sa.or_(no_codes, code_matches))
    )


def insert_plans(dialect: str, select_stmt):
    """INSERT … SELECT … ON CONFLICT (visit_id, rule_step_id) DO NOTHING for the dialect."""
    insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}[dialect]
    return (insert(PLAN).from_select(list(INSERTED), select_stmt)
            .on_conflict_do_nothing(index_elements=["visit_id", "rule_step_id"]))


def _execute(hospital_id: int, condition_for) -> int:
    dialect = db.session.get_bind().dialect.name
    stmt = insert_plans(dialect, plans_select(dialect, hospital_id, condition_for(dialect), utcnow()))
    return db.session.execute(stmt).rowcount or 0


def plan_visits(hospital_id: int, visit_ids) -> int:
    """Plan the follow-ups the hospital's active rules give these visits; returns how many
    plans were written (0 on a replay)."""
    visit_ids = sorted({int(v) for v in visit_ids or ()})
    if not visit_ids:
        return 0
    has_rules = db.session.execute(sa.select(RULE.c.id).where(RULE.c.hospital_id == hospital_id,
                                                              RULE.c.active.is_(True)).limit(1)).first()
    if has_rules is None:
        return 0
    return _execute(hospital_id, lambda dialect: _visit_filter(dialect, visit_ids))


def plan_rule_backlog(hospital_id: int, rule_id: int, since: datetime) -> int:
    """Plan one rule for the hospital's visits whose visit or discharge is at or after ``since``."""
    return _execute(hospital_id, lambda _dialect: sa.and_(
        RULE.c.id == rule_id, sa.or_(VISIT.c.visit_at >= since, VISIT.c.discharge_at >= since)))
