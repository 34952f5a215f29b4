"""The hotline's API: /api/v1/hotline."""
from hotline_testing import PHONE, PLUGINS

from core.testing import api_token, make_hospital, make_user


def test_list_calls(app, client):
    with app.app_context():
        hospital = make_hospital("A", plugins=["patients", "hotline"])
        make_user(hospital, "nurse")
    response = client.get("/api/v1/hotline", headers=api_token(client, "nurse"))
    assert response.status_code == 200


def test_a_call_recorded_through_the_api_is_listed_and_read(app, client, clinic):
    headers = api_token(client, "a_admin")
    response = client.post("/api/v1/hotline", json={"phone": "+86 138-1234-5678", "topic": "Results?"},
                           headers=headers)
    assert response.status_code == 201, response.get_json()
    call = response.get_json()
    assert (call["phone"], call["topic"], call["patient"]) == (PHONE, "Results?", {"id": clinic["patient"], "name": "张三"})
    assert call["received_at"].endswith("+00:00")
    listed = client.get(f"/api/v1/hotline?phone={PHONE}", headers=headers).get_json()
    assert [c["id"] for c in listed["items"]] == [call["id"]] and listed["total"] == 1
    assert client.get(f"/api/v1/hotline/{call['id']}", headers=headers).get_json()["topic"] == "Results?"
    other = api_token(client, "b_admin")
    assert client.get(f"/api/v1/hotline/{call['id']}", headers=other).status_code == 404
    assert client.get("/api/v1/hotline", headers=other).get_json()["items"] == []


def test_bad_bodies_and_filters_answer_4xx_and_write_nothing(app, client, clinic):
    headers = {**api_token(client, "a_admin"), "Accept-Language": "en"}
    response = client.post("/api/v1/hotline", json={"phone": "12ab", "topic": "x", "patient_id": 999999},
                           headers=headers)
    assert response.status_code == 422
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {"phone", "patient_id"}
    assert client.post("/api/v1/hotline", json={"topic": "x"}, headers=headers).status_code == 422
    assert client.post("/api/v1/hotline", data="not json", headers=headers).status_code == 400
    assert client.get("/api/v1/hotline?since=2026-13-01", headers=headers).status_code == 400
    assert client.get("/api/v1/hotline?colour=red", headers=headers).status_code == 400
    assert client.get("/api/v1/hotline", headers=headers).get_json()["total"] == 0


def test_the_list_url_has_no_trailing_slash(app, client, clinic):
    """The routes are registered with "" (docs/api.md): /api/v1/hotline answers, JSON, no redirect."""
    response = client.get("/api/v1/hotline", headers=api_token(client, "a_admin"))
    assert response.status_code == 200 and response.is_json


def test_a_hospital_without_the_hotline_gets_404(app, client):
    with app.app_context():
        make_user(make_hospital("C", plugins=PLUGINS[:1]), "c_admin", ("super_admin",))
    assert client.get("/api/v1/hotline", headers=api_token(client, "c_admin")).status_code == 404
