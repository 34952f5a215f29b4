"""Reuse as content: the follow-up forms' picker (followup_content_sources), the patient page's
tab, the printable handout with its QR code, reading statistics; and the API in the OpenAPI document."""
from datetime import datetime

import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import api_token
from plugins.knowledge_base import services
from plugins.knowledge_base.models import Article, ArticleStat
from plugins.knowledge_base.tests.conftest import as_user, client_for, hospital, user, write
from plugins.patients.public import Disease, create_patient, record_visit


def _patient(app, kb):
    """张三 of hospital A, in 骨科, with an inpatient visit diagnosed S72.001."""
    with app.app_context(), hospital_scope(hospital("A"), user=user("a_manager")):
        db.session.add(Disease(code="S72.001", name="股骨颈骨折"))
        db.session.flush()
        patient = create_patient({"name": "张三", "phone": "13812345678",
                                                   "department_id": kb["ortho"]}, allow_duplicate=True)
        record_visit(patient, {"kind": "inpatient", "visit_at": datetime(2026, 11, 2, 9, 0),
                                                "department_id": kb["ortho"], "diagnoses": ["S72.001"]})
        return patient.id


def test_picker_searches_and_inserts_the_sms_version(app, kb):
    femur = write(app, "A", "a_manager", title="股骨颈骨折术后康复指导", icd_codes="S72", publish=True,
                  sms_text="术后坚持踝泵运动,两周后扶拐下地。")
    write(app, "A", "a_manager", title="股骨骨折草稿", sms_text="草稿")  # not published: never offered
    patient_id = _patient(app, kb)
    client = client_for(app, "a_manager")
    compose = client.get(f"/followup/sms/compose/{patient_id}").get_data(as_text=True)
    assert "data-content-picker" in compose and "content_picker.js" in compose
    # empty search: the articles for the patient's diagnoses and departments
    suggested = client.get(f"/followup/sms/content?patient_id={patient_id}").get_json()["items"]
    assert [i["id"] for i in suggested] == [femur] and suggested[0]["source"] == "knowledge_base"
    found = client.get("/followup/sms/content", query_string={"q": "股骨 骨折 康复"}).get_json()["items"]
    assert [i["id"] for i in found] == [femur]
    assert found[0]["text"] == "术后坚持踝泵运动,两周后扶拐下地。"
    assert found[0]["link"].endswith(f"/knowledge_base/{femur}/print")
    bad = client.get("/followup/sms/content", query_string={"q": "!!!"})
    assert bad.status_code == 400 and bad.get_json()["error"]
    used = client.post(f"/followup/sms/content/knowledge_base/{femur}")
    assert used.status_code == 200 and used.get_json()["text"].startswith("术后坚持")
    with app.app_context(), as_user("a_manager"):
        assert db.session.execute(sa.select(ArticleStat.sends).where(ArticleStat.article_id == femur)).scalar() == 1
    for form in ("/followup/sms/bulk", "/followup/sms/templates/new"):
        assert "data-content-picker" in client.get(form).get_data(as_text=True), form


def test_the_picker_disappears_when_the_knowledge_base_is_disabled(app, kb):
    from core import activation
    from core.tenancy import system_scope
    patient_id = _patient(app, kb)
    with app.app_context():
        with system_scope():
            activation.disable(hospital("A"), "knowledge_base")
        db.session.commit()
    client = client_for(app, "a_manager")
    assert "data-content-picker" not in client.get(f"/followup/sms/compose/{patient_id}").get_data(as_text=True)
    assert client.get("/followup/sms/content?q=骨折").get_json() == {"items": []}


def test_patient_tab_lists_matching_articles(app, kb):
    femur = write(app, "A", "a_manager", title="股骨颈骨折术后康复指导", icd_codes="S72", publish=True, sms_text="短信")
    ortho = write(app, "A", "a_manager", title="骨科病房须知", departments="骨科", publish=True)
    other = write(app, "A", "a_manager", title="糖尿病饮食", departments="内分泌科", icd_codes="E11", publish=True)
    patient_id = _patient(app, kb)
    page = client_for(app, "a_manager").get(f"/patients/{patient_id}?tab=knowledge_base.patient").get_data(as_text=True)
    assert f"/knowledge_base/{femur}\"" in page and f"/knowledge_base/{ortho}\"" in page
    assert f"/knowledge_base/{other}\"" not in page


def test_handout_and_qr_code(app, kb):
    article_id = write(app, "A", "a_manager", title="出院指导", body="<h2>用药</h2><p>按时服药</p>", publish=True)
    client = client_for(app, "a_analyst")
    page = client.get(f"/knowledge_base/{article_id}/print")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "甲医院" in text and "<h2>用药</h2>" in text
    assert f"/knowledge_base/{article_id}/qr.svg" in text and "<script" not in text and "style=" not in text
    qr = client.get(f"/knowledge_base/{article_id}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    client.get(f"/knowledge_base/{article_id}")
    with app.app_context(), as_user("a_manager"):
        assert services.stats_of([article_id])[article_id].views == 1


def test_api_create_update_publish_read(app, client, kb):
    staff = api_token(client, "a_staff")
    created = client.post("/api/v1/knowledge_base/articles", headers=staff, json={
        "type_code": "medication", "title": "阿司匹林用药指导", "body": "<p>饭后服用</p><img src=x onerror=alert(1)>",
        "tags": ["抗血小板"], "departments": ["心内科"], "icd_codes": ["i25"], "sms_text": "阿司匹林饭后服用"})
    assert created.status_code == 201, created.get_json()
    article = created.get_json()
    assert article["status"] == "draft" and "onerror" not in article["body"] and article["icd_codes"] == ["I25"]
    article_id = article["id"]
    patched = client.patch(f"/api/v1/knowledge_base/articles/{article_id}", headers=staff, json={"summary": "饭后"})
    assert patched.status_code == 200 and patched.get_json()["summary"] == "饭后"
    assert client.post(f"/api/v1/knowledge_base/articles/{article_id}/publish", headers=staff,
                       json={"action": "publish"}).status_code == 403
    manager = api_token(client, "a_manager")
    published = client.post(f"/api/v1/knowledge_base/articles/{article_id}/publish", headers=manager, json={})
    assert published.status_code == 200 and published.get_json()["status"] == "published"
    wrong = client.post(f"/api/v1/knowledge_base/articles/{article_id}/publish", headers=manager,
                        json={"action": "publish"})
    assert wrong.status_code == 422
    assert client.patch(f"/api/v1/knowledge_base/articles/{article_id}", headers=staff,
                        json={"title": "改"}).status_code == 403
    reader = api_token(client, "a_analyst")
    assert client.get(f"/api/v1/knowledge_base/articles/{article_id}", headers=reader).status_code == 200
    # bad input: unknown type, 20 MB body, another hospital's id
    assert client.post("/api/v1/knowledge_base/articles", headers=staff,
                       json={"type_code": "x", "title": "t"}).status_code == 422
    assert client.post("/api/v1/knowledge_base/articles", headers=staff,
                       json={"type_code": "faq", "title": "t", "body": "字" * 7_000_000}).status_code in (413, 422)
    theirs = write(app, "B", "b_admin", title="乙院", publish=True)
    assert client.get(f"/api/v1/knowledge_base/articles/{theirs}", headers=reader).status_code == 404
    assert client.patch(f"/api/v1/knowledge_base/articles/{theirs}", headers=manager,
                        json={"title": "x"}).status_code == 404
    with app.app_context(), as_user("b_admin"):
        assert db.session.get(Article, theirs).title == "乙院"
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/knowledge_base/articles", "/api/v1/knowledge_base/articles/{article_id}",
            "/api/v1/knowledge_base/articles/{article_id}/publish"} <= set(paths)


def test_most_read_report(app, kb):
    read = write(app, "A", "a_manager", title="常读文章", publish=True)
    write(app, "A", "a_manager", title="没人读", publish=True)
    client = client_for(app, "a_analyst")
    for _ in range(3):
        client.get(f"/knowledge_base/{read}")
    page = client.get("/reports/knowledge_base.most_read")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "常读文章" in text and "没人读" not in text
    assert client.get("/reports/knowledge_base.most_read?top=abc").status_code in (200, 400)
