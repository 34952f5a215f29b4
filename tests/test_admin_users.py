"""Users, roles and departments administration: the pages, their refusals and hospital isolation."""
from __future__ import annotations

import sqlalchemy as sa

from core.testing import PASSWORD, make_department, make_hospital, make_user
from core.testing import login as sign_in


def login(client, username, password=PASSWORD):
    """Sign in and switch to English, so the messages asserted below are the source strings."""
    sign_in(client, username, password)
    client.post("/language", data={"locale": "en"})


def text(response):
    return response.get_data(as_text=True)


def rows(app, hospital_id, stmt):
    from core.extensions import db
    from core.tenancy import hospital_scope
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(stmt).all()


def role_id(app, hospital_id, code):
    from core.models import Role
    return rows(app, hospital_id, sa.select(Role.id).where(Role.code == code))[0][0]


def user_row(app, username):
    from core.extensions import db
    from core.models import User
    from core.tenancy import system_scope
    with app.app_context(), system_scope():
        user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
        if user is None:
            return None
        return {"id": user.id, "hospital_id": user.hospital_id, "display_name": user.display_name,
                "active": user.active, "department_id": user.department_id,
                "roles": sorted(r.code for r in user.roles), "group": user.is_group_admin}


def setup_two_hospitals(app):
    with app.app_context():
        a = make_hospital("A")
        b = make_hospital("B")
        cardio = make_department(a, "CARD", "Cardiology")
        make_department(b, "ORTH", "Orthopaedics")
        make_user(a, "admin_a", ("super_admin",))
        make_user(a, "nurse_a", ("staff",), department=cardio)
        make_user(b, "admin_b", ("super_admin",))
        return a.id, b.id, cardio.id


ADMIN_GETS = ["/admin/apps", "/admin/users", "/admin/users/new", "/admin/roles", "/admin/roles/new",
              "/admin/audit", "/admin/departments", "/admin/departments/new"]


def test_staff_gets_403_on_every_admin_page(app, client):
    a_id, _b, _c = setup_two_hospitals(app)
    admin_id = user_row(app, "admin_a")["id"]
    role = role_id(app, a_id, "staff")
    login(client, "nurse_a")
    for url in ADMIN_GETS + [f"/admin/users/{admin_id}", f"/admin/roles/{role}"]:
        assert client.get(url).status_code == 403, url
    for url in ["/admin/apps/patients/enable", "/admin/users/new", f"/admin/users/{admin_id}",
                f"/admin/users/{admin_id}/password", f"/admin/roles/{role}", f"/admin/roles/{role}/delete"]:
        assert client.post(url, data={"new_password": "x" * 12}).status_code == 403, url
    assert user_row(app, "admin_a")["active"]


def test_admin_pages_need_a_sign_in(client, app):
    setup_two_hospitals(app)
    for url in ADMIN_GETS:
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url


def test_hospital_b_sees_nothing_of_hospital_a(app, client):
    a_id, b_id, cardio_id = setup_two_hospitals(app)
    nurse = user_row(app, "nurse_a")["id"]
    a_role = role_id(app, a_id, "staff")
    login(client, "admin_b")
    users = text(client.get("/admin/users"))
    assert "admin_b" in users and "nurse_a" not in users and "admin_a" not in users
    assert "1 record" in users  # the pagination count is scoped too
    assert "Cardiology" not in text(client.get("/admin/departments"))
    assert client.get(f"/admin/users/{nurse}").status_code == 404
    assert client.post(f"/admin/users/{nurse}", data={"display_name": "Hacked", "active": "y"}).status_code == 404
    assert client.post(f"/admin/users/{nurse}/password",
                       data={"new_password": "new-password-1", "confirm_password": "new-password-1"}).status_code == 404
    assert client.get(f"/admin/roles/{a_role}").status_code == 404
    assert client.post(f"/admin/roles/{a_role}", data={"name": "x", "data_scope": "own"}).status_code == 404
    assert client.post(f"/admin/roles/{a_role}/delete").status_code == 404
    assert client.get(f"/admin/departments/{cardio_id}").status_code == 404
    # Picking A's department or role for a B user is refused and writes nothing.
    response = client.post("/admin/users/new", data={
        "username": "sneaky", "display_name": "Sneaky", "department": cardio_id, "roles": [a_role],
        "password": "long-enough-1", "confirm": "long-enough-1"})
    assert response.status_code == 400 and user_row(app, "sneaky") is None
    assert user_row(app, "nurse_a")["display_name"] == "Nurse_A"


def test_create_user_through_the_page(app, client):
    a_id, _b, cardio_id = setup_two_hospitals(app)
    login(client, "admin_a")
    response = client.post("/admin/users/new", data={
        "username": "li.na", "display_name": "李娜", "department": cardio_id,
        "roles": [role_id(app, a_id, "staff"), role_id(app, a_id, "supervisor")],
        "password": "long-enough-1", "confirm": "long-enough-1"})
    assert response.status_code == 302
    created = user_row(app, "li.na")
    assert created["hospital_id"] == a_id and created["department_id"] == cardio_id
    assert created["roles"] == ["staff", "supervisor"] and not created["group"]
    listing = text(client.get("/admin/users?q=李"))
    admin = user_row(app, "admin_a")["id"]
    assert "li.na" in listing and "Cardiology" in listing and f"/admin/users/{admin}\"" not in listing
    other = client.application.test_client()
    login(other, "li.na", "long-enough-1")


def test_bad_user_input_writes_nothing_and_says_why(app, client):
    a_id, _b, _c = setup_two_hospitals(app)
    login(client, "admin_a")
    good = {"username": "newbie", "display_name": "New", "department": 0,
            "password": "long-enough-1", "confirm": "long-enough-1"}
    cases = [
        ({"username": "admin_b"}, "already taken"),             # another hospital's user
        ({"username": "ADMIN_A"}, "already taken"),             # differs only in case
        ({"username": "a b"}, "Usernames are 3 to 64 characters"),
        ({"username": "ab"}, "Usernames are 3 to 64 characters"),
        ({"password": "short", "confirm": "short"}, "at least 8 characters"),
        ({"confirm": "something-else"}, "The passwords differ."),
    ]
    for change, message in cases:
        response = client.post("/admin/users/new", data={**good, **change})
        assert response.status_code == 400, change
        assert message in text(response), change
    from core.models import User
    assert len(rows(app, a_id, sa.select(User.id))) == 2
    assert user_row(app, "newbie") is None and user_row(app, "a b") is None


def test_edit_user_and_the_refusals(app, client):
    a_id, _b, cardio_id = setup_two_hospitals(app)
    nurse, admin = user_row(app, "nurse_a")["id"], user_row(app, "admin_a")["id"]
    login(client, "admin_a")
    response = client.post(f"/admin/users/{nurse}", data={
        "display_name": "Nurse Wang", "department": 0, "roles": [role_id(app, a_id, "analyst")],
        "is_group_admin": "y"})  # not offered to a hospital admin: ignored
    assert response.status_code == 302
    assert user_row(app, "nurse_a") == {"id": nurse, "hospital_id": a_id, "display_name": "Nurse Wang",
                                        "active": False, "department_id": None, "roles": ["analyst"],
                                        "group": False}
    page = client.get(f"/admin/users/{admin}")
    assert "is_group_admin" not in text(page)
    refused = client.post(f"/admin/users/{admin}", data={"display_name": "Me", "roles": [role_id(app, a_id, "super_admin")]})
    assert refused.status_code == 400 and "You cannot deactivate your own account." in text(refused)
    assert user_row(app, "admin_a")["active"] and user_row(app, "admin_a")["display_name"] == "Admin_A"


def test_reset_password(app, client):
    setup_two_hospitals(app)
    nurse = user_row(app, "nurse_a")["id"]
    login(client, "admin_a")
    short = client.post(f"/admin/users/{nurse}/password", data={"new_password": "short", "confirm_password": "short"})
    assert short.status_code == 400 and "at least 8 characters" in text(short)
    login(client.application.test_client(), "nurse_a")  # old password still works
    done = client.post(f"/admin/users/{nurse}/password",
                       data={"new_password": "brand-new-pass", "confirm_password": "brand-new-pass"})
    assert done.status_code == 302
    login(client.application.test_client(), "nurse_a", "brand-new-pass")
    refused = client.application.test_client().post("/login", data={"username": "nurse_a", "password": PASSWORD})
    assert refused.status_code == 401


def test_hospital_admin_cannot_touch_a_group_admin(app, client):
    with app.app_context():
        a = make_hospital("A")
        make_user(a, "admin_a", ("super_admin",))
        make_user(a, "chief", (), group_admin=True)
    chief = user_row(app, "chief")["id"]
    login(client, "admin_a")
    assert client.post(f"/admin/users/{chief}", data={"display_name": "x", "active": "y"}).status_code == 403
    assert client.post(f"/admin/users/{chief}/password",
                       data={"new_password": "taken-over-1", "confirm_password": "taken-over-1"}).status_code == 403
    assert user_row(app, "chief")["display_name"] == "Chief"
    login(client.application.test_client(), "chief")

    # The group admin can grant the flag and pick the "group" data scope.
    group = client.application.test_client()
    login(group, "chief")
    nurse_page = group.get("/admin/users/new")
    assert "is_group_admin" in text(nurse_page)
    assert group.post("/admin/users/new", data={
        "username": "deputy", "display_name": "Deputy", "is_group_admin": "y",
        "password": "long-enough-1", "confirm": "long-enough-1"}).status_code == 302
    assert user_row(app, "deputy")["group"] is True


def test_explain_why_a_user_can_or_cannot(app, client):
    setup_two_hospitals(app)
    nurse = user_row(app, "nurse_a")["id"]
    login(client, "admin_a")
    page = text(client.get(f"/admin/users/{nurse}?permission=core.users.read"))
    assert "may not use" in page and "none of the user&#39;s roles grants it" in page
    admin = user_row(app, "admin_a")["id"]
    page = text(client.get(f"/admin/users/{admin}?permission=core.users.read"))
    assert "may use" in page and "granted by role(s)" in page
    bad = client.get(f"/admin/users/{nurse}?permission=nope.nothing")
    assert bad.status_code == 400 and "Unknown permission" in text(bad)


# -- roles --------------------------------------------------------------------------------------
def test_roles_list_and_unknown_permission_is_400(app, client):
    a_id, _b, _c = setup_two_hospitals(app)
    staff = role_id(app, a_id, "staff")
    login(client, "admin_a")
    listing = text(client.get("/admin/roles"))
    assert "super_admin" in listing and "Own records" in listing
    bad = client.post(f"/admin/roles/{staff}", data={"name": "Renamed", "data_scope": "own",
                                                     "permissions": ["core.users.read", "made.up"]})
    assert bad.status_code == 400 and "made.up" in text(bad)
    from core.models import Role
    assert rows(app, a_id, sa.select(Role.name).where(Role.id == staff))[0][0] == "员工"
    ok = client.post(f"/admin/roles/{staff}", data={"name": "Staff", "data_scope": "department",
                                                    "permissions": ["core.users.read"]})
    assert ok.status_code == 302
    with app.app_context():
        from core.extensions import db
        from core.tenancy import hospital_scope
        with hospital_scope(a_id):
            role = db.session.get(Role, staff)
            assert (role.name, role.data_scope, role.permissions) == ("Staff", "department", {"core.users.read"})


def test_group_scope_is_for_group_admins_only(app, client):
    a_id, _b, _c = setup_two_hospitals(app)
    login(client, "admin_a")
    assert "All hospitals of the group" not in text(client.get("/admin/roles/new"))
    response = client.post("/admin/roles/new", data={"code": "everywhere", "name": "Everywhere", "data_scope": "group"})
    assert response.status_code == 400
    from core.models import Role
    assert rows(app, a_id, sa.select(Role.id).where(Role.code == "everywhere")) == []


def test_role_delete_rules(app, client):
    a_id, _b, _c = setup_two_hospitals(app)
    login(client, "admin_a")
    default = client.post(f"/admin/roles/{role_id(app, a_id, 'analyst')}/delete")
    assert default.status_code == 409 and "Default roles cannot be deleted" in text(default)
    assert client.post("/admin/roles/new", data={"code": "callers", "name": "Call centre", "data_scope": "own",
                                                 "permissions": ["core.users.read"]}).status_code == 302
    callers = role_id(app, a_id, "callers")
    duplicate = client.post("/admin/roles/new", data={"code": "callers", "name": "Again", "data_scope": "own"})
    assert duplicate.status_code == 400 and "already has the code" in text(duplicate)
    nurse = user_row(app, "nurse_a")["id"]
    client.post(f"/admin/users/{nurse}", data={"display_name": "Nurse", "active": "y", "roles": [callers]})
    held = client.post(f"/admin/roles/{callers}/delete")
    assert held.status_code == 409 and "still held by 1 user" in text(held)
    assert "/admin/users?role=" in text(client.get("/admin/roles"))
    client.post(f"/admin/users/{nurse}", data={"display_name": "Nurse", "active": "y"})
    assert client.post(f"/admin/roles/{callers}/delete").status_code == 302
    from core.models import Role
    assert rows(app, a_id, sa.select(Role.id).where(Role.code == "callers")) == []


# -- departments --------------------------------------------------------------------------------
def test_departments_tree_and_refusals(app, client):
    a_id, _b, cardio_id = setup_two_hospitals(app)
    login(client, "admin_a")
    assert client.post("/admin/departments/new", data={"code": "CARD-W1", "name": "Ward 1",
                                                       "parent": cardio_id, "active": "y"}).status_code == 302
    from core.models import Department
    ward = rows(app, a_id, sa.select(Department.id).where(Department.code == "CARD-W1"))[0][0]
    tree = text(client.get("/admin/departments"))
    tree = tree[tree.index("<tbody"):]
    assert tree.index("Cardiology") < tree.index("Ward 1")
    dup = client.post("/admin/departments/new", data={"code": "CARD", "name": "Again", "parent": 0})
    assert dup.status_code == 400 and "already has the code" in text(dup)
    cycle = client.post(f"/admin/departments/{cardio_id}", data={"code": "CARD", "name": "Cardiology",
                                                                 "parent": ward, "active": "y"})
    assert cycle.status_code == 400 and "cannot be placed under itself" in text(cycle)
    assert rows(app, a_id, sa.select(Department.parent_id).where(Department.id == cardio_id))[0][0] is None
