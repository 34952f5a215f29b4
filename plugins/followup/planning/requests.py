"""Plans requested by other plugins through the published hook ``followup_plans_requested``
(see plugins/followup/planning/hooks.py): e.g. the vip plugin's churn list and service plans.

One INSERT…SELECT per request (no row is loaded), resolved inside the hospital (the patient,
the category and method by code, the assignee: the given user of the hospital, else the
patient's owner; with neither the plan is unassigned, in its department's queue). A request
naming a patient of another hospital is skipped. Idempotent per (patient, category, due time): a request already planned is skipped.
"""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.models import User, utcnow
from plugins.followup.models import Category, Method, Plan
from plugins.patients.public import Patient

TEXT_MAX = 4000


def plan_requests(hospital_id: int, requests: list[dict]) -> int:
    """Create a pending plan per request; returns how many were made."""
    if not requests:
        return 0
    categories = dict(db.session.execute(sa.select(Category.code, Category.id).where(
        Category.hospital_id == hospital_id, Category.active.is_(True))).all())
    methods = dict(db.session.execute(sa.select(Method.code, Method.id).where(
        Method.hospital_id == hospital_id, Method.active.is_(True))).all())
    fallback_category = categories.get("revisit") or next(iter(categories.values()), None)
    rows = []
    for request in requests:
        rows.append({"patient_id": int(request["patient_id"]), "due_at": request["due_at"],
                     "content": (request.get("content") or "")[:TEXT_MAX] or None,
                     "category_id": categories.get(request.get("category"), fallback_category),
                     "method_id": methods.get(request.get("method") or "phone", methods.get("phone")),
                     "owner_id": request.get("owner_id")})
    made = 0
    patients, users, plans = Patient.__table__, User.__table__, Plan.__table__
    for row in rows:
        owner = sa.func.coalesce(
            sa.select(users.c.id).where(users.c.id == row["owner_id"], users.c.hospital_id == hospital_id,
                                        users.c.active.is_(True)).scalar_subquery(), patients.c.owner_id)
        exists = sa.exists().where(plans.c.patient_id == patients.c.id, plans.c.due_at == row["due_at"],
                                   plans.c.category_id == row["category_id"])
        stmt = sa.insert(plans).from_select(
            ["hospital_id", "patient_id", "owner_id", "department_id", "category_id", "method_id", "due_at",
             "content", "status", "created_at"],
            sa.select(sa.literal(hospital_id), patients.c.id, owner, patients.c.department_id,
                      sa.literal(row["category_id"], sa.Integer), sa.literal(row["method_id"], sa.Integer),
                      sa.literal(row["due_at"], sa.DateTime), sa.literal(row["content"], sa.Text),
                      sa.literal("pending"), sa.literal(utcnow(), sa.DateTime))
            .where(patients.c.id == row["patient_id"], patients.c.hospital_id == hospital_id,
                   patients.c.merged_into_id.is_(None), ~exists))
        made += db.session.execute(stmt).rowcount or 0
    return made
