"""Demo follow-ups for ``hcrm init --demo``: rules for the demo departments, plans generated from
the demo visits by the real generation (the patients demo bulk-inserts its visits without
announcing them), and rounds done on most of the plans that are due. Idempotent: nothing when
the hospital has rules already."""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.extensions import db
from core.models import Department
from plugins.followup.models import Category, Method, Plan, Rule
from plugins.followup.planning import rules
from plugins.followup.planning.birthdays import plan_birthdays
from plugins.followup.planning.escalation import escalate
from plugins.followup.planning.generation import plan_visits
from plugins.followup.planning.plan_services import local_now, record_round
from plugins.followup.planning.setup import seed_defaults
from plugins.patients.models import Visit

HISTORY = timedelta(days=120)  # the rules apply to the demo visits of the last four months
# name, trigger, kind, department code, disease prefixes, offsets, method, category
DEMO_RULES = (
    ("骨科出院随访", "discharged", "inpatient", "ORTH", "", "1d, 7d, 30d", "phone", "post_discharge"),
    ("外科术后随访", "discharged", "inpatient", "SURG", "", "24h, 7d, 90d", "phone", "post_operative"),
    ("高血压慢病随访", "recorded", "outpatient", "", "I10", "14d, 90d", "phone", "chronic"),
    ("糖尿病慢病随访", "recorded", "outpatient", "", "E11", "30d, 180d", "wechat", "chronic"),
    ("内科复诊提醒", "recorded", "outpatient", "IM", "", "7d", "sms", "revisit"),
    ("生日祝福", "birthday", "", "", "", "9h", "sms", "birthday"),
)
RESULTS_REACHED = ("恢复良好，按时服药", "伤口愈合好，已拆线", "血压控制平稳", "偶有不适，已建议复诊", "对服务满意")
RESULTS_MISSED = ("无人接听", "电话关机", "家属接听，患者不在")


def _demo_rules() -> list[Rule]:
    methods = {m.code: m.id for m in db.session.execute(sa.select(Method)).scalars()}
    categories = {c.code: c.id for c in db.session.execute(sa.select(Category)).scalars()}
    departments = {d.code: d.id for d in db.session.execute(sa.select(Department)).scalars()}
    made = []
    for name, trigger, kind, dept, codes, offsets, method, category in DEMO_RULES:
        if dept and dept not in departments:
            continue
        try:
            rule = rules.create_rule({"name": name, "trigger": trigger, "visit_kind": kind,
                                      "department_id": departments.get(dept), "disease_codes": codes,
                                      "offsets": offsets, "method_id": methods[method],
                                      "category_id": categories[category], "assign_to": "doctor"})
        except rules.FollowupInvalid:  # e.g. a disease code missing from a trimmed catalogue
            continue
        rule.applies_from = local_now() - HISTORY
        made.append(rule)
    db.session.flush()
    return made


def _rounds(rng: random.Random, now: datetime) -> None:
    due = db.session.execute(sa.select(Plan).where(Plan.status == "pending", Plan.due_at < now - timedelta(days=1))
                             .order_by(Plan.due_at)).scalars().all()
    for plan in due:
        if rng.random() > 0.8:
            continue  # left overdue: the queue and the escalation have something to show
        reached = rng.random() < 0.8
        at = min(plan.due_at + timedelta(hours=rng.randint(1, 30)), now - timedelta(minutes=5))
        record_round(plan, {"at": at, "reached": reached, "outcome": "completed" if reached else "in_progress",
                            "result": rng.choice(RESULTS_REACHED if reached else RESULTS_MISSED)},
                     plan.owner_id)


def load(hospital) -> None:
    if db.session.execute(sa.select(Rule.id).limit(1)).first() is not None:
        return
    seed_defaults(hospital)
    if not _demo_rules():
        return
    now = local_now()
    visit_ids = db.session.execute(sa.select(Visit.id).where(
        sa.or_(Visit.visit_at >= now - HISTORY, Visit.discharge_at >= now - HISTORY))).scalars().all()
    plan_visits(hospital.id, visit_ids)
    plan_birthdays(hospital.id)  # as the daily job would: the coming week's greetings
    _rounds(random.Random(f"hcrm-followup-demo-{hospital.code}"), now)
    escalate(now)  # as the job would have: supervisors see the long-overdue ones flagged
    db.session.flush()
