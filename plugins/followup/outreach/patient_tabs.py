"""Tabs on the patient page: the patient's SMS log and survey responses."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from markupsafe import Markup

from core.extensions import db
from plugins.followup.models import Question, SmsMessage, SurveyAnswer, SurveyResponse
from plugins.followup.outreach import sms
from plugins.followup.outreach.forms import STATUS_LABELS
from plugins.followup.outreach.survey_stats import percent
from plugins.patients import public as patient_services
from plugins.patients.public import mask_phone

PANEL_ROWS = 20


def render_sms_panel(patient):
    messages = db.session.execute(sa.select(SmsMessage).where(SmsMessage.patient_id == patient.id)
                                  .order_by(SmsMessage.id.desc()).limit(PANEL_ROWS + 1)).scalars().all()
    reveal = patient_services.may_see_sensitive()
    return Markup(render_template("followup/outreach/_sms_panel.html", patient=patient, messages=messages[:PANEL_ROWS],
                                  more=len(messages) > PANEL_ROWS, mobile=sms.mobile_of(patient),
                                  SMS_STATUS=STATUS_LABELS,
                                  shown_number=lambda phone: phone if reveal else mask_phone(phone)))


def render_survey_panel(patient):
    responses = db.session.execute(sa.select(SurveyResponse).where(SurveyResponse.patient_id == patient.id)
                                   .order_by(SurveyResponse.answered_at.desc()).limit(PANEL_ROWS)).scalars().all()
    if not responses:
        return None
    satisfaction = dict(db.session.execute(
        sa.select(SurveyAnswer.response_id, sa.func.avg(percent()))
        .join(Question, Question.id == SurveyAnswer.question_id)
        .where(SurveyAnswer.response_id.in_([r.id for r in responses]), Question.kind == "scale")
        .group_by(SurveyAnswer.response_id)).all())
    return Markup(render_template("followup/outreach/_survey_panel.html", patient=patient, responses=responses,
                                  satisfaction={k: round(float(v)) for k, v in satisfaction.items() if v is not None}))
