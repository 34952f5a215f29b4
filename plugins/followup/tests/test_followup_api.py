"""The follow-up API: plans (list with filters, create), rounds (409 on a closed plan, survey
answers), rules (CRUD, 422 on bad input, 409 on deleting a used rule), tenancy, OpenAPI."""
from datetime import timedelta

import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import api_token
from plugins.followup.models import Plan, Round, Rule
from plugins.followup.tests.conftest import catalogue_ids, hospital, new_patient, new_rule, new_visit

NOW = local_now().replace(microsecond=0)
EN = {"Accept-Language": "en"}


def _setup(app):
    with app.app_context():
        return new_patient("A", name="钱七"), catalogue_ids("A")


def _create(client, headers, pid, ids, **extra):
    body = {"patient_id": pid, "category_id": ids["category_chronic"], "method_id": ids["method_phone"],
            "due_at": (NOW + timedelta(hours=3)).isoformat(), **extra}
    return client.post("/api/v1/followup/plans", headers=headers | EN, json=body)


def test_create_list_and_filter_plans(app, client, centre):
    pid, ids = _setup(app)
    headers = api_token(client, "a_admin")
    created = _create(client, headers, pid, ids, assignee_id=centre["a_doc"], content="问血糖")
    assert created.status_code == 201, created.get_json()
    plan = created.get_json()
    assert plan["patient"] == {"id": pid, "name": "钱七"} and plan["assignee"]["id"] == centre["a_doc"]
    assert plan["status"] == "pending" and plan["overdue"] is False
    assert created.headers["Location"] == f"/api/v1/followup/plans/{plan['id']}"
    late = _create(client, headers, pid, ids, due_at=(NOW - timedelta(hours=2)).isoformat()).get_json()
    listed = client.get("/api/v1/followup/plans?overdue=true", headers=headers).get_json()
    assert [p["id"] for p in listed["items"]] == [late["id"]] and listed["total"] == 1
    mine = client.get(f"/api/v1/followup/plans?assignee_id={centre['a_doc']}&status=pending", headers=headers)
    assert [p["id"] for p in mine.get_json()["items"]] == [plan["id"]]
    day = NOW.date().isoformat()
    ranged = client.get(f"/api/v1/followup/plans?due_from={day}&due_to={day}&patient_id={pid}", headers=headers)
    # near midnight one of the two falls on the next or previous day: the filter must say so
    due_today = {p["id"] for p in (plan, late) if p["due_at"][:10] == day}
    assert {p["id"] for p in ranged.get_json()["items"]} == due_today
    # a staff token sees the plans assigned to it only
    staff = client.get("/api/v1/followup/plans", headers=api_token(client, "a_doc")).get_json()
    assert [p["id"] for p in staff["items"]] == [plan["id"]] and staff["items"][0]["patient"]["name"] == "钱七"


def test_bad_plan_requests(app, client, centre):
    pid, ids = _setup(app)
    headers = api_token(client, "a_admin") | EN
    bad_query = client.get("/api/v1/followup/plans?due_from=2026-13-01&status=open", headers=headers)
    assert bad_query.status_code == 400 and {"due_from", "status"} <= set(bad_query.get_json()["error"]["fields"])
    backwards = client.get("/api/v1/followup/plans?due_from=2026-02-01&due_to=2026-01-01", headers=headers)
    assert backwards.status_code == 400
    unknown = _create(client, headers, 99999, ids)
    assert unknown.status_code == 422 and "patient_id" in unknown.get_json()["error"]["fields"]
    bad = _create(client, headers, pid, ids, method_id=99999, assignee_id=99999,
                  due_at=(NOW + timedelta(days=2000)).isoformat())
    fields = bad.get_json()["error"]["fields"]
    assert bad.status_code == 422 and {"method_id", "assignee_id", "due_at"} <= set(fields)
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count(Plan.id))).scalar_one() == 0


def test_rounds_through_the_api_and_409_on_a_closed_plan(app, client, centre):
    pid, ids = _setup(app)
    headers = api_token(client, "a_admin") | EN
    plan_id = _create(client, headers, pid, ids).get_json()["id"]
    next_due = (NOW + timedelta(days=30)).replace(second=0)
    response = client.post(f"/api/v1/followup/plans/{plan_id}/rounds", headers=headers,
                           json={"reached": True, "result": "好", "next_due_at": next_due.isoformat()})
    assert response.status_code == 201, response.get_json()
    round_ = response.get_json()
    assert round_["user"]["id"] == centre["a_admin"] and round_["next_plan_id"]
    detail = client.get(f"/api/v1/followup/plans/{plan_id}", headers=headers).get_json()
    assert detail["status"] == "completed" and [r["id"] for r in detail["rounds"]] == [round_["id"]]
    closed = client.post(f"/api/v1/followup/plans/{plan_id}/rounds", headers=headers, json={"reached": True})
    assert closed.status_code == 409 and "cannot be recorded" in closed.get_json()["error"]["message"]
    bad = client.post(f"/api/v1/followup/plans/{round_['next_plan_id']}/rounds", headers=headers,
                      json={"at": (NOW + timedelta(days=1)).isoformat(), "outcome": "done"})
    assert bad.status_code == 422
    no_survey = client.post(f"/api/v1/followup/plans/{round_['next_plan_id']}/rounds", headers=headers,
                            json={"answers": {"1": 5}})
    assert no_survey.status_code == 422 and "answers" in no_survey.get_json()["error"]["fields"]
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count(Round.id))).scalar_one() == 1
    assert client.post("/api/v1/followup/plans/99999/rounds", headers=headers, json={}).status_code == 404


def test_rules_crud_and_bad_input(app, client, centre):
    with app.app_context():
        ids = catalogue_ids("A")
    headers = api_token(client, "a_admin") | EN
    body = {"name": "骨科出院", "trigger": "discharged", "visit_kind": "inpatient", "department_id": centre["ortho"],
            "offsets": ["24h", "7d", 30], "method_id": ids["method_phone"], "category_id": ids["category_post_discharge"],
            "disease_codes": ["s72"]}
    created = client.post("/api/v1/followup/rules", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    rule = created.get_json()
    assert rule["offsets"] == ["1d", "7d", "30d"] and rule["offset_minutes"] == [1440, 10080, 43200]
    assert rule["disease_codes"] == ["S72"]
    for bad, field in (({"offsets": ["-1d"]}, "offsets"), ({"department_id": centre["b_ortho"]}, "department_id"),
                       ({"offsets": ["5y"]}, "offsets"), ({"assign_to": "role"}, "assignee_role_id")):
        refused = client.post("/api/v1/followup/rules", headers=headers, json=body | bad)
        assert refused.status_code == 422 and field in refused.get_json()["error"]["fields"], refused.get_json()
    assert client.post("/api/v1/followup/rules", headers=headers, json=body | {"colour": "red"}).status_code == 422
    patched = client.patch(f"/api/v1/followup/rules/{rule['id']}", headers=headers, json={"active": False})
    assert patched.status_code == 200 and patched.get_json()["active"] is False
    assert patched.get_json()["offsets"] == ["1d", "7d", "30d"]
    listed = client.get("/api/v1/followup/rules", headers=headers).get_json()
    assert [r["id"] for r in listed["items"]] == [rule["id"]]
    assert client.delete(f"/api/v1/followup/rules/{rule['id']}", headers=headers).status_code == 204
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count(Rule.id))).scalar_one() == 0


def test_a_rule_with_plans_is_not_deleted_and_can_be_applied_since(app, client, centre):
    with app.app_context():
        rule_id = new_rule("A")
        pid = new_patient("A")
        discharge = NOW - timedelta(days=2)
        new_visit("A", pid, visit_at=discharge - timedelta(days=3), discharge_at=discharge)
        old = new_visit("A", pid, visit_at=NOW - timedelta(days=60), discharge_at=NOW - timedelta(days=50))
    headers = api_token(client, "a_admin") | EN
    refused = client.delete(f"/api/v1/followup/rules/{rule_id}", headers=headers)
    assert refused.status_code == 409 and "deactivate" in refused.get_json()["error"]["message"]
    since = (NOW - timedelta(days=55)).date().isoformat()
    applied = client.post(f"/api/v1/followup/rules/{rule_id}/apply", headers=headers, json={"since": since})
    assert applied.get_json() == {"planned": 3}
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count(Plan.id)).where(Plan.visit_id == old)).scalar_one() == 3


def test_tenancy_and_permissions(app, client, centre):
    pid, ids = _setup(app)
    plan_id = _create(client, api_token(client, "a_admin"), pid, ids).get_json()["id"]
    b = api_token(client, "b_admin")
    assert client.get(f"/api/v1/followup/plans/{plan_id}", headers=b).status_code == 404
    assert client.get("/api/v1/followup/plans", headers=b).get_json()["total"] == 0
    assert client.post(f"/api/v1/followup/plans/{plan_id}/rounds", headers=b, json={}).status_code == 404
    assert _create(client, b, pid, ids).status_code == 422  # A's patient is unknown in B
    doc = api_token(client, "a_doc")
    assert client.get("/api/v1/followup/rules", headers=doc).status_code == 403


def test_openapi_documents_the_followup_endpoints(client, centre):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/followup/plans", "/api/v1/followup/plans/{plan_id}/rounds", "/api/v1/followup/rules",
                 "/api/v1/followup/rules/{rule_id}"):
        assert path in spec["paths"], sorted(spec["paths"])
    assert {"followup.Plan", "followup.RoundCreate", "followup.RuleWrite"} <= set(spec["components"]["schemas"])


def test_a_round_records_the_plans_survey_in_the_same_transaction(app, client, centre):
    """An agent calls, the patient answers the satisfaction questionnaire: one POST records the
    round and the answers; a bad answer refuses both (nothing written)."""
    from plugins.followup.models import Questionnaire, SurveyAnswer, SurveyResponse
    pid, ids = _setup(app)
    with app.app_context(), hospital_scope(hospital("A")):
        questionnaire = db.session.execute(sa.select(Questionnaire)).scalars().first()
        questions = {item.question.text: str(item.question_id) for item in questionnaire.items}
    headers = api_token(client, "a_admin")
    plan = _create(client, headers, pid, ids, questionnaire_id=questionnaire.id).get_json()
    answers = {questions[text]: 5 for text in ("医生的服务态度", "护理服务", "医院环境(整洁、安静、标识清楚)", "等候时间")}
    answers[questions["您是否愿意向亲友推荐我院?"]] = "愿意"

    out_of_scale = client.post(f"/api/v1/followup/plans/{plan['id']}/rounds", headers=headers | EN,
                               json={"reached": True, "answers": {**answers, questions["护理服务"]: 9}})
    assert out_of_scale.status_code == 422, out_of_scale.get_json()
    assert questions["护理服务"] in str(out_of_scale.get_json())
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Round)).scalar_one() == 0
        assert db.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse)).scalar_one() == 0

    recorded = client.post(f"/api/v1/followup/plans/{plan['id']}/rounds", headers=headers | EN,
                           json={"reached": True, "result": "满意", "answers": answers})
    assert recorded.status_code == 201, recorded.get_json()
    with app.app_context(), hospital_scope(hospital("A")):
        response = db.session.execute(sa.select(SurveyResponse)).scalar_one()
        scores = db.session.execute(sa.select(SurveyAnswer.score).where(SurveyAnswer.response_id == response.id,
                                                                        SurveyAnswer.score.is_not(None))).scalars()
        assert sorted(scores) == [5, 5, 5, 5] and response.patient_id == pid
