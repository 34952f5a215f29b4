"""Demonstration outreach data for ``hcrm init --demo``: SMS sent to demo patients over the last
months (a few failed and waiting ones), and satisfaction survey responses with varied scores per
department and doctor, so the SMS log, the patient tabs and the statistics show something.

Responses use the planning part's reached rounds when its demo made some; otherwise they stand
alone (no round), dated like the visits they are about. Reproducible per hospital code.
"""
from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.models import utcnow
from plugins.followup.models import Questionnaire, Round, SmsMessage, SmsTemplate, SurveyResponse
from plugins.followup.outreach import sms
from plugins.followup.outreach.setup import QUESTIONNAIRE_NAME, seed_defaults
from plugins.followup.outreach.surveys import check_answers, doctor_name
from plugins.followup.outreach.templating import render_template_for
from plugins.patients.public import Patient, Visit

MESSAGES = 60
RESPONSES = 120
COMMENTS = ("医生很耐心,谢谢!", "等候时间有点长,希望改进。", "护士态度很好。", "病房很干净。", "停车不方便。",
            "检查排队太久。", "")


def _sms(rng: random.Random, patients: list[Patient], now: datetime) -> None:
    templates = [t for t in db.session.execute(sa.select(SmsTemplate)).scalars() if "{due_" not in t.body]
    # Oldest first, so the log (newest first by id) reads in time order.
    ages = sorted((rng.randint(0, 120 * 24 * 60) for _ in range(MESSAGES)), reverse=True)
    for i, age in enumerate(ages):
        patient = rng.choice(patients)
        template = rng.choice(templates)
        message = SmsMessage(patient_id=patient.id, template_id=template.id, phone=sms.mobile_of(patient),
                             body=sms.signed(render_template_for(template, patient), sms.signature()),
                             created_at=now - timedelta(minutes=age))
        roll = rng.random()
        if roll < 0.85:
            message.status, message.attempts, message.gateway = "sent", 1, "outbox"
            message.sent_at, message.gateway_ref = message.created_at + timedelta(minutes=1), f"demo-{i}"
        elif roll < 0.95:
            message.status, message.attempts, message.gateway = "failed", 3, "outbox"
            message.error = "号码为空号 (demo)"
        else:
            message.status = "queued"
            message.scheduled_at = local_now().replace(second=0) + timedelta(days=rng.randint(1, 5))
        db.session.add(message)


def _answers(rng: random.Random, questionnaire: Questionnaire, drift: float) -> dict:
    answers = {}
    for item in questionnaire.items:
        question = item.question
        if question.kind == "scale":
            mark = round(rng.gauss(question.scale_max - 0.9 + drift, 0.8))
            answers[question.id] = min(question.scale_max, max(question.scale_min, mark))
        elif question.kind == "single":
            answers[question.id] = rng.choices(question.options, weights=[6, 2, 1][:len(question.options)]
                                               + [1] * max(0, len(question.options) - 3))[0]
        elif question.kind == "multiple":
            answers[question.id] = rng.sample(question.options, rng.randint(1, len(question.options)))
        else:
            answers[question.id] = rng.choice(COMMENTS)
    return answers


def _responses(rng: random.Random, questionnaire: Questionnaire, now: datetime) -> None:
    rounds = db.session.execute(sa.select(Round).where(Round.reached.is_(True),
                                                       Round.id.not_in(sa.select(SurveyResponse.round_id)
                                                                       .where(SurveyResponse.round_id.is_not(None))))
                                .limit(RESPONSES)).scalars().all()
    visits = db.session.execute(sa.select(Visit).where(Visit.status != "cancelled", Visit.department_id.is_not(None))
                                .order_by(Visit.id).limit(RESPONSES * 3)).scalars().all()
    moods = {}
    for i in range(RESPONSES):
        round_ = rounds[i] if i < len(rounds) else None
        visit = round_.plan.visit if round_ is not None and round_.plan.visit_id else rng.choice(visits) if visits else None
        if visit is None and round_ is None:
            return
        department_id = visit.department_id if visit else round_.plan.department_id
        drift = moods.setdefault(department_id, rng.uniform(-0.9, 0.3))
        answered = round_.at if round_ is not None else min(visit.visit_at + timedelta(days=rng.randint(2, 20)), now)
        db.session.add(SurveyResponse(
            questionnaire_id=questionnaire.id, patient_id=round_.patient_id if round_ else visit.patient_id,
            plan_id=round_.plan_id if round_ else None, round_id=round_.id if round_ else None,
            user_id=round_.user_id if round_ else None, department_id=department_id,
            doctor_id=visit.doctor_id if visit else None, doctor_name=doctor_name(visit), answered_at=answered,
            answers=check_answers(questionnaire, _answers(rng, questionnaire, drift))))


def load(hospital) -> None:
    seed_defaults(hospital)
    if db.session.execute(sa.select(SmsMessage.id).limit(1)).first() is not None:
        return  # already loaded
    rng = random.Random(f"outreach-{hospital.code}")
    patients = [p for p in db.session.execute(sa.select(Patient).order_by(Patient.id).limit(400)).scalars()
                if sms.mobile_of(p)]
    if not patients:
        return
    now = local_now()
    _sms(rng, patients, utcnow())
    questionnaire = db.session.execute(sa.select(Questionnaire).where(Questionnaire.name == QUESTIONNAIRE_NAME)
                                       ).scalar_one_or_none()
    if questionnaire is not None:
        _responses(rng, questionnaire, now)
    db.session.flush()
