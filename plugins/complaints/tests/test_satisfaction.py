"""The satisfaction loop through the followup plugin's own API: a low survey score, or a round
marked "the patient complained", opens a complaint linked to the patient and the round; a good
score or a hospital without the threshold opens none; the round is recorded either way."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import api_token, make_department, make_hospital, make_user
from plugins.complaints.models import Complaint
from plugins.complaints.tests.conftest import hospital


@pytest.fixture
def loop(app):
    with app.app_context():
        h = make_hospital("F", "随访医院", plugins=["followup", "complaints"])
        ward = make_department(h, "ORTH", "骨科")
        make_user(h, "f_agent", ("supervisor",), department=ward)
        doctor = make_user(h, "f_doctor", ("staff",), department=ward)
        from plugins.followup.public import Category, Method, Questionnaire, QuestionnaireItem
        from plugins.patients import public as patient_services
        with hospital_scope(h):
            patient = patient_services.create_patient({"name": "孙八", "phone": "13811112222",
                                                       "department_id": ward.id}, allow_duplicate=True)
            patient_services.record_visit(patient, {"kind": "inpatient", "visit_at": local_now() - timedelta(days=9),
                                                    "discharge_at": local_now() - timedelta(days=2),
                                                    "department_id": ward.id, "doctor_id": doctor.id})
            db.session.commit()
            questionnaire = db.session.execute(sa.select(Questionnaire)).scalars().first()
            items = db.session.execute(sa.select(QuestionnaireItem).where(
                QuestionnaireItem.questionnaire_id == questionnaire.id)).scalars().all()
            scales = [i.question_id for i in items if i.question.kind == "scale"]
            single = [i.question_id for i in items if i.question.kind == "single"]
            ids = {"patient": patient.id, "questionnaire": questionnaire.id, "scales": scales, "single": single,
                   "category": db.session.execute(sa.select(Category.id)).scalars().first(),
                   "method": db.session.execute(sa.select(Method.id)).scalars().first(),
                   "ward": ward.id, "doctor": doctor.id}
    return ids


def _plan(client, headers, ids):
    body = {"patient_id": ids["patient"], "category_id": ids["category"], "method_id": ids["method"],
            "due_at": (local_now() + timedelta(hours=1)).isoformat(), "questionnaire_id": ids["questionnaire"]}
    response = client.post("/api/v1/followup/plans", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _answers(ids, score):
    answers = {str(q): 5 for q in ids["scales"]}
    answers[str(ids["scales"][0])] = score
    answers.update({str(q): "不愿意" for q in ids["single"]})
    return answers


def _complaints(app):
    with app.app_context(), hospital_scope(hospital("F")):
        return [(c.patient_id, c.source_round_id, c.source_response_id, c.channel.code, c.department_id,
                 [s.user_id for s in c.staff], c.description, c.status)
                for c in db.session.execute(sa.select(Complaint)).scalars()]


def test_a_low_survey_score_opens_a_complaint_by_itself(app, client, loop):
    headers = api_token(client, "f_agent")
    plan = _plan(client, headers, loop)
    response = client.post(f"/api/v1/followup/plans/{plan}/rounds", json={"answers": _answers(loop, 1)},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    round_id = response.get_json()["id"]
    [(patient, source_round, source_response, channel, dept, staff, description, status)] = _complaints(app)
    assert (patient, source_round, channel, dept, staff, status) == (loop["patient"], round_id, "survey",
                                                                     loop["ward"], [loop["doctor"]], "new")
    assert source_response == response.get_json()["survey_response_id"] and "1/5" in description


def test_a_good_score_opens_none_and_the_threshold_is_the_hospitals(app, client, loop):
    headers = api_token(client, "f_agent")
    assert client.post(f"/api/v1/followup/plans/{_plan(client, headers, loop)}/rounds",
                       json={"answers": _answers(loop, 3)}, headers=headers).status_code == 201
    assert _complaints(app) == []
    from plugins.complaints.settings_services import settings
    with app.app_context(), hospital_scope(hospital("F")):
        settings().survey_threshold = None  # this hospital never opens complaints from surveys
        db.session.commit()
    assert client.post(f"/api/v1/followup/plans/{_plan(client, headers, loop)}/rounds",
                       json={"answers": _answers(loop, 1)}, headers=headers).status_code == 201
    assert _complaints(app) == []


def test_a_round_marked_complaint_opens_one(app, client, loop):
    headers = api_token(client, "f_agent")
    plan = _plan(client, headers, loop)
    response = client.post(f"/api/v1/followup/plans/{plan}/rounds",
                           json={"complaint": True, "result": "患者投诉出院结算慢"}, headers=headers)
    assert response.status_code == 201
    [(patient, source_round, _resp, channel, _dept, _staff, description, _status)] = _complaints(app)
    assert (patient, source_round, channel) == (loop["patient"], response.get_json()["id"], "survey")
    assert "出院结算慢" in description


def test_followup_works_with_complaints_disabled(app, client, loop):
    from core.activation import disable
    with app.app_context():
        disable(hospital("F"), "complaints")
        db.session.commit()
    headers = api_token(client, "f_agent")
    response = client.post(f"/api/v1/followup/plans/{_plan(client, headers, loop)}/rounds",
                           json={"complaint": True, "answers": _answers(loop, 1)}, headers=headers)
    assert response.status_code == 201
    assert _complaints(app) == []
