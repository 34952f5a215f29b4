"""Survey pages: the question bank, questionnaires, answering during a round, statistics."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.clock import local_today
from core.extensions import db
from core.i18n import gettext as _
from core.permissions import require
from core.tenancy import get_or_404
from plugins.followup.models import Question, Questionnaire, Round, SurveyResponse
from plugins.followup.outreach import survey_bank, survey_stats, surveys
from plugins.followup.outreach.forms import KIND_LABELS, QuestionForm, QuestionnaireForm, day_arg, map_errors
from plugins.followup.outreach.validation import OutreachInvalid
from plugins.followup.planning.plan_services import patient_briefs

TEMPLATES = str(Path(__file__).resolve().parent.parent / "templates")
bp = Blueprint("followup_surveys", __name__, url_prefix="/followup/surveys", template_folder=TEMPLATES,
               static_folder="static", static_url_path="/static")


@bp.context_processor
def survey_helpers():
    return dict(KIND_LABELS=KIND_LABELS)


def _code(form) -> int:
    return 400 if form.errors or form.form_errors else 200


# -- the question bank --------------------------------------------------------------------------
@bp.route("/questions")
@require("followup.surveys")
def questions():
    return render_template("followup/outreach/questions.html", questions=survey_bank.questions())


@bp.route("/questions/new", methods=["GET", "POST"], defaults={"question_id": None})
@bp.route("/questions/<int:question_id>", methods=["GET", "POST"])
@require("followup.surveys")
def question_form(question_id):
    question = get_or_404(Question, question_id) if question_id else None
    form = QuestionForm(obj=question) if request.method == "GET" else QuestionForm()
    if question is not None and request.method == "GET":
        form.options.data = "\n".join(question.options or [])
    if request.method == "POST":
        try:
            survey_bank.save_question(request.form | {"active": form.active.data}, question)
        except OutreachInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        else:
            flash(_("Question saved."), "success")
            return redirect(url_for("followup_surveys.questions"))
    return render_template("followup/outreach/question_form.html", form=form, question=question,
                           answered=question is not None and survey_bank.has_answers(question)), _code(form)


# -- questionnaires -----------------------------------------------------------------------------
@bp.route("/")
@require("followup.surveys")
def questionnaires():
    return render_template("followup/outreach/questionnaires.html", questionnaires=survey_bank.questionnaires())


def _items_from(form_data) -> list[dict]:
    """The chosen questions in the order typed next to them (ties: bank order)."""
    chosen = []
    for index, qid in enumerate(form_data.getlist("question_id")):
        if form_data.get(f"include_{qid}"):
            order = form_data.get(f"order_{qid}", type=int)
            chosen.append((order if order is not None else 1000 + index, index,
                           {"question_id": qid, "required": bool(form_data.get(f"required_{qid}"))}))
    return [item for _order, _index, item in sorted(chosen, key=lambda c: (c[0], c[1]))]


@bp.route("/new", methods=["GET", "POST"], defaults={"questionnaire_id": None})
@bp.route("/<int:questionnaire_id>", methods=["GET", "POST"])
@require("followup.surveys")
def questionnaire_form(questionnaire_id):
    questionnaire = get_or_404(Questionnaire, questionnaire_id) if questionnaire_id else None
    form = QuestionnaireForm(obj=questionnaire) if request.method == "GET" else QuestionnaireForm()
    items = {item.question_id: item for item in questionnaire.items} if questionnaire else {}
    if request.method == "POST":
        items_given = _items_from(request.form)
        try:
            survey_bank.save_questionnaire(request.form | {"active": form.active.data, "items": items_given},
                                           questionnaire)
        except OutreachInvalid as exc:
            db.session.rollback()
            map_errors(form, exc.errors)
        else:
            flash(_("Questionnaire saved."), "success")
            return redirect(url_for("followup_surveys.questionnaires"))
        items = {int(i["question_id"]): dict(position=n, required=i["required"]) for n, i in enumerate(items_given)
                 if str(i["question_id"]).isdigit()}
    bank = [q for q in survey_bank.questions() if q.active or q.id in items]
    return render_template("followup/outreach/questionnaire_form.html", form=form, questionnaire=questionnaire,
                           bank=bank, items=items), _code(form)


# -- answering during a round -------------------------------------------------------------------
def _answers_from(form_data, questionnaire) -> dict:
    answers = {}
    for item in questionnaire.items:
        key = f"q_{item.question_id}"
        if item.question.kind == "multiple":
            answers[str(item.question_id)] = form_data.getlist(key)
        else:
            answers[str(item.question_id)] = form_data.get(key)
    return answers


def _safe_next(default: str) -> str:
    target = request.values.get("next") or ""
    parts = urlsplit(target)
    return target if target.startswith("/") and not target.startswith("//") and not parts.netloc else default


@bp.route("/rounds/<int:round_id>", methods=["GET", "POST"])
@require("followup.create")
def answer(round_id):
    round_ = get_or_404(Round, round_id)  # visible with its plan only: another user's round is a 404
    plan = round_.plan
    # Whom the round called: the assignee may work a plan whose patient record their scope hides.
    patient = patient_briefs([round_.patient_id]).get(round_.patient_id)
    questionnaire = surveys.questionnaire_of(round_)
    if questionnaire is None:
        chosen = request.values.get("questionnaire_id", type=int)
        questionnaire = get_or_404(Questionnaire, chosen) if chosen else None
    done = surveys.response_of(round_)
    back = _safe_next(url_for("patients.patient", patient_id=round_.patient_id, tab="followup.surveys"))
    errors, given = {}, {}
    if request.method == "POST":
        if questionnaire is None:
            abort(400, description=_("Choose a questionnaire."))
        given = _answers_from(request.form, questionnaire)
        try:
            surveys.record_response(round_, given, questionnaire=questionnaire)
        except surveys.SurveyInvalid as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            db.session.commit()
            flash(_("Survey answers recorded."), "success")
            return redirect(back)
    return render_template("followup/outreach/answer.html", round=round_, plan=plan, patient=patient,
                           questionnaire=questionnaire,
                           done=done, errors=errors, given=given, back=back,
                           choices=survey_bank.questionnaires(active_only=True)), 400 if errors else 200


# -- statistics ---------------------------------------------------------------------------------
@bp.route("/stats")
@require("followup.surveys")
def stats():
    errors: list[str] = []
    since = day_arg(request.args, "since", errors, local_today() - timedelta(days=90))
    until = day_arg(request.args, "until", errors, local_today())
    if since and until and since > until:
        errors.append(_("The period ends before it starts."))
    all_questionnaires = survey_bank.questionnaires()
    questionnaire_id = request.args.get("questionnaire_id", type=int) or (all_questionnaires[0].id
                                                                          if all_questionnaires else None)
    questionnaire = get_or_404(Questionnaire, questionnaire_id) if questionnaire_id else None
    blocks, by_department, by_doctor, by_month = [], [], [], []
    if questionnaire is not None and not errors:
        summary = {row["question_id"]: row for row in survey_stats.question_summary(since, until, questionnaire.id)}
        for item in questionnaire.items:
            question = item.question
            blocks.append(dict(question=question, summary=summary.get(question.id),
                               distribution=survey_stats.distribution(question, since, until, questionnaire.id),
                               texts=survey_stats.latest_texts(question, since, until, questionnaire.id)
                               if question.kind == "text" else []))
        by_department = survey_stats.scores_by("department", since, until, questionnaire.id)
        by_doctor = survey_stats.scores_by("doctor", since, until, questionnaire.id)
        by_month = survey_stats.scores_by("month", since, until, questionnaire.id)
    responses = sum(row["responses"] for row in by_month)
    return render_template("followup/outreach/stats.html", questionnaires=all_questionnaires,
                           questionnaire=questionnaire, since=since, until=until, errors=errors, blocks=blocks,
                           by_department=by_department, by_doctor=by_doctor, by_month=by_month,
                           responses=responses), 400 if errors else 200


@bp.route("/responses/<int:response_id>")
@require("followup.read")
def response(response_id):
    record = get_or_404(SurveyResponse, response_id)
    questions = {q.id: q for q in db.session.execute(
        sa.select(Question).where(Question.id.in_([a.question_id for a in record.answers]))).scalars()}
    return render_template("followup/outreach/response.html", response=record, questions=questions)
