"""The patients API as an integrator uses it: archive, visits, screen pop, catalogue, privacy,
isolation between hospitals, errors and the OpenAPI document."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import AuditLog
from core.tenancy import system_scope
from core.testing import api_token, make_hospital, make_user
from plugins.patients.models import Patient, Visit
from plugins.patients.tests.conftest import id_number

BASE = "/api/v1/patients"
EN = {"Accept-Language": "en"}


def headers(client, username):
    return {**api_token(client, username), **EN}


def register(client, auth, **fields):
    body = {"name": "张三", "phone": "13812345678", **fields}
    response = client.post(BASE, json=body, headers=auth)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def count(app, model, *where):
    with app.app_context(), system_scope():
        return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


def names(response):
    assert response.status_code == 200, response.get_json()
    return [p["name"] for p in response.get_json()["items"]]


# -- the whole journey ------------------------------------------------------------------------
def test_register_read_change_find_and_record_visits(app, client, clinic):
    admin = headers(client, "a_admin")
    created = client.post(BASE, headers=admin, json={
        "name": "张三", "id_number": id_number("19900307", "123"), "phone": "138 1234 5678",
        "department_id": clinic["ortho"], "tags": ["diabetes", "vip"], "key_patient": True,
        "address": "长沙市岳麓区", "external_id": "HIS-1"})
    assert created.status_code == 201, created.get_json()
    patient = created.get_json()
    assert created.headers["Location"].endswith(f"{BASE}/{patient['id']}")
    assert patient["birth_date"] == "1990-03-07" and patient["gender"] == "M"  # from the ID number
    assert patient["phone"] == "13812345678"  # normalised; super_admin sees full numbers
    assert patient["department"] == {"id": clinic["ortho"], "name": "骨科"}
    assert patient["tags"] == ["diabetes", "vip"] and patient["key_patient"] is True
    assert patient["created_at"].endswith("+00:00") and isinstance(patient["age"], int)

    detail = client.get(created.headers["Location"], headers=admin).get_json()
    assert detail["name"] == "张三" and detail["recent_visits"] == []
    assert detail["health_record"]["allergies"] is None

    changed = client.patch(f"{BASE}/{patient['id']}", headers=admin, json={"occupation": "教师", "phone2": None})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["occupation"] == "教师"
    assert changed.get_json()["address"] == "长沙市岳麓区"  # keys not sent are left alone
    assert changed.get_json()["tags"] == ["diabetes", "vip"]

    register(client, admin, name="李四", phone="13900001111")
    assert names(client.get(BASE, query_string={"q": "zs"}, headers=admin)) == ["张三"]
    assert names(client.get(BASE, query_string={"q": "5678"}, headers=admin)) == ["张三"]
    assert names(client.get(BASE, query_string={"key_patient": "true"}, headers=admin)) == ["张三"]
    assert names(client.get(BASE, query_string={"sort": "name", "order": "asc"}, headers=admin)) == ["张三", "李四"]
    page = client.get(BASE, query_string={"per_page": 1, "page": 2}, headers=admin).get_json()
    assert (page["total"], page["pages"], len(page["items"])) == (2, 2, 1)

    visits_url = f"{BASE}/{patient['id']}/visits"
    first = client.post(visits_url, headers=admin, json={
        "kind": "inpatient", "visit_at": "2026-05-01T08:00:00", "discharge_at": "2026-05-08T10:00:00",
        "department_id": clinic["ortho"], "doctor_name": "王医生", "diagnoses": ["m51.2", "I10"],
        "treatment_plan": "手术", "spending": 12345.6, "external_id": "V-1"})
    assert first.status_code == 201, first.get_json()
    visit = first.get_json()
    assert [d["code"] for d in visit["diagnoses"]] == ["M51.2", "I10"]
    assert visit["spending"] == "12345.60" and visit["status"] == "completed"
    assert visit["visit_at"].startswith("2026-05-01T08:00:00")
    second = client.post(visits_url, headers=admin, json={"visit_at": "2026-06-01T09:30:00", "spending": "80"})
    assert second.status_code == 201, second.get_json()
    listed = client.get(visits_url, headers=admin).get_json()
    assert [v["visit_at"][:10] for v in listed["items"]] == ["2026-06-01", "2026-05-01"]  # newest first
    assert listed["total"] == 2

    visited = client.get(BASE, query_string={"visit_from": "2026-05-01", "visit_to": "2026-05-31"}, headers=admin)
    assert names(visited) == ["张三"]
    assert [v["spending"] for v in client.get(created.headers["Location"], headers=admin).get_json()[
        "recent_visits"]] == ["80.00", "12345.60"]

    popped = client.get(f"{BASE}/lookup", query_string={"phone": "+86 138-1234-5678"}, headers=admin)
    assert popped.status_code == 200, popped.get_json()
    match, = popped.get_json()["matches"]
    assert match["id"] == patient["id"] and len(match["recent_visits"]) == 2
    assert popped.get_json()["new_patient_url"] == "/patients/new?phone=13812345678"
    unknown = client.get(f"{BASE}/lookup", query_string={"phone": "13700000000"}, headers=admin).get_json()
    assert unknown == {"matches": [], "new_patient_url": "/patients/new?phone=13700000000"}


def test_disease_catalogue_search(client, clinic):
    admin = headers(client, "a_admin")
    by_code = client.get(f"{BASE}/diseases", query_string={"q": "m51"}, headers=admin).get_json()
    assert "M51.2" in [d["code"] for d in by_code["items"]]
    assert all(d["code"].startswith("M51") for d in by_code["items"])
    by_name = client.get(f"{BASE}/diseases", query_string={"q": "高血压"}, headers=admin).get_json()
    assert "I10" in [d["code"] for d in by_name["items"]]
    assert client.get(f"{BASE}/diseases", query_string={"q": "%"}, headers=admin).get_json()["items"] == []


# -- bad input --------------------------------------------------------------------------------
def bad_checksum():
    good = id_number()
    return good[:-1] + ("0" if good[-1] != "0" else "1")


@pytest.mark.parametrize("body, field, message", [
    ({"name": "张三", "id_number": bad_checksum()}, "id_number", "check digit"),
    ({"name": "张三", "birth_date": "2090-01-01"}, "birth_date", "future"),
    ({"name": "张三", "department_id": 999999}, "department_id", "does not exist"),
    ({"name": "张三", "phone": "12345"}, "phone", "not a mobile number"),
    ({"name": "张三", "birth_date": "1990-02-30"}, "birth_date", "Not a valid date"),
    ({"phone": "13812345678"}, "name", "Missing data"),
    ({"name": "张三", "favourite_colour": "blue"}, "favourite_colour", "Unknown field"),
])
def test_bad_patient_fields_are_422_and_nothing_is_written(app, client, clinic, body, field, message):
    response = client.post(BASE, json=body, headers=headers(client, "a_admin"))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["message"] == "The request body is invalid."
    assert any(message in m for m in error["fields"][field]), error
    assert count(app, Patient) == 0


def test_bad_patch_leaves_the_patient_as_it_was(app, client, clinic):
    admin = headers(client, "a_admin")
    patient = register(client, admin)
    response = client.patch(f"{BASE}/{patient['id']}", json={"name": "", "phone": "abc"}, headers=admin)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"name", "phone"}
    assert client.get(f"{BASE}/{patient['id']}", headers=admin).get_json()["phone"] == "13812345678"


@pytest.mark.parametrize("body, field", [
    ({"visit_at": "2026-05-01T08:00:00", "diagnoses": ["ZZZ.9"]}, "diagnoses"),
    ({"visit_at": "2026-05-01T08:00:00", "discharge_at": "2026-04-30T08:00:00"}, "discharge_at"),
    ({"visit_at": "yesterday"}, "visit_at"),
    ({"kind": "outpatient"}, "visit_at"),
    ({"visit_at": "2026-05-01T08:00:00", "kind": "dental"}, "kind"),
    ({"visit_at": "2026-05-01T08:00:00", "spending": "-3"}, "spending"),
    ({"visit_at": "2026-05-01T08:00:00", "spending": "lots"}, "spending"),
    ({"visit_at": "2026-05-01T08:00:00", "department_id": 999999}, "department_id"),
])
def test_bad_visits_are_422_and_nothing_is_written(app, client, clinic, body, field):
    admin = headers(client, "a_admin")
    patient = register(client, admin)
    response = client.post(f"{BASE}/{patient['id']}/visits", json=body, headers=admin)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["error"]["fields"]
    assert count(app, Visit) == 0


def test_same_his_visit_id_twice_is_409(app, client, clinic):
    admin = headers(client, "a_admin")
    patient = register(client, admin)
    body = {"visit_at": "2026-05-01T08:00:00", "external_id": "V-9"}
    assert client.post(f"{BASE}/{patient['id']}/visits", json=body, headers=admin).status_code == 201
    again = client.post(f"{BASE}/{patient['id']}/visits", json=body, headers=admin)
    assert again.status_code == 409 and "V-9" in again.get_json()["error"]["message"]
    assert count(app, Visit) == 1


@pytest.mark.parametrize("params, field", [
    ({"department_id": "ortho"}, "department_id"),
    ({"visit_from": "2026-13-01"}, "visit_from"),
    ({"visit_from": "2026-05-02", "visit_to": "2026-05-01"}, "visit_to"),
    ({"sort": "phone"}, "sort"),
    ({"order": "sideways"}, "order"),
    ({"key_patient": "perhaps"}, "key_patient"),
    ({"per_page": "1000"}, "per_page"),
    ({"colour": "red"}, "colour"),
])
def test_bad_list_parameters_are_400(client, clinic, params, field):
    response = client.get(BASE, query_string=params, headers=headers(client, "a_admin"))
    assert response.status_code == 400
    assert field in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("phone", ["", "abc", "12", "1381234567x"])
def test_lookup_refuses_empty_or_garbage_numbers(client, clinic, phone):
    response = client.get(f"{BASE}/lookup", query_string={"phone": phone}, headers=headers(client, "a_admin"))
    assert response.status_code == 400
    assert "phone" in response.get_json()["error"]["fields"]
    assert client.get(f"{BASE}/lookup", headers=headers(client, "a_admin")).status_code == 400


def test_body_that_is_not_json_is_400(client, clinic):
    response = client.post(BASE, data="name=张三", headers=headers(client, "a_admin"))
    assert response.status_code == 400


# -- duplicates -------------------------------------------------------------------------------
def test_duplicate_is_409_with_masked_matches_until_allowed(app, client, clinic):
    admin = headers(client, "a_admin")
    first = register(client, admin, name="王五", phone="13812345678")
    response = client.post(BASE, json={"name": "王五", "phone": "138 1234 5678"}, headers=admin)
    assert response.status_code == 409
    assert response.get_json()["error"]["matches"] == [{"id": first["id"], "name": "王五", "phone": "138****5678"}]
    assert count(app, Patient) == 1
    allowed = client.post(f"{BASE}?allow_duplicate=true", json={"name": "王五", "phone": "13812345678"},
                          headers=admin)
    assert allowed.status_code == 201
    assert count(app, Patient) == 2


# -- privacy ----------------------------------------------------------------------------------
def test_staff_sees_masked_numbers_director_sees_them_and_is_audited(app, client, clinic):
    staff = headers(client, "a_staff")
    number = id_number("19850101", "246")
    created = client.post(BASE, json={"name": "赵六", "phone": "13812345678", "phone2": "0730-8765432",
                                      "id_number": number}, headers=staff)
    assert created.status_code == 201
    patient = created.get_json()
    assert (patient["phone"], patient["id_number"]) == ("138****5678", "4306**********" + number[-4:])
    for body in (client.get(f"{BASE}/{patient['id']}", headers=staff).get_json(),
                 client.get(BASE, headers=staff).get_json()["items"][0],
                 client.get(f"{BASE}/lookup?phone=13812345678", headers=staff).get_json()["matches"][0]):
        assert body["phone"] == "138****5678" and "8765432" not in body["phone2"]
        assert body["id_number"].startswith("4306****")
    assert count(app, AuditLog, AuditLog.action == "view") == 0  # masked views are not logged

    director = headers(client, "a_director")
    full = client.get(f"{BASE}/{patient['id']}", headers=director).get_json()
    assert (full["phone"], full["phone2"], full["id_number"]) == ("13812345678", "0730-8765432", number)
    with app.app_context(), system_scope():
        row = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "view")).scalar_one()
        assert (row.username, row.model, row.record_id, row.hospital_id) == (
            "a_director", "Patient", str(patient["id"]), clinic["a"])
    assert client.get(BASE, headers=director).get_json()["items"][0]["phone"] == "13812345678"
    assert count(app, AuditLog, AuditLog.action == "view") == 2


# -- isolation and permissions ----------------------------------------------------------------
def test_another_hospitals_patients_do_not_exist(client, clinic):
    a = headers(client, "a_admin")
    patient = register(client, a, name="张三", phone="13812345678")
    assert client.post(f"{BASE}/{patient['id']}/visits", json={"visit_at": "2026-05-01T08:00:00"},
                       headers=a).status_code == 201
    b = headers(client, "b_admin")
    url = f"{BASE}/{patient['id']}"
    for method, path, body in (("get", url, None), ("patch", url, {"name": "x"}), ("delete", url, None),
                               ("get", f"{url}/visits", None),
                               ("post", f"{url}/visits", {"visit_at": "2026-05-01T08:00:00"})):
        response = getattr(client, method)(path, json=body, headers=b)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["status"] == 404
    assert client.get(BASE, headers=b).get_json()["total"] == 0
    assert names(client.get(BASE, query_string={"q": "zs"}, headers=b)) == []
    assert client.get(f"{BASE}/lookup?phone=13812345678", headers=b).get_json()["matches"] == []
    assert client.get(url, headers=a).get_json()["name"] == "张三"  # untouched


def test_delete_needs_the_permission_and_no_visits(app, client, clinic):
    staff = headers(client, "a_staff")
    patient = register(client, staff)
    denied = client.delete(f"{BASE}/{patient['id']}", headers=staff)
    assert denied.status_code == 403 and denied.get_json()["error"]["permission"] == "patients.delete"
    admin = headers(client, "a_admin")
    client.post(f"{BASE}/{patient['id']}/visits", json={"visit_at": "2026-05-01T08:00:00"}, headers=admin)
    kept = client.delete(f"{BASE}/{patient['id']}", headers=admin)
    assert kept.status_code == 409 and "clinical records are kept" in kept.get_json()["error"]["message"]
    assert count(app, Patient) == 1
    spare = register(client, admin, name="李四", phone="13900001111")
    gone = client.delete(f"{BASE}/{spare['id']}", headers=admin)
    assert gone.status_code == 204 and gone.data == b""
    assert client.get(f"{BASE}/{spare['id']}", headers=admin).status_code == 404


def test_delete_a_visit_with_its_permission_then_the_patient_may_go(app, client, clinic):
    admin = headers(client, "a_admin")
    patient = register(client, admin)
    visit = client.post(f"{BASE}/{patient['id']}/visits", json={"visit_at": "2026-05-01T08:00:00"}, headers=admin)
    url = f"{BASE}/{patient['id']}/visits/{visit.get_json()['id']}"
    denied = client.delete(url, headers=headers(client, "a_staff"))
    assert denied.status_code == 403 and denied.get_json()["error"]["permission"] == "patients.delete_visits"
    other = register(client, admin, name="李四", phone="13900001111")
    assert client.delete(f"{BASE}/{other['id']}/visits/{visit.get_json()['id']}", headers=admin).status_code == 404
    assert client.delete(url, headers=headers(client, "b_admin")).status_code == 404
    assert client.delete(url, headers=admin).status_code == 204 and count(app, Visit) == 0
    assert client.delete(f"{BASE}/{patient['id']}", headers=admin).status_code == 204  # no visits left


def test_no_token_is_401(client, clinic):
    assert client.get(BASE).status_code == 401


ROUTES = [("get", BASE), ("post", BASE), ("get", f"{BASE}/1"), ("patch", f"{BASE}/1"), ("delete", f"{BASE}/1"),
          ("get", f"{BASE}/1/visits"), ("post", f"{BASE}/1/visits"), ("get", f"{BASE}/lookup?phone=13812345678"),
          ("get", f"{BASE}/diseases")]


def test_every_route_is_a_json_404_where_the_plugin_is_off(app, client):
    with app.app_context():
        make_user(make_hospital("C"), "c_admin", ("super_admin",))
    auth = headers(client, "c_admin")
    for method, path in ROUTES:
        response = getattr(client, method)(path, json={"name": "张三"}, headers=auth)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["status"] == 404


# -- documents and odd text -------------------------------------------------------------------
def test_openapi_documents_every_route_with_its_schemas(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    paths = doc["paths"]
    expected = {BASE: {"get", "post"}, f"{BASE}/{{patient_id}}": {"get", "patch", "delete"},
                f"{BASE}/{{patient_id}}/visits": {"get", "post"}, f"{BASE}/lookup": {"get"},
                f"{BASE}/diseases": {"get"}}
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods:
            op = paths[path][method]
            assert op["x-hcrm-permission"].startswith("patients.") and op["tags"] == ["patients"]
    assert paths[BASE]["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/patients.PatientCreate"}
    assert "409" in paths[BASE]["post"]["responses"]
    assert paths[f"{BASE}/{{patient_id}}"]["patch"]["requestBody"]["content"]["application/json"]["schema"][
        "$ref"].endswith("patients.PatientUpdate")
    assert paths[f"{BASE}/{{patient_id}}/visits"]["post"]["responses"]["201"]["content"]["application/json"][
        "schema"] == {"$ref": "#/components/schemas/patients.Visit"}
    listed = paths[BASE]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert listed["properties"]["items"]["items"] == {"$ref": "#/components/schemas/patients.Patient"}
    params = {p["name"] for p in paths[BASE]["get"]["parameters"]}
    assert {"q", "department_id", "source_id", "tag_id", "disease_id", "visit_from", "visit_to", "key_patient",
            "sort", "order", "page", "per_page"} <= params
    schemas = doc["components"]["schemas"]
    assert {"id", "name", "phone", "id_number", "region", "tags", "created_at"} <= set(
        schemas["patients.Patient"]["properties"])
    assert {"health_record", "recent_visits"} <= set(schemas["patients.PatientDetail"]["properties"])
    assert schemas["patients.VisitCreate"]["required"] == ["visit_at"]


def test_markup_in_a_name_is_plain_text(app, client, clinic):
    admin = headers(client, "a_admin")
    name = "<script>alert(1)</script>'; DROP TABLE x;--"
    created = client.post(BASE, json={"name": name, "notes": "<b>bold</b>"}, headers=admin)
    assert created.status_code == 201
    assert created.get_json()["name"] == name
    assert created.mimetype == "application/json"
    assert client.get(f"{BASE}/{created.get_json()['id']}", headers=admin).get_json()["notes"] == "<b>bold</b>"
    assert names(client.get(BASE, query_string={"q": "<script>"}, headers=admin)) == [name]


@pytest.mark.parametrize("caller", ["13812345678", "+86 138-1234-5678", "8613812345678", "013812345678"])
def test_screen_pop_understands_the_telephone_systems_formats(client, clinic, caller):
    admin = headers(client, "a_admin")
    patient = register(client, admin)
    popped = client.get(f"{BASE}/lookup", query_string={"phone": caller}, headers=admin).get_json()
    assert [m["id"] for m in popped["matches"]] == [patient["id"]]
    assert popped["new_patient_url"] == "/patients/new?phone=13812345678"


def test_discharging_an_inpatient_by_patch_tells_plugins(app, client, clinic, monkeypatch):
    from plugins.patients import services
    heard = []
    monkeypatch.setattr(services.events, "emit", lambda name, **kw: heard.append((name, kw.get("visit_ids"))))
    auth = headers(client, "a_admin")
    patient = register(client, auth, name="住院王", phone=None)
    visit = client.post(f"/api/v1/patients/{patient['id']}/visits", headers=auth,
                        json={"kind": "inpatient", "visit_at": "2026-11-01T09:00:00"}).get_json()
    assert visit["status"] == "admitted"
    changed = client.patch(f"/api/v1/patients/{patient['id']}/visits/{visit['id']}", headers=auth,
                           json={"discharge_at": "2026-11-08T10:00:00"})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["status"] == "discharged"
    assert changed.get_json()["discharge_at"].startswith("2026-11-08T10:00:00")
    assert ("patients.visits_recorded", [visit["id"]]) in heard and len(
        [h for h in heard if h[0] == "patients.visits_recorded"]) == 2

    early = client.patch(f"/api/v1/patients/{patient['id']}/visits/{visit['id']}", headers=auth,
                         json={"discharge_at": "2026-10-01T10:00:00"})
    assert early.status_code == 422 and "discharge_at" in str(early.get_json())
    other = register(client, auth, name="别人", phone=None)
    assert client.patch(f"/api/v1/patients/{other['id']}/visits/{visit['id']}", headers=auth,
                        json={"orders": "x"}).status_code == 404


def test_his_patient_id_is_unique_per_hospital(app, client, clinic):
    auth = headers(client, "a_admin")
    register(client, auth, name="甲", external_id="P-1")
    second = client.post(BASE, json={"name": "乙", "external_id": "P-1"}, headers=auth)
    assert second.status_code == 422 and "external_id" in str(second.get_json())
