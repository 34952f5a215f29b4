"""Words a Chinese-speaking user meets outside the pages' own text: the audit log's model and
field names, permission titles (role page, 403 page) and the API's 404 and 405 messages."""
from __future__ import annotations

from core.testing import login as sign_in
from core.testing import make_hospital, make_user


def login(client, username, locale):
    sign_in(client, username)
    client.post("/language", data={"locale": locale})


def test_the_audit_log_names_models_and_fields_in_the_readers_language(app, client):
    with app.app_context():
        home = make_hospital("H1", plugins=["complaints"])
        make_user(home, "chief", roles=("super_admin",))
    login(client, "chief", "zh_CN")
    assert client.post("/admin/departments/new", data={"code": "ER", "name": "急诊科"}).status_code == 302
    page = client.get("/admin/audit?model=Department").text
    assert '<td title="Department">科室</td>' in page
    assert "名称 <code" in page and "编码 <code" in page  # the field's label, its key beside it
    assert "编码、名称" in page or "名称、编码" in page  # the changed fields, listed the Chinese way
    client.post("/language", data={"locale": "en"})
    page = client.get("/admin/audit?model=Department").text
    assert '<td title="Department">Department</td>' in page and "Name <code" in page
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        from flask_babel import force_locale

        from core.audit_labels import field_label, model_label
        with force_locale("zh_CN"):
            assert model_label("Patient") == "患者"             # a plugin's model
            assert field_label("Patient", "created_at") == "创建时间"  # a word every plugin shares
            assert field_label("Patient", "department_id") == "科室"
            assert model_label("NoSuchModel") == "No such model"  # unknown: readable, not a crash


def test_permission_titles_on_the_role_page_and_the_403_page(app, client):
    with app.app_context():
        home = make_hospital("H1", plugins=["complaints"])
        make_user(home, "chief", roles=("super_admin",))
        make_user(home, "nurse", roles=("staff",))
    login(client, "chief", "zh_CN")
    roles = client.get("/admin/roles/new").text
    assert "查看用户 <code" in roles and "查看投诉 <code" in roles  # core's and a plugin's
    client = app.test_client()
    login(client, "nurse", "zh_CN")
    refused = client.get("/admin/users")
    assert refused.status_code == 403
    assert "您没有“查看用户”权限（core.users.read）。" in refused.text
    client.post("/language", data={"locale": "en"})
    assert "You do not have the permission “View users” (core.users.read)." in client.get("/admin/users").text


def test_the_apis_404_and_405_speak_the_clients_language(app, client):
    missing = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "zh-CN"})
    assert missing.status_code == 404
    assert missing.json["error"]["message"] == "未找到：没有这个接口，或本院没有这条记录。"
    english = client.get("/api/v1/no-such-thing", headers={"Accept-Language": "en"})
    assert english.json["error"]["message"] == "Not found: no such endpoint, or no such record for your hospital."
    wrong = client.delete("/api/v1/openapi.json", headers={"Accept-Language": "zh-CN"})
    assert wrong.status_code == 405 and "GET" in wrong.headers["Allow"]
    assert wrong.json["error"]["message"].startswith("此接口不接受 DELETE 方法；可用的方法：")
    assert "GET" in wrong.json["error"]["message"]
