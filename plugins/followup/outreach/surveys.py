"""满意度调查: recording a patient's answers to a questionnaire during a follow-up round.

``record_response(round, answers)`` is the contract the planning part (round form, API) uses:
every answer is checked against the questionnaire before anything is written, so a bad answer
leaves the database as it was; it does not commit (the caller's transaction decides).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_login import current_user

from core.events import emit
from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import Questionnaire, SurveyAnswer, SurveyResponse
from plugins.followup.outreach.validation import OutreachInvalid
from plugins.patients.public import Visit

MAX_TEXT_ANSWER = 2000


class SurveyInvalid(OutreachInvalid):
    """Answers refused; ``errors`` maps a question id (str) or a field to its message."""


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or (isinstance(value, list | tuple)
                                                                              and not value)


def _checked_answer(question, value):
    """(score, choices, text) for one answer; raises ValueError with the message."""
    if question.kind == "scale":
        if isinstance(value, bool):
            raise ValueError
        try:
            score = int(str(value).strip())
        except ValueError:
            raise ValueError(_("Choose a score from %(low)d to %(high)d.", low=question.scale_min,
                               high=question.scale_max)) from None
        if not question.scale_min <= score <= question.scale_max:
            raise ValueError(_("%(score)d is outside the scale: choose from %(low)d to %(high)d.", score=score,
                               low=question.scale_min, high=question.scale_max))
        return score, None, None
    if question.kind in ("single", "multiple"):
        chosen = [value] if isinstance(value, str) else list(value) if isinstance(value, list | tuple) else None
        if chosen is None or (question.kind == "single" and len(chosen) != 1):
            raise ValueError(_("Choose one option."))
        chosen = list(dict.fromkeys(str(c).strip() for c in chosen))
        offered = question.options or []
        foreign = [c for c in chosen if c not in offered]
        if foreign:
            raise ValueError(_("“%(choice)s” is not an option of this question (options: %(options)s).",
                               choice=foreign[0][:100], options=" / ".join(offered)))
        return None, [c for c in offered if c in chosen], None  # in the question's order
    text = str(value).strip()
    if len(text) > MAX_TEXT_ANSWER:
        raise ValueError(_("At most %(n)d characters.", n=MAX_TEXT_ANSWER))
    return None, None, text


def check_answers(questionnaire: Questionnaire, answers: dict) -> list[SurveyAnswer]:
    """The answers as SurveyAnswer rows (not added), or SurveyInvalid naming each problem."""
    errors: dict[str, str] = {}
    by_id = {item.question_id: item for item in questionnaire.items}
    given = {}
    for key, value in (answers or {}).items():
        try:
            qid = int(key)
        except (TypeError, ValueError):
            qid = None
        if qid not in by_id:
            errors[str(key)] = _("Question %(id)s is not part of this questionnaire.", id=str(key)[:20])
        else:
            given[qid] = value
    rows = []
    for item in questionnaire.items:
        value = given.get(item.question_id)
        if _empty(value):
            if item.required:
                errors[str(item.question_id)] = _("Answer this question.")
            continue
        try:
            score, choices, text = _checked_answer(item.question, value)
        except ValueError as exc:
            errors[str(item.question_id)] = str(exc) or _("This answer is not valid.")
            continue
        # Only the answer's own column is set: a JSON column given None would store JSON 'null'.
        given_columns = {k: v for k, v in (("score", score), ("choices", choices), ("text", text)) if v is not None}
        rows.append(SurveyAnswer(question_id=item.question_id, **given_columns))
    if errors:
        raise SurveyInvalid(errors)
    return rows


def questionnaire_of(round_) -> Questionnaire | None:
    plan = round_.plan
    if plan is None or not plan.questionnaire_id:
        return None
    return db.session.execute(sa.select(Questionnaire).where(Questionnaire.id == plan.questionnaire_id)).scalar_one_or_none()


def response_of(round_) -> SurveyResponse | None:
    return db.session.execute(sa.select(SurveyResponse).where(SurveyResponse.round_id == round_.id)).scalar_one_or_none()


def _visit_of(plan, at):
    """The visit the survey is about: the plan's, else the patient's latest before the round."""
    if plan.visit_id:
        return plan.visit
    return db.session.execute(sa.select(Visit).where(Visit.patient_id == plan.patient_id, Visit.visit_at <= at,
                                                     Visit.status != "cancelled")
                              .order_by(Visit.visit_at.desc()).limit(1)).scalar_one_or_none()


def doctor_name(visit) -> str | None:
    """The visit's doctor as it names them: HIS visits often carry a name and no user."""
    if visit is None:
        return None
    return visit.doctor_name or (visit.doctor.display_name if visit.doctor_id else None)


def record_response(round_, answers: dict, *, questionnaire: Questionnaire | None = None) -> SurveyResponse:
    """Record ``answers`` (question id → int for a scale, str for single choice, list[str] for
    multiple choice, str for text) given in ``round_`` to its plan's questionnaire (or
    ``questionnaire``). Raises SurveyInvalid and writes nothing when an answer is refused, the
    patient was not reached, or the round already has its survey. Does not commit."""
    questionnaire = questionnaire or questionnaire_of(round_)
    if questionnaire is None:
        raise SurveyInvalid({"questionnaire": _("This follow-up asks no questionnaire.")})
    if not round_.reached:
        raise SurveyInvalid({"round": _("The patient was not reached in this round: there are no answers to record.")})
    if response_of(round_) is not None:
        raise SurveyInvalid({"round": _("The survey of this round is already recorded.")})
    rows = check_answers(questionnaire, answers)
    plan = round_.plan
    visit = _visit_of(plan, round_.at)
    user_id = round_.user_id or (current_user.id if getattr(current_user, "is_authenticated", False) else None)
    response = SurveyResponse(questionnaire_id=questionnaire.id, patient_id=round_.patient_id, plan_id=plan.id,
                              round_id=round_.id, user_id=user_id,
                              department_id=(visit.department_id if visit else None) or plan.department_id,
                              doctor_id=visit.doctor_id if visit else None, doctor_name=doctor_name(visit),
                              answered_at=round_.at, answers=rows)
    db.session.add(response)
    db.session.flush()
    _announce(response, questionnaire, plan)
    return response


def _announce(response: SurveyResponse, questionnaire: Questionnaire, plan) -> None:
    """Tell the hospital's other plugins (the complaints plugin opens a complaint on a low score)."""
    questions = {item.question_id: item.question for item in questionnaire.items}
    answers = []
    for answer in response.answers:
        question = questions.get(answer.question_id)
        answers.append({"question": question.text if question else None, "kind": question.kind if question else None,
                        "score": answer.score, "scale_min": question.scale_min if question else None,
                        "scale_max": question.scale_max if question else None, "text": answer.text,
                        "choices": answer.choices})
    emit("followup.survey_recorded", payload={
        "response_id": response.id, "round_id": response.round_id, "plan_id": response.plan_id,
        "patient_id": response.patient_id, "department_id": response.department_id,
        "doctor_id": response.doctor_id, "doctor_name": response.doctor_name,
        "questionnaire": questionnaire.name, "answers": answers}, response=response)
