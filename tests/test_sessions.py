"""Sessions end on the server: a copied session or remember-me cookie stops working after a
logout, a password change (by the user or an administrator), a deactivation or new roles."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import Role, User
from core.tenancy import system_scope
from core.testing import PASSWORD, login, make_hospital, make_user

NEW_PASSWORD = "another-horse-7"
DOMAIN = "hcrm.test"  # core.testing's SERVER_NAME


@pytest.fixture
def people(app):
    with app.app_context():
        a = make_hospital("A")
        nurse = make_user(a, "nurse", ("staff",))
        make_user(a, "boss", ("super_admin",))
        with system_scope():
            roles = {r.code: r.id for r in db.session.execute(sa.select(Role).where(Role.hospital_id == a.id)).scalars()}
        return {"nurse": nurse.id, "roles": roles}


def stolen(app, client, *names):
    """A second browser holding copies of ``client``'s cookies (what an attacker replays)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name, domain=DOMAIN)
        assert cookie is not None, f"no {name} cookie to copy"
        thief.set_cookie(name, cookie.value, domain=cookie.domain)
    return thief


def signed_in(browser) -> bool:
    response = browser.get("/")
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]
        return False
    assert response.status_code == 200
    return True


def test_copied_session_cookie_dies_with_logout(app, client, people):
    login(client, "nurse")
    thief = stolen(app, client, "session")
    assert signed_in(thief)
    assert client.post("/logout").status_code == 302
    assert not signed_in(thief)
    assert not signed_in(client)


def test_copied_remember_me_cookie_dies_with_logout(app, client, people):
    response = client.post("/login", data={"username": "nurse", "password": PASSWORD, "remember": "y"})
    assert response.status_code == 302
    thief = stolen(app, client, "remember_token")  # no session cookie: the remember-me cookie alone
    assert signed_in(thief)
    client.post("/logout")
    assert not signed_in(stolen(app, thief, "remember_token"))


def test_password_change_by_the_user_ends_the_other_sessions_only(app, client, people):
    login(client, "nurse")
    thief = stolen(app, client, "session")
    response = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert not signed_in(thief)
    assert signed_in(client)  # the session that changed it goes on


def admin_client(app):
    admin = app.test_client()
    login(admin, "boss")
    return admin


def test_password_reset_by_an_administrator_ends_the_sessions(app, client, people):
    login(client, "nurse")
    thief = stolen(app, client, "session")
    response = admin_client(app).post(f"/admin/users/{people['nurse']}/password",
                                      data={"new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD})
    assert response.status_code == 302
    assert not signed_in(thief)
    assert not signed_in(client)


def edit_nurse(app, people, **changes):
    data = {"display_name": "Nurse", "active": "y", "roles": [people["roles"]["staff"]], **changes}
    data = {k: v for k, v in data.items() if v is not None}
    response = admin_client(app).post(f"/admin/users/{people['nurse']}", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)


def test_deactivation_ends_the_sessions_and_reactivation_does_not_revive_them(app, client, people):
    login(client, "nurse")
    thief = stolen(app, client, "session")
    edit_nurse(app, people, active=None)
    assert not signed_in(thief)
    edit_nurse(app, people)
    assert not signed_in(thief)


def test_new_roles_end_the_sessions(app, client, people):
    login(client, "nurse")
    thief = stolen(app, client, "session")
    edit_nurse(app, people, roles=[people["roles"]["staff"], people["roles"]["director"]])
    assert not signed_in(thief)


def test_other_edits_keep_the_sessions(app, client, people):
    login(client, "nurse")
    edit_nurse(app, people, display_name="Nurse Li")
    assert signed_in(client)


def test_a_role_losing_a_permission_applies_at_the_next_request(app, people):
    """Grants are read afresh on every request: no sign-out is needed for them to apply."""
    admin = admin_client(app)
    assert admin.get("/admin/users").status_code == 200
    with app.app_context(), system_scope():
        db.session.get(Role, people["roles"]["super_admin"]).set_permissions([])
        db.session.commit()
    assert admin.get("/admin/users").status_code == 403
    assert signed_in(admin)


def test_a_forged_or_old_format_session_id_is_refused(app, people):
    from core.web import load_user
    with app.app_context():
        with system_scope():
            user = db.session.get(User, people["nurse"])
            good, fingerprint = user.get_id(), user.session_fingerprint
        assert load_user(good) is not None
        for bad in (f"{people['nurse']}.{fingerprint}", f"{people['nurse']}.1.{fingerprint}",
                    f"{people['nurse']}.0.{'0' * 16}", "9" * 5000 + f".0.{fingerprint}", "", "x.y.z",
                    f"{people['nurse']}.².{fingerprint}"):
            assert load_user(bad) is None, bad
