"""The hospital management page: the group administrator lists, adds and edits hospitals (code,
name, time zone, apps); nobody else may, whatever their roles say; bad input writes nothing;
a hospital's zone is the clock its pages show; config.yaml seeds, the page's choices win."""
from __future__ import annotations

import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core import activation
from core.config import HospitalConfig
from core.extensions import db
from core.models import AuditLog, Hospital, Role
from core.tenancy import hospital_scope, system_scope
from core.testing import login as sign_in
from core.testing import make_hospital, make_user


def login(client, username):
    sign_in(client, username)
    client.post("/language", data={"locale": "en"})


def hospital(code: str) -> Hospital | None:
    with system_scope():
        return db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one_or_none()


def hospital_count() -> int:
    with system_scope():
        return db.session.execute(sa.select(sa.func.count()).select_from(Hospital)).scalar()


def audit_rows(model: str) -> list[AuditLog]:
    with system_scope():
        return db.session.execute(sa.select(AuditLog).where(AuditLog.model == model)
                                  .order_by(AuditLog.id)).scalars().all()


def test_group_admin_adds_a_hospital_with_its_zone_and_apps(app, client):
    with app.app_context():
        home = make_hospital("G1", "集团总院")
        make_user(home, "boss", roles=(), group_admin=True)
    login(client, "boss")
    page = client.get("/admin/hospitals")
    assert page.status_code == 200 and "集团总院" in page.text and "G1" in page.text
    assert client.get("/admin/hospitals/new").status_code == 200
    response = client.post("/admin/hospitals/new", data={
        "code": "NEW1", "name": "  新院区 ", "timezone": "Asia/Urumqi", "plugins": ["followup"]})
    assert response.status_code == 302, response.text
    with app.app_context():
        new = hospital("NEW1")
        assert (new.name, new.timezone) == ("新院区", "Asia/Urumqi")
        assert activation.live_plugins(new.id) == {"followup", "patients"}  # followup needs patients
        with hospital_scope(new):
            assert {r.code for r in db.session.execute(sa.select(Role)).scalars()} >= {"super_admin", "staff"}
        created = [r for r in audit_rows("Hospital") if r.action == "create"]
        assert created and created[-1].after["code"] == "NEW1"
        assert {r.record_id for r in audit_rows("Plugin") if r.hospital_id == new.id} == {"followup", "patients"}
    listing = client.get("/admin/hospitals").text
    assert "新院区" in listing and "Asia/Urumqi" in listing


def test_editing_changes_name_zone_and_apps_and_keeps_the_code(app, client):
    with app.app_context():
        home = make_hospital("G1", plugins=["patients", "followup", "vip"])
        make_user(home, "boss", roles=(), group_admin=True)
        hid = home.id
    login(client, "boss")
    form = client.get(f"/admin/hospitals/{hid}").text
    assert "Asia/Shanghai" in form  # the deployment's zone, until one is chosen
    response = client.post(f"/admin/hospitals/{hid}", data={
        "code": "HIJACK", "name": "改名医院", "timezone": "Europe/Berlin", "plugins": ["patients"]})
    assert response.status_code == 302, response.text
    with app.app_context():
        edited = hospital("G1")
        assert hospital("HIJACK") is None
        assert (edited.name, edited.timezone) == ("改名医院", "Europe/Berlin")
        assert activation.live_plugins(hid) == {"patients"}  # followup and vip switched off, data kept
        updates = [r for r in audit_rows("Hospital") if r.action == "update"]
        assert updates and updates[-1].after.get("timezone") == "Europe/Berlin"


def test_bad_input_is_refused_and_nothing_is_written(app, client):
    with app.app_context():
        home = make_hospital("G1", "集团总院")
        make_user(home, "boss", roles=(), group_admin=True)
        hid = home.id
    login(client, "boss")
    with app.app_context():
        before = hospital_count()
    cases = [
        ({"code": "G1", "name": "Again", "timezone": "Asia/Shanghai"}, "already has the code"),
        ({"code": "NEW2", "name": "Ok", "timezone": "Mars/Olympus"}, "is not a time zone"),
        ({"code": "NEW2", "name": "Ok", "timezone": "../../etc/passwd"}, "is not a time zone"),
        ({"code": "NEW2", "name": "   ", "timezone": "Asia/Shanghai"}, "This field is required"),
        ({"code": "bad code!", "name": "Ok", "timezone": "Asia/Shanghai"}, "Codes are 1 to 32"),
        ({"code": "NEW2", "name": "Ok", "timezone": "Asia/Shanghai", "plugins": ["nope"]}, "not a valid choice"),
    ]
    for data, message in cases:
        response = client.post("/admin/hospitals/new", data=data)
        assert response.status_code == 400, (data, response.status_code)
        assert message in response.text, (data, message)
    with app.app_context():
        assert hospital_count() == before
    response = client.post(f"/admin/hospitals/{hid}", data={"name": "", "timezone": "Nowhere"})
    assert response.status_code == 400
    with app.app_context():
        assert (hospital("G1").name, hospital("G1").timezone) == ("集团总院", None)
        assert not [r for r in audit_rows("Hospital") if r.action == "update"]
    assert client.get("/admin/hospitals/999999").status_code == 404


def test_only_group_administrators_manage_hospitals(app, client):
    with app.app_context():
        home = make_hospital("G1")
        make_user(home, "chief", roles=("super_admin",))
        with hospital_scope(home):  # a grant slipped into a role anyway gives nothing
            role = db.session.execute(sa.select(Role).where(Role.code == "super_admin")).scalar_one()
            role.set_permissions(role.permissions | {"core.hospitals.manage"})
            db.session.commit()
    login(client, "chief")
    assert client.get("/admin/hospitals").status_code == 403
    assert client.post("/admin/hospitals/new", data={"code": "X", "name": "X", "timezone": "UTC"}).status_code == 403
    with app.app_context():
        assert hospital("X") is None
    role_page = client.get("/admin/roles/new").text
    assert "core.hospitals.manage" not in role_page  # never offered to a hospital's role
    assert "/admin/hospitals" not in client.get("/").text  # nor in the menu


def test_a_hospitals_zone_is_the_clock_its_pages_show(app, client):
    with app.app_context():
        far = make_hospital("WEST")
        make_user(far, "chief", roles=("super_admin",))
        with system_scope():
            far.timezone = "America/New_York"
            db.session.commit()
        with hospital_scope(far):
            from core.clock import local_now, show_stamp, zone_name
            assert zone_name() == "America/New_York"
            assert show_stamp(datetime(2026, 12, 7, 3, 15)) == "2026-12-06 22:15"  # UTC-5 in December
            assert abs((local_now() - datetime.now(ZoneInfo("America/New_York"))
                        .replace(tzinfo=None)).total_seconds()) < 5
            db.session.add(AuditLog(hospital_id=far.id, action="update", model="Probe", record_id="1",
                                    at=datetime(2026, 12, 7, 3, 15, 9)))
            db.session.commit()
        with app.app_context():
            from core.clock import zone_name
            assert zone_name() == "Asia/Shanghai"  # outside any hospital: the deployment's zone
    login(client, "chief")
    page = client.get("/admin/audit?model=Probe").text
    assert "2026-12-06 22:15:09" in page and "2026-12-07 11:15:09" not in page


def test_config_seeds_the_zone_and_the_pages_choice_wins(app):
    from core.testing import test_config
    config = dataclasses.replace(test_config(app.config["SQLALCHEMY_DATABASE_URI"]), hospitals=(
        HospitalConfig(code="H1", name="一院", plugins=("patients",), timezone="Asia/Urumqi"),))
    with app.app_context():
        activation.sync_from_config(config)
        assert hospital("H1").timezone == "Asia/Urumqi"
        with system_scope():
            hospital("H1").timezone = "Asia/Shanghai"  # what the page does
            db.session.commit()
        activation.sync_from_config(config)
        assert hospital("H1").timezone == "Asia/Shanghai"
