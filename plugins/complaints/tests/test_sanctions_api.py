"""Rewards and penalties (赏罚) through the API: listed with filters, proposed by a handler,
approved or rejected by a user holding complaints.decide_rewards — the pages' permissions and
checks; bad input is a 4xx naming the field and writes nothing; another hospital sees none."""
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import system_scope
from core.testing import api_token
from plugins.complaints.models import Sanction

URL = "/api/v1/complaints/sanctions"


def _count(app) -> int:
    with app.app_context(), system_scope():
        return db.session.execute(sa.select(sa.func.count()).select_from(Sanction)).scalar_one()


def _complaint(client, centre, headers) -> int:
    body = {"channel_id": centre["channels"]["letter"], "category_id": centre["categories"]["praise"],
            "complainant_name": "孙先生", "description": "感谢外科医生", "department_id": centre["surgery"]}
    response = client.post("/api/v1/complaints/", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def test_propose_list_and_decide_rewards_and_penalties(app, client, centre):
    office = api_token(client, "a_office")
    cid = _complaint(client, centre, office)
    praise = client.post(URL, json={"user_id": centre["a_doc"], "kind": "praise", "reason": "患者来信表扬",
                                    "complaint_id": cid, "points": 2}, headers=office)
    assert praise.status_code == 201, praise.get_json()
    body = praise.get_json()
    assert (body["state"], body["kind"], body["complaint_id"], body["points"], body["department"]["id"]) == (
        "proposed", "praise", cid, 2, centre["surgery"])
    assert praise.headers["Location"] == f"{URL}/{body['id']}"
    fine = client.post(URL, json={"user_id": centre["a_doc"], "kind": "deduction", "reason": "服务态度差",
                                  "amount": "200"}, headers=office).get_json()
    assert fine["amount"] == "200.00" and fine["complaint_id"] is None

    listed = client.get(f"{URL}?user_id={centre['a_doc']}&kind=deduction", headers=office).get_json()
    assert [row["id"] for row in listed["items"]] == [fine["id"]]
    assert {row["id"] for row in client.get(f"{URL}?state=proposed", headers=office).get_json()["items"]} == {
        body["id"], fine["id"]}
    assert client.get(f"{URL}?complaint_id={cid}", headers=office).get_json()["items"][0]["id"] == body["id"]

    manager = api_token(client, "a_manager")  # may propose (complaints.handle), may not decide
    refused = client.post(f"{URL}/{fine['id']}/decision", json={"decision": "approve"}, headers=manager)
    assert refused.status_code == 403 and "complaints.decide_rewards" in refused.get_json()["error"]["message"]
    approved = client.post(f"{URL}/{fine['id']}/decision", json={"decision": "approve"}, headers=office)
    assert approved.status_code == 200
    assert (approved.get_json()["state"], approved.get_json()["decided_by"]["id"]) == ("approved", centre["a_office"])
    again = client.post(f"{URL}/{fine['id']}/decision", json={"decision": "reject"}, headers=office)
    assert again.status_code == 409 and "该奖惩已审批" in again.get_json()["error"]["message"]
    assert client.get(f"{URL}/{fine['id']}", headers=office).get_json()["state"] == "approved"
    rejected = client.post(f"{URL}/{body['id']}/decision", json={"decision": "reject"}, headers=office)
    assert rejected.get_json()["state"] == "rejected"

    other = api_token(client, "b_admin")  # another hospital: nothing of A's
    assert client.get(URL, headers=other).get_json()["items"] == []
    assert client.get(f"{URL}/{fine['id']}", headers=other).status_code == 404
    assert client.post(f"{URL}/{body['id']}/decision", json={"decision": "approve"}, headers=other).status_code == 404


def test_bad_input_is_refused_by_field_and_writes_nothing(app, client, centre):
    office = api_token(client, "a_office")
    b_cid = _complaint(client, {**centre, "surgery": centre["b_dept"], **_b_choices(app)}, api_token(client, "b_admin"))
    good = {"user_id": centre["a_doc"], "kind": "reward", "reason": "及时处理"}
    for change, field in (({"kind": "bonus"}, "kind"), ({"amount": "-5"}, "amount"), ({"amount": "abc"}, "amount"),
                          ({"amount": "NaN"}, "amount"), ({"points": 5000}, "points"), ({"reason": ""}, "reason"),
                          ({"user_id": centre["b_doc"]}, "user_id"), ({"complaint_id": b_cid}, "complaint_id"),
                          ({"user_id": "x"}, "user_id")):
        response = client.post(URL, json={**good, **change}, headers=office)
        assert response.status_code == 422, (change, response.get_json())
        assert field in response.get_json()["error"]["fields"], (change, response.get_json())
    missing = client.post(URL, json={"kind": "reward"}, headers=office).get_json()["error"]["fields"]
    assert {"user_id", "reason"} <= set(missing)
    assert client.post(URL, data="not json", headers={**office, "Content-Type": "application/json"}).status_code == 400
    assert client.get(f"{URL}?state=done", headers=office).status_code == 400
    staff = api_token(client, "a_doc")  # no complaints.handle
    refused = client.post(URL, json=good, headers=staff)
    assert refused.status_code == 403 and "complaints.handle" in refused.get_json()["error"]["message"]
    assert _count(app) == 0
    made = client.post(URL, json=good, headers=office).get_json()
    bad = client.post(f"{URL}/{made['id']}/decision", json={"decision": "maybe"}, headers=office)
    assert bad.status_code == 422 and "decision" in bad.get_json()["error"]["fields"]
    assert client.post(f"{URL}/999999/decision", json={"decision": "approve"}, headers=office).status_code == 404
    assert client.get(f"{URL}/{made['id']}", headers=office).get_json()["state"] == "proposed"


def test_openapi_documents_the_sanctions_api(client, centre):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "post"} <= set(paths[URL]) and "post" in paths[URL + "/{sanction_id}/decision"]
    listed = {p["name"] for p in paths[URL]["get"]["parameters"]}
    assert {"user_id", "department_id", "kind", "state", "page"} <= listed


def _b_choices(app):
    from plugins.complaints.models import ComplaintCategory, ComplaintChannel
    from plugins.complaints.tests.conftest import ids_of
    with app.app_context():
        return {"channels": ids_of(ComplaintChannel, "B"), "categories": ids_of(ComplaintCategory, "B")}
