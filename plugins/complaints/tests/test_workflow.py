"""The complaint office's day through the API: intake, deadlines, the workflow with its
permissions and forged steps, the audit of every step, and what another hospital sees."""
from datetime import date

import sqlalchemy as sa

from core.extensions import db
from core.models import AuditLog
from core.tenancy import hospital_scope, system_scope
from core.testing import api_token
from plugins.complaints.models import Complaint, ComplaintTransition
from plugins.complaints.tests.conftest import hospital


def _intake(centre, **extra):
    channels, categories = centre["channels"], centre["categories"]
    return {"channel_id": channels["phone"], "category_id": categories["attitude"], "complainant_name": "王女士",
            "contact_phone": "13812345678", "department_id": centre["surgery"], "staff_ids": [centre["a_doc"]],
            "description": "医生态度生硬,没有解释手术风险。", **extra}


def _count(app, code="A"):
    with app.app_context(), hospital_scope(hospital(code)):
        return db.session.execute(sa.select(sa.func.count()).select_from(Complaint)).scalar_one()


def test_phone_complaint_from_intake_to_close(app, client, centre):
    office = api_token(client, "a_office")
    response = client.post("/api/v1/complaints/", json=_intake(centre), headers=office)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    cid = body["id"]
    assert body["status"] == "new" and body["reference"].startswith("TS") and body["due_date"]
    assert [s["name"] for s in body["staff"]] == ["A_Doc"]

    def step(action, **data):
        return client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": action, **data}, headers=office)

    assert step("accept").get_json()["status"] == "accepted"
    assigned = step("assign", handler_id=centre["a_manager"], department_ids=[centre["surgery"], centre["im"]])
    assert assigned.status_code == 200, assigned.get_json()
    with app.app_context(), hospital_scope(hospital("A")):
        complaint = db.session.get(Complaint, cid)
        received = complaint.received_at
        # Two departments: the category's longer limit (15 working days) applies.
        from core.clock import utc_to_local
        from plugins.complaints import workdays
        assert complaint.due_date == workdays.add_working_days(utc_to_local(received).date(), 15)
    assert step("investigate").status_code == 200
    replied = step("reply", reply_text="已与患者面谈并致歉。", reply_method="in_person")
    assert replied.get_json()["status"] == "replied"
    closed = step("close", finding="justified", root_cause="术前沟通不足", comment="结案")
    assert closed.status_code == 200
    detail = client.get(f"/api/v1/complaints/{cid}", headers=office).get_json()
    assert detail["status"] == "closed" and detail["finding"] == "justified"
    assert [t["action"] for t in detail["transitions"]] == ["create", "accept", "assign", "investigate", "reply",
                                                             "close"]
    assert detail["transitions"][-1]["comment"] == "结案" and detail["transitions"][-1]["user"]["name"] == "A_Office"
    with app.app_context(), system_scope():  # the core's audit log has every step too
        changes = db.session.execute(sa.select(AuditLog.action).where(
            AuditLog.model == "Complaint", AuditLog.record_id == str(cid))).scalars().all()
    assert changes.count("update") >= 5 and "create" in changes


def test_forged_transitions_are_refused_and_change_nothing(app, client, centre):
    office = api_token(client, "a_office")
    cid = client.post("/api/v1/complaints/", json=_intake(centre), headers=office).get_json()["id"]
    # Closing what is not replied: 409 with the states that allow it.
    response = client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "close", "finding": "justified"},
                           headers={**office, "Accept-Language": "en"})
    assert response.status_code == 409
    assert "is “New”: “Close” is only possible when it is “Replied”" in response.get_json()["error"]["message"]
    # A doctor (staff) may take in a complaint and read it, but not handle it.
    staff = api_token(client, "a_doc")
    own = client.post("/api/v1/complaints/", json=_intake(centre, staff_ids=[]), headers=staff).get_json()["id"]
    refused = client.post(f"/api/v1/complaints/{own}/transitions", json={"action": "accept"}, headers=staff)
    assert refused.status_code == 403 and "complaints.handle" in refused.get_json()["error"]["message"]
    doc = api_token(client, "a_manager")
    # An unknown action is a 422 naming the field.
    bad = client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "approve"}, headers=doc)
    assert bad.status_code == 422 and "action" in bad.get_json()["error"]["fields"]
    # Reopen of an open complaint: 409; reopen without a reason once closed: 422.
    assert client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "reopen", "comment": "x"},
                       headers=office).status_code == 409
    with app.app_context(), hospital_scope(hospital("A")):
        complaint = db.session.get(Complaint, cid)
        assert complaint.status == "new"
        assert db.session.execute(sa.select(sa.func.count()).select_from(ComplaintTransition)
                                  .where(ComplaintTransition.complaint_id == cid)).scalar_one() == 1


def test_a_user_without_the_permission_cannot_close(app, client, centre):
    office, manager = api_token(client, "a_office"), api_token(client, "a_manager")
    cid = client.post("/api/v1/complaints/", json=_intake(centre), headers=office).get_json()["id"]
    for action, data in (("accept", {}), ("assign", {"handler_id": centre["a_manager"],
                                                     "department_ids": [centre["surgery"]]}),
                         ("reply", {"reply_text": "已回复", "reply_method": "phone"})):
        assert client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": action, **data},
                           headers=manager).status_code == 200
    refused = client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "close", "finding": "partly"},
                          headers=manager)
    assert refused.status_code == 403 and "complaints.close" in refused.get_json()["error"]["message"]
    reopen_ok = client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "close", "finding": "partly"},
                            headers=office)
    assert reopen_ok.status_code == 200
    no_reason = client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "reopen"}, headers=office)
    assert no_reason.status_code == 422 and "comment" in no_reason.get_json()["error"]["fields"]
    reopened = client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "reopen", "comment": "患者不满意"},
                           headers=office)
    assert reopened.get_json()["status"] == "investigating"


def test_bad_intake_is_refused_field_by_field_and_nothing_written(app, client, centre):
    office = api_token(client, "a_office")
    before = _count(app)
    for patch, field in (({"staff_ids": [centre["b_doc"]]}, "staff_ids"),          # a staff id of hospital B
                         ({"department_id": centre["b_dept"]}, "department_id"),
                         ({"contact_phone": "<script>"}, "contact_phone"),
                         ({"event_date": "2999-01-01"}, "event_date"),
                         ({"settled_on_spot": True, "resolution": ""}, "resolution"),
                         ({"description": ""}, "description")):
        response = client.post("/api/v1/complaints/", json=_intake(centre, **patch), headers=office)
        assert response.status_code == 422, (patch, response.get_json())
        assert field in response.get_json()["error"]["fields"], (patch, response.get_json())
    assert _count(app) == before


def test_settled_on_the_spot_is_closed_at_once(app, client, centre):
    office = api_token(client, "a_office")
    body = client.post("/api/v1/complaints/", json=_intake(centre, settled_on_spot=True, resolution="当场道歉,患者接受"),
                       headers=office).get_json()
    assert body["status"] == "closed" and body["settled_on_spot"]
    assert [t["action"] for t in body["transitions"]] == ["create", "settle"]


def test_another_hospital_never_sees_it(app, client, centre):
    office = api_token(client, "a_office")
    cid = client.post("/api/v1/complaints/", json=_intake(centre), headers=office).get_json()["id"]
    b = api_token(client, "b_admin")
    assert client.get(f"/api/v1/complaints/{cid}", headers=b).status_code == 404
    assert client.get("/api/v1/complaints/", headers=b).get_json()["total"] == 0
    assert client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": "accept"},
                       headers=b).status_code == 404


def test_complaints_about_a_staff_member_are_hidden_from_them(app, client, centre):
    office = api_token(client, "a_office")
    about_manager = client.post("/api/v1/complaints/", json=_intake(centre, staff_ids=[centre["a_manager"]]),
                                headers=office).get_json()["id"]
    about_doc = client.post("/api/v1/complaints/", json=_intake(centre), headers=office).get_json()["id"]
    manager = api_token(client, "a_manager")  # manages surgery: sees its complaints, except those about them
    assert client.get(f"/api/v1/complaints/{about_manager}", headers=manager).status_code == 404
    assert client.get(f"/api/v1/complaints/{about_doc}", headers=manager).status_code == 200
    listed = [c["id"] for c in client.get("/api/v1/complaints/", headers=manager).get_json()["items"]]
    assert about_doc in listed and about_manager not in listed
    # The office (complaints.view_about_me) sees both.
    listed = [c["id"] for c in client.get("/api/v1/complaints/", headers=office).get_json()["items"]]
    assert {about_doc, about_manager} <= set(listed)


def test_list_filters_are_checked(app, client, centre):
    office = api_token(client, "a_office")
    client.post("/api/v1/complaints/", json=_intake(centre), headers=office)
    assert client.get("/api/v1/complaints/?status=bogus", headers=office).status_code == 400
    assert client.get("/api/v1/complaints/?received_from=2026-05-02&received_to=2026-05-01",
                      headers=office).status_code == 400
    today = date.today().isoformat()
    ok = client.get(f"/api/v1/complaints/?status=new&q=5678&received_to={today}", headers=office)
    assert ok.status_code == 200


def test_api_comment_and_attachment(app, client, centre, tmp_path):
    import io
    app.config["HCRM_COMPLAINTS_ATTACHMENTS"] = str(tmp_path)
    office = api_token(client, "a_office")
    cid = client.post("/api/v1/complaints/", json=_intake(centre), headers=office).get_json()["id"]
    comment = client.post(f"/api/v1/complaints/{cid}/comments", json={"body": "<img src=x onerror=alert(1)>"},
                          headers=office)
    assert comment.status_code == 201 and comment.get_json()["body"] == "<img src=x onerror=alert(1)>"
    assert client.post(f"/api/v1/complaints/{cid}/comments", json={"body": ""}, headers=office).status_code == 422
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    ok = client.post(f"/api/v1/complaints/{cid}/attachments", data={"file": (io.BytesIO(jpeg), "伤口.jpg")},
                     headers=office, content_type="multipart/form-data")
    assert ok.status_code == 201 and ok.get_json()["content_type"] == "image/jpeg"
    html = client.post(f"/api/v1/complaints/{cid}/attachments",
                       data={"file": (io.BytesIO(b"<html><script>x</script>"), "x.pdf")},
                       headers=office, content_type="multipart/form-data")
    assert html.status_code == 422 and "file" in html.get_json()["error"]["fields"]
    missing = client.post(f"/api/v1/complaints/{cid}/attachments", headers=office)
    assert missing.status_code == 422
    detail = client.get(f"/api/v1/complaints/{cid}", headers=office).get_json()
    assert [a["filename"] for a in detail["attachments"]] == ["伤口.jpg"] and len(detail["comments"]) == 1


def test_export_uses_the_list_filters(app, client, centre):
    from core.testing import login
    office = api_token(client, "a_office")
    client.post("/api/v1/complaints/", json=_intake(centre), headers=office)
    client.post("/api/v1/complaints/", json=_intake(centre, category_id=centre["categories"]["fees"]), headers=office)
    login(client, "a_office")
    rows = client.get(f"/complaints/export.csv?category_id={centre['categories']['fees']}").get_data(as_text=True)
    assert len(rows.strip().splitlines()) == 2  # the header and the one fees complaint
    assert client.get("/complaints/export.csv?status=bogus").status_code == 400
    page = client.get("/complaints/?status=bogus&received_from=notadate")
    assert page.status_code == 200  # the page drops the bad filters and says so


def test_openapi_documents_the_complaints_api(client, centre):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    assert {"/api/v1/complaints/", "/api/v1/complaints/{complaint_id}", "/api/v1/complaints/{complaint_id}/transitions",
            "/api/v1/complaints/{complaint_id}/comments", "/api/v1/complaints/{complaint_id}/attachments",
            "/api/v1/complaints/public/{code}"} <= set(paths)
    assert paths["/api/v1/complaints/public/{code}"]["post"].get("security") == []
    listed = {p["name"] for p in paths["/api/v1/complaints/"]["get"]["parameters"]}
    assert {"status", "category_id", "received_from", "overdue", "page"} <= listed
