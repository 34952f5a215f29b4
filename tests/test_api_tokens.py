"""API tokens: issue, use, list, revoke; what never authenticates; sign-in throttling."""
from datetime import timedelta

import sqlalchemy as sa

from core.testing import PASSWORD, api_token, login, make_hospital, make_user

TOKEN_URL = "/api/v1/auth/token"


def _issue(client, username, password=PASSWORD, **extra):
    return client.post(TOKEN_URL, json={"username": username, "password": password, **extra})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _assert_json_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status and error["message"]
    return error


def test_token_lifecycle_issue_use_list_revoke(app, client):
    with app.app_context():
        hospital = make_hospital("A", "示范医院")
        make_user(hospital, "alice")

    issued = _issue(client, "alice", name="his-bridge", expires_in_days=30)
    assert issued.status_code == 201
    first = issued.get_json()
    assert first["token"].startswith("hcrm_") and first["token_id"] > 0
    assert first["expires_at"].endswith("+00:00")
    assert first["user"]["username"] == "alice" and first["user"]["hospital"]["code"] == "A"
    assert first["user"]["roles"] == ["staff"]
    assert "password" not in issued.get_data(as_text=True)

    me = client.get("/api/v1/me", headers=_bearer(first["token"]))
    assert me.status_code == 200
    assert me.get_json()["user"]["username"] == "alice"
    assert me.get_json()["hospital"]["name"] == "示范医院"

    second = _issue(client, "alice").get_json()
    listed = client.get("/api/v1/auth/tokens", headers=_bearer(second["token"]))
    assert listed.status_code == 200
    page = listed.get_json()
    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (2, 1, 20, 1)
    by_id = {t["id"]: t for t in page["items"]}
    assert by_id[first["token_id"]]["name"] == "his-bridge"
    assert by_id[second["token_id"]]["current"] is True and by_id[first["token_id"]]["current"] is False
    body = listed.get_data(as_text=True)
    assert first["token"] not in body and second["token"] not in body and "hash" not in body

    revoked = client.delete(f"/api/v1/auth/tokens/{first['token_id']}", headers=_bearer(second["token"]))
    assert revoked.status_code == 204 and revoked.data == b""
    _assert_json_error(client.get("/api/v1/me", headers=_bearer(first["token"])), 401)
    active = client.get("/api/v1/auth/tokens", headers=_bearer(second["token"])).get_json()
    assert [t["id"] for t in active["items"]] == [second["token_id"]]
    everything = client.get("/api/v1/auth/tokens?all=true", headers=_bearer(second["token"])).get_json()
    assert everything["total"] == 2
    assert {t["id"]: t["revoked_at"] is not None for t in everything["items"]} == {
        first["token_id"]: True, second["token_id"]: False}

    signed_out = client.delete(TOKEN_URL, headers=_bearer(second["token"]))
    assert signed_out.status_code == 204
    _assert_json_error(client.get("/api/v1/me", headers=_bearer(second["token"])), 401)


def test_tokens_list_is_paginated(app, client):
    with app.app_context():
        make_user(make_hospital("A"), "alice")
    headers = api_token(client, "alice")
    for _ in range(4):
        _issue(client, "alice")
    page = client.get("/api/v1/auth/tokens?per_page=2&page=3", headers=headers).get_json()
    assert (page["total"], page["page"], page["per_page"], page["pages"]) == (5, 3, 2, 3)
    assert len(page["items"]) == 1
    beyond = client.get("/api/v1/auth/tokens?per_page=2&page=9", headers=headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 5


def test_another_users_token_cannot_be_listed_or_revoked(app, client):
    with app.app_context():
        a, b = make_hospital("A"), make_hospital("B")
        make_user(a, "alice")
        make_user(b, "bob")
    alice = api_token(client, "alice")
    bob = _issue(client, "bob").get_json()

    assert client.get("/api/v1/auth/tokens", headers=alice).get_json()["total"] == 1
    error = _assert_json_error(client.delete(f"/api/v1/auth/tokens/{bob['token_id']}", headers=alice), 404)
    assert str(bob["token_id"]) in error["message"]
    assert client.get("/api/v1/me", headers=_bearer(bob["token"])).status_code == 200


def test_expired_garbage_and_missing_tokens_are_401(app, client):
    from core.auth import issue_token
    from core.extensions import db
    from core.models import User
    from core.tenancy import system_scope
    with app.app_context():
        user = make_user(make_hospital("A"), "alice")
        expired, _record = issue_token(user, "old", ttl=timedelta(minutes=-1))

    for headers in (_bearer(expired), _bearer("hcrm_not-a-real-token"), {"Authorization": "Basic YWxpY2U6eA=="},
                    {"Authorization": "Bearer "}, {}):
        response = client.get("/api/v1/me", headers=headers)
        error = _assert_json_error(response, 401)
        assert "Bearer" in error["message"]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")

    headers = api_token(client, "alice")
    with app.app_context(), system_scope():
        db.session.execute(sa.update(User).where(User.username == "alice").values(active=False))
        db.session.commit()
    _assert_json_error(client.get("/api/v1/me", headers=headers), 401)


def test_a_session_cookie_never_authenticates_the_api(app, client):
    from core.extensions import db
    from core.models import HospitalPlugin
    from core.tenancy import system_scope
    with app.app_context():
        hospital = make_hospital("A")
        make_user(hospital, "admin", ("super_admin",))
        make_user(hospital, "bob")
    login(client, "admin")
    assert client.get("/").status_code == 200  # the web session works

    _assert_json_error(client.get("/api/v1/me"), 401)
    _assert_json_error(client.get("/api/v1/plugins"), 401)
    _assert_json_error(client.post("/api/v1/plugins/knowledge_base/enable"), 401)
    with app.app_context(), system_scope():
        assert db.session.execute(sa.select(HospitalPlugin)).first() is None

    # A bearer token wins over the cookie the browser also sends.
    bob = _issue(client, "bob").get_json()
    assert client.get("/api/v1/me", headers=_bearer(bob["token"])).get_json()["user"]["username"] == "bob"


def test_wrong_credentials_and_bad_bodies(app, client):
    with app.app_context():
        make_user(make_hospital("A"), "alice")
    client.post("/language", data={"locale": "en"})  # the assertions read the English messages

    error = _assert_json_error(_issue(client, "alice", "wrong-password"), 401)
    assert error["message"] == "Wrong username or password."
    _assert_json_error(_issue(client, "nobody"), 401)

    missing = _assert_json_error(client.post(TOKEN_URL, json={"username": "alice"}), 422)
    assert list(missing["fields"]) == ["password"]
    assert "password" in _assert_json_error(
        client.post(TOKEN_URL, json={"username": "alice", "password": ""}), 422)["fields"]
    assert "expires_in_days" in _assert_json_error(_issue(client, "alice", expires_in_days=0), 422)["fields"]
    assert "role" in _assert_json_error(_issue(client, "alice", role="admin"), 422)["fields"]

    for kwargs in ({"data": "username=alice", "content_type": "application/x-www-form-urlencoded"},
                   {"data": '{"username": "alice",', "content_type": "application/json"},
                   {"json": ["alice", PASSWORD]}):
        error = _assert_json_error(client.post(TOKEN_URL, **kwargs), 400)
        assert "JSON object" in error["message"]


def test_throttled_after_too_many_failures(app, client):
    max_failures = app.extensions["hcrm"].config.login_max_failures
    with app.app_context():
        make_user(make_hospital("A"), "alice")
    client.post("/language", data={"locale": "en"})  # the assertion reads the English message
    for _ in range(max_failures):
        _assert_json_error(_issue(client, "alice", "wrong-password"), 401)

    throttled = _issue(client, "alice")  # even the right password, while locked
    error = _assert_json_error(throttled, 429)
    assert "Try again" in error["message"]
    lockout = app.extensions["hcrm"].config.login_lockout_minutes
    assert int(throttled.headers["Retry-After"]) == lockout * 60
