"""Each patient's satisfaction from their survey answers, for other plugins (the published hook
``followup_satisfaction``): the mean of their scale answers as a percentage of each scale."""
from __future__ import annotations

import sqlalchemy as sa

from plugins.followup.models import Question, SurveyAnswer, SurveyResponse
from plugins.followup.outreach.survey_stats import percent


def by_patient(hospital_id: int):
    """SELECT (patient_id, satisfaction 0–100) for the hospital's patients with scale answers."""
    return (sa.select(SurveyResponse.patient_id.label("patient_id"), sa.func.avg(percent()).label("satisfaction"))
            .join(SurveyAnswer, SurveyAnswer.response_id == SurveyResponse.id)
            .join(Question, Question.id == SurveyAnswer.question_id)
            .where(SurveyResponse.hospital_id == hospital_id, Question.kind == "scale",
                   SurveyAnswer.score.is_not(None))
            .group_by(SurveyResponse.patient_id))
