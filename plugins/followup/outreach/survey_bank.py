"""题库 and 问卷: the question bank and questionnaires assembled from it.

Statistics must stay true to what patients answered, so a question that has answers keeps its
kind, scale and options (new options may be added; reword the text freely); to ask something
else, add a new question and deactivate the old one.
"""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import QUESTION_KINDS, Question, Questionnaire, QuestionnaireItem, SurveyAnswer
from plugins.followup.outreach import validation
from plugins.followup.outreach.validation import OutreachInvalid

MAX_OPTIONS = 20
MAX_OPTION = 100
SCALE_LIMITS = (0, 100)
MAX_SCALE_STEPS = 11  # 0–10 is the widest scale a patient can answer on the phone


def _options(raw) -> list[str]:
    if isinstance(raw, str):
        raw = raw.splitlines()
    return [str(o).strip() for o in (raw or []) if str(o).strip()]


def _int(value, field: str, errors: dict) -> int | None:
    if value in (None, ""):
        errors[field] = _("Enter a whole number.")
        return None
    try:
        return int(str(value).strip())
    except ValueError:
        errors[field] = _("Enter a whole number.")
        return None


def has_answers(question: Question) -> bool:
    return db.session.execute(sa.select(SurveyAnswer.id).where(SurveyAnswer.question_id == question.id)
                              .limit(1)).first() is not None


def clean_question(data: dict, current: Question | None = None) -> dict:
    errors: dict[str, str] = {}
    text = validation.text(data.get("text"), "text", errors, limit=500, required=_("Write the question."))
    kind = data.get("kind") or ""
    values = dict(text=text, kind=kind, options=None, scale_min=None, scale_max=None,
                  active=validation.flag(data.get("active", True)))
    if kind not in QUESTION_KINDS:
        errors["kind"] = _("The kind is single choice, multiple choice, scale or free text.")
    elif kind in ("single", "multiple"):
        options = _options(data.get("options"))
        if len(options) < 2:
            errors["options"] = _("Give at least two options, one per line.")
        elif len(options) > MAX_OPTIONS:
            errors["options"] = _("At most %(n)d options.", n=MAX_OPTIONS)
        elif len(set(options)) != len(options):
            errors["options"] = _("Each option may appear only once.")
        elif any(len(o) > MAX_OPTION for o in options):
            errors["options"] = _("An option has at most %(n)d characters.", n=MAX_OPTION)
        values["options"] = options
    elif kind == "scale":
        low, high = _int(data.get("scale_min"), "scale_min", errors), _int(data.get("scale_max"), "scale_max", errors)
        if low is not None and high is not None:
            if not (SCALE_LIMITS[0] <= low < high <= SCALE_LIMITS[1]):
                errors["scale_max"] = _("The scale runs from a lower to a higher number between %(a)d and %(b)d.",
                                        a=SCALE_LIMITS[0], b=SCALE_LIMITS[1])
            elif high - low + 1 > MAX_SCALE_STEPS:
                errors["scale_max"] = _("A scale has at most %(n)d points.", n=MAX_SCALE_STEPS)
        values.update(scale_min=low, scale_max=high)
    if current is not None and not errors and has_answers(current):
        if kind != current.kind or (kind == "scale" and (values["scale_min"], values["scale_max"])
                                     != (current.scale_min, current.scale_max)):
            errors["kind"] = _("This question has answers: its kind and scale stay. Add a new question instead.")
        elif kind in ("single", "multiple") and not set(current.options or []) <= set(values["options"]):
            errors["options"] = _("This question has answers: its options may be added to, not removed or renamed.")
    if errors:
        raise OutreachInvalid(errors)
    return values


def save_question(data: dict, question: Question | None = None) -> Question:
    values = clean_question(data, question)
    return validation.store(question or Question(), values)


def questions(active_only: bool = False) -> list[Question]:
    stmt = sa.select(Question)
    if active_only:
        stmt = stmt.where(Question.active.is_(True))
    return db.session.execute(stmt.order_by(Question.active.desc(), Question.id)).scalars().all()


# -- questionnaires -----------------------------------------------------------------------------
def _items(raw, errors: dict) -> list[tuple[int, bool]]:
    """(question id, required) pairs in order, from [{"question_id", "required"}] or ids."""
    items, seen = [], set()
    for entry in raw or []:
        qid = entry.get("question_id") if isinstance(entry, dict) else entry
        required = validation.flag(entry.get("required", True)) if isinstance(entry, dict) else True
        try:
            qid = int(qid)
        except (TypeError, ValueError):
            errors["items"] = _("Choose questions from the bank.")
            return []
        if qid not in seen:
            seen.add(qid)
            items.append((qid, required))
    if not items:
        errors["items"] = _("Choose at least one question.")
        return []
    known = set(db.session.execute(sa.select(Question.id).where(Question.id.in_(seen), Question.active.is_(True)))
                .scalars())
    unknown = [str(q) for q, _r in items if q not in known]
    if unknown:
        errors["items"] = _("Unknown or inactive question(s): %(ids)s.", ids=", ".join(unknown))
    return items


def save_questionnaire(data: dict, questionnaire: Questionnaire | None = None) -> Questionnaire:
    errors: dict[str, str] = {}
    name = validation.text(data.get("name"), "name", errors, limit=100, required=_("Name the questionnaire."))
    description = validation.text(data.get("description"), "description", errors, limit=2000)
    items = _items(data.get("items"), errors)
    if errors:
        raise OutreachInvalid(errors)
    questionnaire = questionnaire or Questionnaire()
    questionnaire.name, questionnaire.description = name, description or None
    questionnaire.active = validation.flag(data.get("active", True))
    existing = {item.question_id: item for item in questionnaire.items}
    questionnaire.items = [existing.get(qid) or QuestionnaireItem(question_id=qid) for qid, _r in items]
    for position, (item, (_qid, required)) in enumerate(zip(questionnaire.items, items, strict=True)):
        item.position, item.required = position, required
    db.session.add(questionnaire)
    db.session.commit()
    return questionnaire


def questionnaires(active_only: bool = False) -> list[Questionnaire]:
    stmt = sa.select(Questionnaire)
    if active_only:
        stmt = stmt.where(Questionnaire.active.is_(True))
    return db.session.execute(stmt.order_by(Questionnaire.active.desc(), Questionnaire.name)).scalars().all()
