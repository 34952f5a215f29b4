"""Signing in and out, throttling, CSRF, password changes, cookies and the language switch,
all through the HTTP test client."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import AuditLog, Hospital, LoginAttempt, User
from core.tenancy import system_scope
from core.testing import PASSWORD, login, make_hospital, make_user

WRONG = "Wrong username or password."
LOCKED = "Too many failed sign-ins"
ENGLISH = {"default_locale": "en"}  # the assertions read the English messages


@pytest.fixture
def app(app_factory):
    """The suite's app, in English (the deployment default, Chinese, has its own test below)."""
    return app_factory(config_overrides=ENGLISH)


@pytest.fixture
def hospital(app):
    with app.app_context():
        hospital = make_hospital("A", "示范医院")
        make_user(hospital, "alice", ("super_admin",))
        return hospital.id


def post_login(client, username, password=PASSWORD, next_url=None, **extra):
    url = "/login" + (f"?next={next_url}" if next_url is not None else "")
    return client.post(url, data={"username": username, "password": password, **extra})


def signed_in(client) -> bool:
    """Whether the client's session is signed in (the dashboard answers instead of redirecting)."""
    return client.get("/").status_code == 200


def set_cookies(response, name="session") -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]


# -- signing in -------------------------------------------------------------------------------
@pytest.mark.parametrize("next_url, expected", [
    ("/admin/users", "/admin/users"),
    ("/admin/users?page=2", "/admin/users?page=2"),
    (None, "/"),
    ("", "/"),
    ("//evil.example", "/"),
    ("https://evil.example", "/"),
    ("/\\evil.example", "/"),
    ("%2F%2Fevil.example", "/"),
    # Browsers drop tabs and newlines inside URLs, so "/<tab>/evil.example" means //evil.example.
    ("/%09/evil.example", "/"),
    ("/%0A/evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_sign_in_redirects_only_to_local_paths(client, hospital, next_url, expected):
    from urllib.parse import quote
    target = None if next_url is None else (next_url if "%" in next_url else quote(next_url, safe="/:?="))
    response = post_login(client, "alice", next_url=target)
    assert response.status_code == 302
    assert response.headers["Location"] == expected
    assert signed_in(client)


def test_login_page_keeps_next_through_the_redirect_of_a_protected_page(client, hospital):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")
    response = client.post(response.headers["Location"], data={"username": "alice", "password": PASSWORD})
    assert response.headers["Location"] == "/admin/users"


def test_signed_in_user_visiting_login_goes_to_dashboard(client, hospital):
    login(client, "alice")
    response = client.get("/login")
    assert response.status_code == 302 and response.headers["Location"] == "/"


@pytest.mark.parametrize("username, password", [
    ("alice", "wrong-password"),
    ("nobody", PASSWORD),        # unknown user: the same answer (no user enumeration)
    ("ALICE", PASSWORD),
])
def test_bad_credentials_get_one_message_and_no_session(client, hospital, username, password):
    response = post_login(client, username, password)
    assert response.status_code == 401
    html = response.get_data(as_text=True)
    assert WRONG in html
    assert not signed_in(client)


def test_username_is_trimmed(client, hospital):
    response = post_login(client, "  alice ")
    assert response.status_code == 302


def test_empty_form_is_a_400_with_the_form_errors(client, hospital):
    response = client.post("/login", data={"username": "", "password": ""})
    assert response.status_code == 400
    assert not signed_in(client)


def test_inactive_user_cannot_sign_in(app, client, hospital):
    with app.app_context(), system_scope():
        db.session.execute(sa.update(User).where(User.username == "alice").values(active=False))
        db.session.commit()
    response = post_login(client, "alice")
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    assert not signed_in(client)


def test_user_of_an_inactive_hospital_cannot_sign_in(app, client, hospital):
    with app.app_context():
        other = make_hospital("B")
        make_user(other, "bob")
        with system_scope():
            db.session.execute(sa.update(Hospital).where(Hospital.code == "A").values(active=False))
            db.session.commit()
    response = post_login(client, "alice")
    assert response.status_code == 401 and WRONG in response.get_data(as_text=True)
    assert not signed_in(client)
    login(client, "bob")  # the other hospital is unaffected


def test_deactivating_a_signed_in_user_ends_their_session(app, client, hospital):
    login(client, "alice")
    with app.app_context(), system_scope():
        db.session.execute(sa.update(User).where(User.username == "alice").values(active=False))
        db.session.commit()
    assert not signed_in(client)


def test_sign_in_is_audited_and_stamps_last_login(app, client, hospital):
    login(client, "alice")
    with app.app_context(), system_scope():
        user = db.session.execute(sa.select(User).where(User.username == "alice")).scalar_one()
        rows = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "login")).scalars().all()
        assert [(r.user_id, r.username, r.hospital_id, r.record_id) for r in rows] == [
            (user.id, "alice", hospital, str(user.id))]
        assert user.last_login_at is not None


def test_failed_sign_in_writes_no_login_audit_row(app, client, hospital):
    post_login(client, "alice", "wrong-password")
    with app.app_context(), system_scope():
        assert db.session.execute(sa.select(AuditLog).where(AuditLog.action == "login")).first() is None


# -- throttling -------------------------------------------------------------------------------
@pytest.fixture
def strict_app(app_factory):
    """An app that locks a username out after 3 failures."""
    application = app_factory(config_overrides={**ENGLISH, "login_max_failures": 3})
    with application.app_context():
        hospital = make_hospital("A")
        make_user(hospital, "alice")
        make_user(hospital, "bob")
    return application


def test_lockout_after_max_failures_even_with_the_right_password(strict_app):
    client = strict_app.test_client()
    for _ in range(3):
        assert post_login(client, "alice", "wrong-password").status_code == 401
    response = post_login(client, "alice")
    assert response.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in response.get_data(as_text=True)
    assert not signed_in(client)
    # Guessing while locked gains nothing and the lock holds.
    assert post_login(client, "alice", "wrong-password").status_code == 429


def test_default_limit_is_five_failures(app, client, hospital):
    for _ in range(5):
        assert post_login(client, "alice", "wrong-password").status_code == 401
    assert post_login(client, "alice").status_code == 429


def test_lockout_is_per_username(strict_app):
    client = strict_app.test_client()
    for _ in range(3):
        post_login(client, "alice", "wrong-password")
    assert post_login(client, "alice").status_code == 429
    assert post_login(client, "bob").status_code == 302


def test_many_failures_from_one_address_lock_it(strict_app):
    """Spraying many usernames from one address is throttled too (4x the per-user limit)."""
    client = strict_app.test_client()
    for i in range(12):
        assert post_login(client, f"guess{i}", "x").status_code == 401
    response = post_login(client, "bob")
    assert response.status_code == 429 and LOCKED in response.get_data(as_text=True)


def test_success_resets_the_counter(strict_app):
    client = strict_app.test_client()
    for _ in range(2):
        post_login(client, "alice", "wrong-password")
    login(client, "alice")
    client.post("/logout")
    for _ in range(2):
        assert post_login(client, "alice", "wrong-password").status_code == 401
    login(client, "alice")


def test_lockout_ends_after_the_window(strict_app):
    client = strict_app.test_client()
    for _ in range(3):
        post_login(client, "alice", "wrong-password")
    assert post_login(client, "alice").status_code == 429
    with strict_app.app_context(), system_scope():
        db.session.execute(sa.update(LoginAttempt).values(at=LoginAttempt.at - timedelta(minutes=16)))
        db.session.commit()
    assert post_login(client, "alice").status_code == 302


# -- CSRF -------------------------------------------------------------------------------------
def test_login_needs_the_csrf_token(app_factory):
    application = app_factory(config_overrides=ENGLISH, WTF_CSRF_ENABLED=True)
    with application.app_context():
        make_user(make_hospital("A"), "alice")
    client = application.test_client()
    response = post_login(client, "alice")
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert not signed_in(client)

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                      r'name="csrf_token" value="([^"]+)"', page)
    assert token, "the login form carries a CSRF token"
    response = post_login(client, "alice", csrf_token=token.group(1) or token.group(2))
    assert response.status_code == 302
    assert signed_in(client)


# -- signing out ------------------------------------------------------------------------------
def test_logout_is_post_only_and_ends_the_session(client, hospital):
    login(client, "alice")
    assert client.get("/logout").status_code == 405
    assert signed_in(client)  # a GET (a link, an <img>) cannot sign anyone out
    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not signed_in(client)
    assert "You have signed out." in client.get("/login").get_data(as_text=True)


# -- password change --------------------------------------------------------------------------
NEW = "a-new-password-42"


def change(client, current, new, confirm=None):
    return client.post("/account/password", data={
        "current_password": current, "new_password": new,
        "confirm_password": new if confirm is None else confirm})


def test_password_page_needs_sign_in(client, hospital):
    response = client.get("/account/password")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("current, new, confirm, message", [
    ("wrong-password", NEW, None, "The current password is wrong."),
    (PASSWORD, "short", None, "Field must be between 8 and 256 characters long."),
    (PASSWORD, NEW, NEW + "x", "The passwords differ."),
    (PASSWORD, PASSWORD, None, "The new password must differ from the current one."),
    (PASSWORD, "", None, "This field is required."),
])
def test_password_change_errors_change_nothing(client, hospital, current, new, confirm, message):
    login(client, "alice")
    response = change(client, current, new, confirm)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    client.post("/logout")
    login(client, "alice")  # the old password still works
    client.post("/logout")
    if new and new != current:
        assert post_login(client, "alice", new).status_code == 401


def test_password_change_success(app, client, hospital):
    login(client, "alice")
    assert client.get("/account/password").status_code == 200
    response = change(client, PASSWORD, NEW)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Your password has been changed." in client.get("/").get_data(as_text=True)
    client.post("/logout")
    assert post_login(client, "alice", PASSWORD).status_code == 401
    login(client, "alice", NEW)
    with app.app_context(), system_scope():
        user = db.session.execute(sa.select(User).where(User.username == "alice")).scalar_one()
        assert "a-new-password" not in user.password_hash  # stored hashed, never in clear


# -- cookies ----------------------------------------------------------------------------------
def cookie_attributes(header: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in header.split(";")[1:]}


def test_session_cookie_is_httponly_and_samesite_lax(client, hospital):
    response = post_login(client, "alice")
    (cookie,) = set_cookies(response)
    assert {"httponly", "samesite"} <= cookie_attributes(cookie)
    assert "SameSite=Lax" in cookie
    assert "secure" not in cookie_attributes(cookie)  # the test config turns Secure off


def test_cookies_are_secure_when_configured(app_factory):
    application = app_factory(config_overrides={"session_cookie_secure": True})
    with application.app_context():
        make_user(make_hospital("A"), "alice")
    client = application.test_client()
    response = post_login(client, "alice", remember="y")
    (cookie,) = set_cookies(response)
    assert {"httponly", "secure", "samesite"} <= cookie_attributes(cookie)
    (remember,) = set_cookies(response, "remember_token")
    assert {"httponly", "secure", "samesite"} <= cookie_attributes(remember)


# -- language ---------------------------------------------------------------------------------
def test_login_page_is_chinese_by_default_and_switches_to_english(app_factory):
    from core.config import default_config
    assert default_config().default_locale == "zh_CN"
    client = app_factory().test_client()  # the deployment defaults
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.get_data(as_text=True)
    response = client.post("/language", data={"locale": "en", "next": "/login"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("locale", ["fr", "", "../etc"])
def test_unknown_language_is_refused(client, hospital, locale):
    response = client.post("/language", data={"locale": locale})
    assert response.status_code == 400
    assert "Unknown language" in response.get_data(as_text=True)
    assert '<html lang="en">' in client.get("/login").get_data(as_text=True)  # unchanged


def test_language_switch_does_not_redirect_off_site(client, hospital):
    response = client.post("/language", data={"locale": "en", "next": "//evil.example"})
    assert response.headers["Location"] == "/"


def test_unknown_and_inactive_accounts_cost_one_password_check_like_known_ones(app, client, hospital, monkeypatch):
    """Answering an unknown username faster than a wrong password would reveal who has an account."""
    import core.models
    checks = []
    real = core.models.check_password_hash
    monkeypatch.setattr(core.models, "check_password_hash", lambda *a: checks.append(1) or real(*a))
    with app.app_context():
        make_user(make_hospital("B"), "bob")
        with system_scope():
            db.session.execute(sa.update(User).where(User.username == "bob").values(active=False))
            db.session.commit()
    for username, password in (("alice", "wrong-password"), ("nobody", "wrong-password"),
                               ("bob", PASSWORD)):
        checks.clear()
        assert post_login(client, username, password).status_code == 401
        assert len(checks) == 1, username


def test_password_change_signs_out_other_sessions(app):
    from core.testing import PASSWORD, login, make_hospital, make_user
    with app.app_context():
        make_user(make_hospital("S"), "sam", ("staff",))
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "sam")
    login(elsewhere, "sam")
    changed = here.post("/account/password", data={"current_password": PASSWORD, "new_password": "brand-new-pass-1",
                                                   "confirm_password": "brand-new-pass-1"})
    assert changed.status_code == 302
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302  # back to the sign-in page


@pytest.mark.parametrize("proxies, recorded", [(0, "127.0.0.1"), (1, "203.0.113.7")])
def test_client_address_behind_a_trusted_proxy(app_factory, proxies, recorded):
    """Failed sign-ins are counted per client address: behind nginx that address is in
    X-Forwarded-For, which is believed only when the deployment declares the proxy."""
    app = app_factory(config_overrides={"trusted_proxies": proxies})
    with app.app_context():
        make_user(make_hospital("PX"), "proxied", ("staff",))
    app.test_client().post("/login", data={"username": "proxied", "password": "wrong"},
                           headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})
    with app.app_context(), system_scope():
        addresses = db.session.execute(sa.select(LoginAttempt.remote_addr)
                                       .where(LoginAttempt.username == "proxied")).scalars().all()
    assert addresses == [recorded]
