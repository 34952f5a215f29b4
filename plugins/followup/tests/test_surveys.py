"""Satisfaction surveys: question bank, questionnaires, answers during a round, statistics."""
import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.followup.models import Question, Questionnaire, Round, SurveyAnswer, SurveyResponse
from plugins.followup.outreach import survey_bank, survey_stats, surveys
from plugins.followup.outreach.setup import QUESTIONNAIRE_NAME, move_patient_rows
from plugins.followup.outreach.validation import OutreachInvalid
from plugins.followup.tests.outreach_fixtures import hospital, plan_and_round
from plugins.patients.public import Patient


def default_questionnaire():
    return db.session.execute(sa.select(Questionnaire).where(Questionnaire.name == QUESTIONNAIRE_NAME)).scalar_one()


def ids_by_kind(questionnaire):
    found = {}
    for item in questionnaire.items:
        found.setdefault(item.question.kind, []).append(item.question_id)
    return found


def good_answers(questionnaire, score=5):
    kinds = ids_by_kind(questionnaire)
    answers = {q: score for q in kinds["scale"]}
    answers[kinds["single"][0]] = "愿意"
    return answers


def count(model):
    return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar()


def test_question_bank_validation(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        for data, field in [({"text": "", "kind": "text"}, "text"), ({"text": "Q", "kind": "essay"}, "kind"),
                            ({"text": "Q", "kind": "single", "options": "only one"}, "options"),
                            ({"text": "Q", "kind": "multiple", "options": "a\na"}, "options"),
                            ({"text": "Q", "kind": "scale", "scale_min": "5", "scale_max": "1"}, "scale_max"),
                            ({"text": "Q", "kind": "scale", "scale_min": "0", "scale_max": "20"}, "scale_max"),
                            ({"text": "Q", "kind": "scale", "scale_min": "x", "scale_max": "5"}, "scale_min")]:
            with pytest.raises(OutreachInvalid) as caught:
                survey_bank.save_question(data)
            assert field in caught.value.errors, data
        question = survey_bank.save_question({"text": "哪些方面需改进?", "kind": "multiple", "options": "停车\n饮食\n等候"})
        assert question.options == ["停车", "饮食", "等候"]


def test_answered_question_keeps_kind_and_options(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        questionnaire = default_questionnaire()
        plan_id, round_id = plan_and_round("A", outreach["zhang"], questionnaire_id=questionnaire.id)
        surveys.record_response(db.session.get(Round, round_id), good_answers(questionnaire))
        db.session.commit()
        single = db.session.get(Question, ids_by_kind(questionnaire)["single"][0])
        with pytest.raises(OutreachInvalid, match="options may be added"):
            survey_bank.save_question({"text": single.text, "kind": "single", "options": "是\n否"}, single)
        db.session.rollback()
        with pytest.raises(OutreachInvalid, match="kind and scale stay"):
            survey_bank.save_question({"text": single.text, "kind": "text"}, single)
        db.session.rollback()
        survey_bank.save_question({"text": "是否推荐?", "kind": "single", "options": "愿意\n不确定\n不愿意\n看情况"}, single)
        assert single.options[-1] == "看情况"


def test_questionnaire_assembly(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        first = survey_bank.save_question({"text": "A?", "kind": "text"})
        second = survey_bank.save_question({"text": "B?", "kind": "scale", "scale_min": 0, "scale_max": 10})
        for items, message in [([], "at least one"), ([999], "Unknown or inactive"), (["x"], "Choose questions")]:
            with pytest.raises(OutreachInvalid, match=message):
                survey_bank.save_questionnaire({"name": "Q", "items": items})
            db.session.rollback()
        with pytest.raises(OutreachInvalid):
            survey_bank.save_questionnaire({"name": "", "items": [first.id]})
        db.session.rollback()
        questionnaire = survey_bank.save_questionnaire({"name": "门诊", "items": [
            {"question_id": second.id, "required": True}, {"question_id": first.id, "required": False}]})
        assert [(i.question_id, i.position, i.required) for i in questionnaire.items] == \
            [(second.id, 0, True), (first.id, 1, False)]
        survey_bank.save_questionnaire({"name": "门诊", "items": [first.id]}, questionnaire)
        assert [i.question_id for i in questionnaire.items] == [first.id]


def test_record_response_checks_every_answer_and_writes_nothing_on_error(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        questionnaire = default_questionnaire()
        kinds = ids_by_kind(questionnaire)
        plan_id, round_id = plan_and_round("A", outreach["zhang"], questionnaire_id=questionnaire.id,
                                           visit_id=outreach["visit"])
        round_ = db.session.get(Round, round_id)
        scale = kinds["scale"][0]
        bad = [({**good_answers(questionnaire), scale: 6}, str(scale), "outside the scale"),
               ({**good_answers(questionnaire), str(scale): "great"}, str(scale), "Choose a score"),
               ({**good_answers(questionnaire), kinds["single"][0]: "也许"}, str(kinds["single"][0]), "not an option"),
               ({**good_answers(questionnaire), kinds["single"][0]: ["愿意", "不愿意"]}, str(kinds["single"][0]),
                "Choose one"),
               ({**good_answers(questionnaire), 99999: 3}, "99999", "not part of this questionnaire"),
               ({k: v for k, v in good_answers(questionnaire).items() if k != scale}, str(scale), "Answer this question")]
        for answers, key, message in bad:
            with pytest.raises(surveys.SurveyInvalid) as caught:
                surveys.record_response(round_, answers)
            assert message in caught.value.errors[key], (key, caught.value.errors)
        assert count(SurveyResponse) == 0 and count(SurveyAnswer) == 0
        answers = {**{str(k): v for k, v in good_answers(questionnaire, score=4).items()},
                   str(kinds["text"][0]): "  停车难  "}
        response = surveys.record_response(round_, answers)
        db.session.commit()
        assert response.department_id == outreach["ortho"] and response.doctor_id is not None
        stored = {a.question_id: (a.score, a.choices, a.text) for a in response.answers}
        assert stored[scale] == (4, None, None)
        assert stored[kinds["single"][0]] == (None, ["愿意"], None)
        assert stored[kinds["text"][0]] == (None, None, "停车难")
        with pytest.raises(surveys.SurveyInvalid, match="already recorded"):
            surveys.record_response(round_, answers)
        _plan, missed = plan_and_round("A", outreach["li"], questionnaire_id=questionnaire.id, reached=False)
        with pytest.raises(surveys.SurveyInvalid, match="not reached"):
            surveys.record_response(db.session.get(Round, missed), answers)
        _plan, plain = plan_and_round("A", outreach["li"])
        with pytest.raises(surveys.SurveyInvalid, match="asks no questionnaire"):
            surveys.record_response(db.session.get(Round, plain), answers)


def test_answer_page(client, app, outreach):
    with app.app_context(), hospital_scope(hospital("A")):
        questionnaire = default_questionnaire()
        kinds = ids_by_kind(questionnaire)
        _plan, round_id = plan_and_round("A", outreach["zhang"], questionnaire_id=questionnaire.id)
    login(client, "a_manager")
    client.post("/language", data={"locale": "en"})
    url = f"/followup/surveys/rounds/{round_id}"
    page = client.get(url).get_data(as_text=True)
    assert "医生的服务态度" in page and "您的意见和建议" in page
    form = {f"q_{q}": "5" for q in kinds["scale"]}
    response = client.post(url, data={**form, f"q_{kinds['scale'][0]}": "9", f"q_{kinds['single'][0]}": "愿意"})
    assert response.status_code == 400 and "9 is outside the scale" in response.get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        assert count(SurveyResponse) == 0
    response = client.post(url + "?next=https://evil.example/", data={**form, f"q_{kinds['single'][0]}": "愿意"})
    assert response.status_code == 302 and response.headers["Location"].startswith(f"/patients/{outreach['zhang']}")
    page = client.get(f"/patients/{outreach['zhang']}?tab=followup.surveys").get_data(as_text=True)
    assert QUESTIONNAIRE_NAME in page and "100 %" in page
    assert "already recorded" in client.get(url).get_data(as_text=True)
    other = app.test_client()
    login(other, "b_admin")
    assert other.get(url).status_code == 404


def test_statistics_reports_and_merge(client, app, outreach):
    with app.app_context(), hospital_scope(hospital("A")):
        questionnaire = default_questionnaire()
        kinds = ids_by_kind(questionnaire)
        for patient, score, choice in [("zhang", 5, "愿意"), ("li", 3, "不确定"), ("zhang", 1, "愿意")]:
            _plan, round_id = plan_and_round("A", outreach[patient], questionnaire_id=questionnaire.id,
                                             visit_id=outreach["visit"] if patient == "zhang" else None)
            surveys.record_response(db.session.get(Round, round_id),
                                    {**good_answers(questionnaire, score), kinds["single"][0]: choice})
        db.session.commit()
        questionnaire_id = questionnaire.id
        scale = db.session.get(Question, kinds["scale"][0])
        assert survey_stats.distribution(scale) == [("1", 1), ("2", 0), ("3", 1), ("4", 0), ("5", 1)]
        single = db.session.get(Question, kinds["single"][0])
        assert survey_stats.distribution(single) == [("愿意", 2), ("不确定", 1), ("不愿意", 0)]
        summary = {row["question_id"]: row for row in survey_stats.question_summary()}
        assert summary[scale.id]["mean"] == 3.0 and summary[scale.id]["satisfaction"] == 50.0
        assert summary[single.id]["top_option"] == "愿意" and summary[single.id]["top_share"] == 66.7
        by_department = survey_stats.scores_by("department")
        assert {row["group"]: row["responses"] for row in by_department} == {"骨科": 3}
    with app.app_context(), hospital_scope(hospital("B")):
        assert survey_stats.scores_by("department") == []  # another hospital sees none of it
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    page = client.get(f"/followup/surveys/stats?questionnaire_id={questionnaire_id}")
    assert page.status_code == 200 and "3 responses in this period." in page.get_data(as_text=True)
    assert client.get("/followup/surveys/stats?since=bad").status_code == 400
    report = client.get("/reports/followup.survey_scores?group=doctor")
    assert report.status_code == 200 and "A_Manager" in report.get_data(as_text=True)
    export = client.get("/reports/followup.survey_questions.xlsx")
    assert export.status_code == 200 and export.data[:2] == b"PK"
    analyst = app.test_client()
    login(analyst, "a_analyst")
    assert analyst.get("/followup/surveys/stats").status_code == 200
    staff = app.test_client()
    login(staff, "a_staff")
    assert staff.get("/followup/surveys/stats").status_code == 403
    with app.app_context(), hospital_scope(hospital("A")):
        zhang, li = db.session.get(Patient, outreach["zhang"]), db.session.get(Patient, outreach["li"])
        move_patient_rows(li, zhang)
        db.session.commit()
        assert set(db.session.execute(sa.select(SurveyResponse.patient_id)).scalars()) == {zhang.id}
