"""Per-hospital activation: dependencies, refusals, what a disabled plugin hides, data kept."""
import dataclasses

import pytest
import sqlalchemy as sa

from core import activation
from core.config import HospitalConfig
from core.events import emit
from core.extensions import db
from core.models import HospitalPlugin
from core.panels import render_panels
from core.tenancy import hospital_scope, system_scope
from core.testing import finder_with, login, make_app, make_hospital, make_user, write_plugin

LISTENER = '''
from flask import Blueprint
from markupsafe import Markup
from core import hookimpl
from core.declarations import MenuItem, Panel, Permission, Widget, WidgetData
from core.permissions import require

RECEIVED = []
ENABLED = []
bp = Blueprint("listener", __name__, url_prefix="/listener")


@bp.route("/")
@require("listener.read")
def index():
    return "listener page"


@hookimpl
def hcrm_permissions():
    return [Permission("listener.read", "Read")]


@hookimpl
def hcrm_menus():
    return [MenuItem("listener", "Listener menu", endpoint="listener.index", permission="listener.read", parent="crm")]


@hookimpl
def hcrm_blueprints():
    return [bp]


@hookimpl
def hcrm_dashboard_widgets():
    return [Widget("listener.card", "listener.read", lambda: WidgetData(title="Listener card", value=42))]


@hookimpl
def hcrm_panels():
    return [Panel("listener.tab", "patients.patient", "Listener tab", "listener.read",
                  lambda record: Markup("<b>panel for %s</b>") % record)]


@hookimpl
def hcrm_event(event):
    RECEIVED.append((event.name, event.hospital_id, event.payload))


@hookimpl
def hcrm_enable(hospital):
    ENABLED.append(hospital.code)
'''


@pytest.fixture
def listener_app(app, tmp_path, monkeypatch):
    package = f"listener_{tmp_path.name[-12:].replace('-', '_')}"
    pkg = write_plugin(tmp_path, "listener", LISTENER, depends=["patients"], package=package)
    monkeypatch.syspath_prepend(str(tmp_path))
    application = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))
    module = application.extensions["hcrm"].registry.pm.get_plugin("listener")
    with application.app_context():
        a, b = make_hospital("A"), make_hospital("B")
        make_user(a, "alice", ("super_admin",))
        make_user(b, "bob", ("super_admin",))
        ids = a.id, b.id
    return (application, module) + ids


def hospital(code):
    from core.models import Hospital
    with system_scope():
        return db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one()


def test_enable_pulls_in_dependencies_and_runs_enable_handler(listener_app):
    app, module, *_ = listener_app
    with app.app_context():
        with system_scope():
            report = activation.enable(hospital("A"), "listener")
        db.session.commit()
        assert report.changed == ["patients", "listener"]
        assert report.messages[0] == "enabled 'patients' (required by 'listener')"
        assert activation.live_plugins(hospital("A").id) == {"patients", "listener"}
        assert activation.live_plugins(hospital("B").id) == set()
    assert module.ENABLED == ["A"]


def test_disable_refused_while_a_dependant_is_live(listener_app):
    app, *_ = listener_app
    with app.app_context(), system_scope():
        activation.enable(hospital("A"), "listener")
        with pytest.raises(activation.ActivationError, match="listener depend"):
            activation.disable(hospital("A"), "patients")
        assert "patients" in activation.live_plugins(hospital("A").id)


def test_unknown_plugin_is_refused(listener_app):
    app, *_ = listener_app
    with app.app_context(), system_scope():
        with pytest.raises(activation.ActivationError, match="no such plugin is installed"):
            activation.enable(hospital("A"), "nothing_here")


def test_disabled_plugin_disappears_for_that_hospital_only(listener_app):
    app, module, a_id, b_id = listener_app
    with app.app_context(), system_scope():
        activation.enable(hospital("A"), "listener")
        activation.enable(hospital("B"), "listener")
        activation.disable(hospital("B"), "listener")
        db.session.commit()
    alice, bob = app.test_client(), app.test_client()
    login(alice, "alice")
    login(bob, "bob")
    home_a, home_b = alice.get("/").get_data(as_text=True), bob.get("/").get_data(as_text=True)
    assert "Listener menu" in home_a and "Listener card" in home_a
    assert "Listener menu" not in home_b and "Listener card" not in home_b
    assert alice.get("/listener/").status_code == 200
    assert bob.get("/listener/").status_code == 404


def test_a_change_of_plugins_reaches_the_next_request_of_every_worker(app):
    """Requests keep a hospital's live set per plugins_version; a switch bumps it in the same
    transaction, so the next request of any worker process sees the change."""
    other_worker = make_app(app.config["SQLALCHEMY_DATABASE_URI"])
    with app.app_context():
        make_user(make_hospital("A"), "alice", ("super_admin",))
    alice = app.test_client()
    login(alice, "alice")
    assert alice.get("/patients/").status_code == 404
    with other_worker.app_context():
        before = hospital("A").plugins_version
        activation.switch(hospital("A"), "patients", True)
        assert hospital("A").plugins_version == before + 1
    assert alice.get("/patients/").status_code == 200
    with other_worker.app_context():
        activation.switch(hospital("A"), "patients", False)
    assert alice.get("/patients/").status_code == 404
    queries = []
    with app.app_context():
        sa.event.listen(db.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    assert alice.get("/").status_code == 200
    assert queries and not [q for q in queries if "core_hospital_plugin" in q]  # unchanged: not read again


def test_events_and_panels_reach_only_live_plugins(listener_app):
    app, module, a_id, b_id = listener_app
    with app.app_context(), system_scope():
        activation.enable(hospital("A"), "listener")
        db.session.commit()
    module.RECEIVED.clear()
    with app.app_context():
        with hospital_scope(a_id):
            emit("patients.visit_recorded", payload={"visit": 1})
        with hospital_scope(b_id):
            emit("patients.visit_recorded", payload={"visit": 2})
    assert [("patients.visit_recorded", a_id, {"visit": 1})] == module.RECEIVED
    with app.test_request_context():
        from flask import g
        g.hcrm_live, g.hcrm_permissions = {"patients", "listener"}, {"listener.read"}
        from flask_login import login_user

        from core.models import User
        with system_scope():
            login_user(db.session.execute(sa.select(User).where(User.username == "alice")).scalar_one())
        (panel,) = render_panels("patients.patient", "<Zhang>")
        assert str(panel.html) == "<b>panel for &lt;Zhang&gt;</b>"
        g.hcrm_live = {"patients"}
        assert render_panels("patients.patient", "x") == []


def test_data_survives_disable_enable_cycle(app):
    with app.app_context():
        a = make_hospital("A", plugins=["patients"])
        from core.models import Department
        with hospital_scope(a):
            db.session.add(Department(code="KEEP", name="kept"))
            db.session.commit()
        with system_scope():
            activation.disable(a, "patients")
            activation.enable(a, "patients")
            db.session.commit()
        with hospital_scope(a):
            assert db.session.execute(sa.select(Department.code)).scalars().all() == ["KEEP"]


def test_config_seeding_respects_an_explicit_disable(app):
    from core.testing import test_config
    config = dataclasses.replace(test_config(app.config["SQLALCHEMY_DATABASE_URI"]), hospitals=(
        HospitalConfig(code="H1", name="一院", plugins=("followup",)),))
    with app.app_context():
        first = activation.sync_from_config(config)
        assert "created hospital H1 (一院)" in first
        assert "H1: enabled 'patients' (required by 'followup')" in first
        with system_scope():
            activation.disable(hospital("H1"), "followup")
            db.session.commit()
        again = activation.sync_from_config(config)
        assert again == ["H1: 'followup' stays disabled (an administrator disabled it)"]
        with system_scope():
            row = db.session.execute(sa.select(HospitalPlugin).where(HospitalPlugin.plugin == "followup")).scalar_one()
        assert (row.enabled, row.explicit) == (False, True)
        assert activation.live_plugins(hospital("H1").id) == {"patients"}


def test_default_roles_receive_the_plugins_permissions(listener_app):
    app, *_ = listener_app
    from core.models import Role
    with app.app_context():
        with system_scope():
            activation.enable(hospital("A"), "listener")
            db.session.commit()
        with hospital_scope(hospital("A")):
            roles = {r.code: r.permissions for r in db.session.execute(sa.select(Role)).scalars()}
    assert "listener.read" in roles["staff"] and "listener.read" in roles["analyst"]
    assert "core.users.read" in roles["super_admin"] and "core.users.read" not in roles["staff"]


VERSIONED = '''
from core import hookimpl
from core.declarations import Permission

EXTRA = []


@hookimpl
def hcrm_permissions():
    return [Permission("versioned.read", "Read")] + [Permission(name, name) for name in EXTRA]
'''


def test_default_grants_are_seeded_once_and_new_ones_arrive_on_upgrade(app, tmp_path, monkeypatch):
    from core.models import Role
    package = f"versioned_{tmp_path.name[-12:].replace('-', '_')}"
    pkg = write_plugin(tmp_path, "versioned", VERSIONED, package=package)
    monkeypatch.syspath_prepend(str(tmp_path))
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    first = make_app(url, finder=finder_with(pkg))

    def staff_permissions(application):
        with application.app_context(), hospital_scope(hospital("A")):
            return db.session.execute(sa.select(Role).where(Role.code == "staff")).scalar_one().permissions

    with first.app_context():
        make_hospital("A", plugins=["versioned"])
        with hospital_scope(hospital("A")):  # the administrator takes the default away on purpose
            staff = db.session.execute(sa.select(Role).where(Role.code == "staff")).scalar_one()
            staff.set_permissions(staff.permissions - {"versioned.read"})
            db.session.commit()
        activation.switch(hospital("A"), "versioned", False)
        activation.switch(hospital("A"), "versioned", True)
    assert "versioned.read" not in staff_permissions(first)

    first.extensions["hcrm"].registry.pm.get_plugin("versioned").EXTRA.append("versioned.export")
    upgraded = make_app(url, finder=finder_with(pkg))  # the plugin's next version declares more
    with upgraded.app_context():
        assert activation.grant_new_permissions() == [
            "A: default roles granted new permission(s) versioned.export"]
        assert activation.grant_new_permissions() == []
    with upgraded.app_context(), hospital_scope(hospital("A")):
        roles = {r.code: r.permissions for r in db.session.execute(sa.select(Role)).scalars()}
    assert "versioned.export" in roles["analyst"] and "versioned.export" not in roles["staff"]
    assert "versioned.read" not in roles["staff"]
