"""Survey statistics (调查结果统计): per question, department, doctor and month.

Scales differ (1–5, 0–10), so scores are compared as a satisfaction percentage:
(score − min) / (max − min) × 100 — 100 % is the best mark of every scale. Every figure is
aggregated by the database; the queries run in the caller's tenancy scope.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from core.clock import local_today
from core.declarations import Chart, Report, ReportParam, ReportResult
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import Department, User
from plugins.followup.models import Question, Questionnaire, SurveyAnswer, SurveyResponse
from plugins.patients.public import month_of

PERMISSION = "followup.surveys"
GROUPS = (("department", _l("Department")), ("doctor", _l("Doctor")), ("month", _l("Month")),
          ("questionnaire", _l("Questionnaire")))
TEXT_SAMPLE = 10


def percent():
    """An answer's score as a percentage of its scale (SQL)."""
    return ((SurveyAnswer.score - Question.scale_min) * 100.0
            / sa.func.nullif(Question.scale_max - Question.scale_min, 0))


def period(since: date | None, until: date | None):
    conditions = []
    if since:
        conditions.append(SurveyResponse.answered_at >= datetime.combine(since, time()))
    if until:
        conditions.append(SurveyResponse.answered_at < datetime.combine(until, time()) + timedelta(days=1))
    return sa.and_(sa.true(), *conditions)


def _rounded(value, digits: int = 1):
    return round(float(value), digits) if value is not None else None


def scores_by(group: str, since=None, until=None, questionnaire_id: int | None = None) -> list[dict]:
    """Responses and mean satisfaction % per department / doctor / month / questionnaire."""
    if group == "department":
        label, joins = sa.func.coalesce(Department.name, "—"), [(Department, Department.id == SurveyResponse.department_id)]
    elif group == "doctor":
        label = sa.func.coalesce(User.display_name, SurveyResponse.doctor_name, "—")
        joins = [(User, User.id == SurveyResponse.doctor_id)]
    elif group == "questionnaire":
        label, joins = Questionnaire.name, [(Questionnaire, Questionnaire.id == SurveyResponse.questionnaire_id)]
    else:
        label, joins = month_of(SurveyResponse.answered_at), []
    scored = (sa.select(SurveyAnswer.response_id, sa.func.avg(percent()).label("pct"))
              .join(Question, Question.id == SurveyAnswer.question_id)
              .where(Question.kind == "scale", SurveyAnswer.score.is_not(None))
              .group_by(SurveyAnswer.response_id).subquery())
    stmt = sa.select(label.label("label"), sa.func.count(SurveyResponse.id).label("responses"),
                     sa.func.avg(scored.c.pct).label("pct")).select_from(SurveyResponse)
    for target, on in joins:
        stmt = stmt.outerjoin(target, on)
    stmt = stmt.outerjoin(scored, scored.c.response_id == SurveyResponse.id).where(period(since, until))
    if questionnaire_id:
        stmt = stmt.where(SurveyResponse.questionnaire_id == questionnaire_id)
    rows = db.session.execute(stmt.group_by(label).order_by(label)).all()
    return [{"group": row.label, "responses": row.responses, "satisfaction": _rounded(row.pct)} for row in rows]


def question_summary(since=None, until=None, questionnaire_id: int | None = None) -> list[dict]:
    """Per question: answers, mean score and satisfaction % (scales), the most chosen option."""
    stmt = (sa.select(Question.id, Question.text, Question.kind, sa.func.count(SurveyAnswer.id).label("answers"),
                      sa.func.avg(SurveyAnswer.score).label("mean"), sa.func.avg(percent()).label("pct"))
            .select_from(SurveyAnswer)
            .join(Question, Question.id == SurveyAnswer.question_id)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(period(since, until)).group_by(Question.id, Question.text, Question.kind).order_by(Question.id))
    if questionnaire_id:
        stmt = stmt.where(SurveyResponse.questionnaire_id == questionnaire_id)
    rows = db.session.execute(stmt).all()
    tops = _top_options(since, until, questionnaire_id)
    return [{"question_id": r.id, "question": r.text, "kind": r.kind, "answers": r.answers,
             "mean": _rounded(r.mean, 2), "satisfaction": _rounded(r.pct),
             "top_option": tops.get(r.id, ("", None))[0], "top_share": tops.get(r.id, ("", None))[1]} for r in rows]


def _choice_counts(since, until, questionnaire_id) -> dict[int, Counter]:
    """Option counts of the choice questions. Choices are a JSON list per answer, so they are
    counted in Python over the (few thousand) choice answers of the period."""
    stmt = (sa.select(SurveyAnswer.question_id, SurveyAnswer.choices)
            .join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(SurveyAnswer.choices.is_not(None), period(since, until)))
    if questionnaire_id:
        stmt = stmt.where(SurveyResponse.questionnaire_id == questionnaire_id)
    counts: dict[int, Counter] = {}
    for question_id, choices in db.session.execute(stmt):
        counts.setdefault(question_id, Counter()).update(choices or [])
    return counts


def _top_options(since, until, questionnaire_id) -> dict[int, tuple[str, float]]:
    answers = dict(db.session.execute(
        sa.select(SurveyAnswer.question_id, sa.func.count()).join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
        .where(SurveyAnswer.choices.is_not(None), period(since, until),
               SurveyResponse.questionnaire_id == questionnaire_id if questionnaire_id else sa.true())
        .group_by(SurveyAnswer.question_id)).all())
    tops = {}
    for question_id, counter in _choice_counts(since, until, questionnaire_id).items():
        if counter:
            option, count = counter.most_common(1)[0]
            tops[question_id] = (option, round(count * 100.0 / answers[question_id], 1) if answers.get(question_id) else None)
    return tops


def distribution(question: Question, since=None, until=None, questionnaire_id: int | None = None) -> list[tuple[str, int]]:
    """(option or score, answers) for one question, every option/score listed even at zero."""
    if question.kind == "scale":
        stmt = (sa.select(SurveyAnswer.score, sa.func.count()).join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
                .where(SurveyAnswer.question_id == question.id, period(since, until)).group_by(SurveyAnswer.score))
        if questionnaire_id:
            stmt = stmt.where(SurveyResponse.questionnaire_id == questionnaire_id)
        found = dict(db.session.execute(stmt).all())
        return [(str(score), found.get(score, 0)) for score in range(question.scale_min, question.scale_max + 1)]
    if question.kind in ("single", "multiple"):
        counter = _choice_counts(since, until, questionnaire_id).get(question.id, Counter())
        return [(option, counter.get(option, 0)) for option in question.options or []]
    return []


def latest_texts(question: Question, since=None, until=None, questionnaire_id=None, limit: int = TEXT_SAMPLE) -> list[str]:
    stmt = (sa.select(SurveyAnswer.text).join(SurveyResponse, SurveyResponse.id == SurveyAnswer.response_id)
            .where(SurveyAnswer.question_id == question.id, SurveyAnswer.text.is_not(None), period(since, until))
            .order_by(SurveyResponse.answered_at.desc()).limit(limit))
    if questionnaire_id:
        stmt = stmt.where(SurveyResponse.questionnaire_id == questionnaire_id)
    return list(db.session.execute(stmt).scalars())


# -- core reports -------------------------------------------------------------------------------
def _default_since():
    return local_today() - timedelta(days=90)


PERIOD_PARAMS = (ReportParam("since", _l("From"), "date", default=_default_since),
                 ReportParam("until", _l("To"), "date", default=local_today))


def scores_report(params) -> ReportResult:
    group = params.get("group") or "department"
    label = dict(GROUPS).get(group, _l("Department"))
    rows = scores_by(group, params.get("since"), params.get("until"))
    return ReportResult(columns=[("group", label), ("responses", _l("Responses")),
                                 ("satisfaction", _l("Satisfaction (0–100)"))], rows=rows)


def questions_report(params) -> ReportResult:
    rows = question_summary(params.get("since"), params.get("until"))
    kinds = {"single": _("Single choice"), "multiple": _("Multiple choice"), "scale": _("Scale"), "text": _("Free text")}
    for row in rows:
        row["kind"] = kinds.get(row["kind"], row["kind"])
        row.pop("question_id")
    return ReportResult(columns=[("question", _l("Question")), ("kind", _l("Kind")), ("answers", _l("Answers")),
                                 ("mean", _l("Mean score")), ("satisfaction", _l("Satisfaction (0–100)")),
                                 ("top_option", _l("Most chosen option")), ("top_share", _l("Its share of the answers (0–100)"))],
                        rows=rows)


def reports() -> list[Report]:
    return [
        Report("followup.survey_scores", _l("Satisfaction scores"), PERMISSION, query=scores_report,
               params=[ReportParam("group", _l("Per"), "choice", default="department", choices=GROUPS), *PERIOD_PARAMS],
               chart=Chart("bar", x="group", y=("satisfaction",)),
               description=_l("Survey responses and the mean satisfaction (0–100, 100 being the best mark of every scale) "
                              "per department, doctor, month or questionnaire.")),
        Report("followup.survey_questions", _l("Survey answers per question"), PERMISSION, query=questions_report,
               params=list(PERIOD_PARAMS), chart=Chart("bar", x="question", y=("satisfaction",)),
               description=_l("Answers per survey question: mean score and satisfaction (0–100) of scales, the most "
                              "chosen option of choice questions.")),
    ]
