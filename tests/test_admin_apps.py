"""The Apps screen: enabling and disabling plugins per hospital through the pages.

The built-in plugins have no pages yet, so a small third-party plugin ("probe", written to a
temporary folder and found through a test finder) gives the menu something to show: it depends
on followup, declares a permission, a menu item and a page, and seeds a department when enabled.
A broken third-party plugin (missing dependency) is found the same way.
"""
from __future__ import annotations

import sys
import textwrap

import pytest
import sqlalchemy as sa

from core.testing import PASSWORD, _empty_tables, make_app, make_hospital, make_user
from core.testing import login as sign_in


def login(client, username, password=PASSWORD):
    """Sign in and switch to English, so the messages asserted below are the source strings."""
    sign_in(client, username, password)
    client.post("/language", data={"locale": "en"})

PROBE_MANIFEST = """{
    "name": "probe", "title": "Probe page", "version": "1.2.3",
    "summary": "A test plugin with a menu item.", "depends": ["followup"],
}"""

PROBE_CODE = '''
from flask import Blueprint
import sqlalchemy as sa
from core import hookimpl
from core.declarations import MenuItem, Permission
from core.permissions import require

bp = Blueprint("probe", __name__, url_prefix="/probe")


@bp.route("/")
@require("probe.read")
def home():
    return "probe home"


@hookimpl
def hcrm_permissions():
    return [Permission("probe.read", "Read probes"), Permission("probe.tune", "Tune probes")]


@hookimpl
def hcrm_menus():
    return [MenuItem("probe.home", "Probe menu entry", endpoint="probe.home", parent="crm",
                     permission="probe.read")]


@hookimpl
def hcrm_blueprints():
    return [bp]


@hookimpl
def hcrm_enable(hospital):
    from core.extensions import db
    from core.models import Department
    if db.session.execute(sa.select(Department).where(Department.code == "PROBE")).first() is None:
        db.session.add(Department(code="PROBE", name="Probe unit"))  # the enable scope gives the hospital
'''

BROKEN_MANIFEST = """{
    "name": "ghost", "title": "Ghost", "version": "0.1", "summary": "Needs a plugin nobody ships.",
    "depends": ["nonexistent"],
}"""


QUIET_MANIFEST = """{
    "name": "quiet", "title": "Quiet helper", "version": "0.1", "summary": "Gives nobody a page.",
}"""

QUIET_CODE = '''
from core import hookimpl
from core.declarations import Permission


@hookimpl
def hcrm_permissions():
    return [Permission("quiet.use", "Use the quiet helper")]
'''


@pytest.fixture(scope="session")
def extra_plugins(tmp_path_factory):
    root = tmp_path_factory.mktemp("extra_plugins")
    for module, manifest, code in (("hcrm_probe_plugin", PROBE_MANIFEST, PROBE_CODE),
                                   ("hcrm_ghost_plugin", BROKEN_MANIFEST, ""),
                                   ("hcrm_quiet_plugin", QUIET_MANIFEST, QUIET_CODE)):
        package = root / module
        package.mkdir()
        (package / "__manifest__.py").write_text(manifest)
        (package / "__init__.py").write_text(textwrap.dedent(code))
    sys.path.insert(0, str(root))
    yield root
    sys.path.remove(str(root))


@pytest.fixture
def app(_schema, extra_plugins):
    """An app that also loads the probe plugin and the broken ghost plugin."""
    from core.plugins import default_finder

    def finder():
        candidates, problems = default_finder()
        return candidates + [(extra_plugins / "hcrm_probe_plugin", "hcrm_probe_plugin", "acme-probe"),
                             (extra_plugins / "hcrm_ghost_plugin", "hcrm_ghost_plugin", "acme-ghost"),
                             (extra_plugins / "hcrm_quiet_plugin", "hcrm_quiet_plugin", "acme-quiet")], problems

    application = make_app(_schema, finder=finder)
    yield application
    _empty_tables(application)


@pytest.fixture
def client(app):
    return app.test_client()


def live(app, hospital_id):
    from core.activation import live_plugins
    with app.app_context():
        return live_plugins(hospital_id)


def text(response):
    return response.get_data(as_text=True)


def test_enabling_followup_enables_patients_and_shows_the_messages(app, client):
    with app.app_context():
        a = make_hospital("A")
        make_user(a, "admin", ("super_admin",))
        a_id = a.id
    login(client, "admin")
    page = text(client.get("/admin/apps"))
    assert "Will also enable:" in page and "Never enabled" in page

    response = client.post("/admin/apps/followup/enable", follow_redirects=True)
    assert response.status_code == 200
    assert "enabled &#39;patients&#39; (required by &#39;followup&#39;)" in text(response)
    assert live(app, a_id) == {"patients", "followup"}

    refused = client.post("/admin/apps/patients/disable")
    assert refused.status_code == 409
    assert "cannot disable &#39;patients&#39;" in text(refused) and "followup" in text(refused)
    assert live(app, a_id) == {"patients", "followup"}


def test_enable_through_the_page_changes_the_menu_and_disable_keeps_the_data(app, client):
    with app.app_context():
        a = make_hospital("A")
        make_user(a, "admin", ("super_admin",))
        a_id = a.id
    login(client, "admin")
    assert "Probe menu entry" not in text(client.get("/"))
    assert client.get("/probe/").status_code == 404

    page = text(client.get("/admin/apps"))
    assert "acme-probe" in page and "Will also enable:" in page

    done = client.post("/admin/apps/probe/enable", follow_redirects=True)
    html = text(done)
    assert "enabled &#39;patients&#39; (required by &#39;probe&#39;)" in html
    assert "enabled &#39;followup&#39; (required by &#39;probe&#39;)" in html
    assert "Probe menu entry" in text(client.get("/"))
    assert client.get("/probe/").get_data(as_text=True) == "probe home"

    # Disabling a dependency of a live plugin is refused and names the dependant.
    refused = client.post("/admin/apps/followup/disable")
    assert refused.status_code == 409 and "probe" in text(refused)
    assert "followup" in live(app, a_id)

    client.post("/admin/apps/probe/disable", follow_redirects=True)
    assert "Probe menu entry" not in text(client.get("/"))
    assert client.get("/probe/").status_code == 404
    assert "Disabled" in text(client.get("/admin/apps"))

    client.post("/admin/apps/probe/enable")
    assert "Probe menu entry" in text(client.get("/"))
    with app.app_context():
        from core.extensions import db
        from core.models import Department
        from core.tenancy import hospital_scope
        with hospital_scope(a_id):
            codes = db.session.execute(sa.select(Department.code)).scalars().all()
    assert codes == ["PROBE"]  # seeded once, kept across disable/enable


def test_broken_plugin_is_listed_with_its_reason_and_cannot_be_enabled(app, client):
    with app.app_context():
        a = make_hospital("A")
        make_user(a, "admin", ("super_admin",))
        a_id = a.id
    login(client, "admin")
    page = text(client.get("/admin/apps"))
    assert "Failed to load" in page and "acme-ghost" in page
    assert "missing dependency &#39;nonexistent&#39; (not installed)" in page

    refused = client.post("/admin/apps/ghost/enable")
    assert refused.status_code == 409 and "failed to load" in text(refused)
    assert live(app, a_id) == set()


def test_unknown_plugin_is_404_and_readers_cannot_switch(app, client):
    with app.app_context():
        a = make_hospital("A")
        make_user(a, "admin", ("super_admin",))
        make_user(a, "boss", ("director",))
        a_id = a.id
    login(client, "admin")
    assert client.post("/admin/apps/nosuch/enable").status_code == 404

    boss = app.test_client()
    login(boss, "boss")
    page = boss.get("/admin/apps")
    assert page.status_code == 200 and "/admin/apps/patients/enable" not in text(page)
    assert boss.post("/admin/apps/patients/enable").status_code == 403
    assert live(app, a_id) == set()


def test_enabling_is_per_hospital_and_audited(app, client):
    with app.app_context():
        a = make_hospital("A")
        b = make_hospital("B")
        make_user(a, "admin", ("super_admin",))
        a_id, b_id = a.id, b.id
    login(client, "admin")
    client.post("/admin/apps/patients/enable")
    assert live(app, a_id) == {"patients"} and live(app, b_id) == set()
    audit = text(client.get("/admin/audit?model=Plugin&action=enable"))
    assert "patients" in audit and "admin" in audit


def test_role_editor_offers_live_plugins_and_keeps_grants_of_disabled_ones(app, client):
    with app.app_context():
        a = make_hospital("A", plugins=["probe"])
        make_user(a, "admin", ("super_admin",))
        a_id = a.id
    login(client, "admin")
    created = client.post("/admin/roles/new", data={
        "code": "prober", "name": "Prober", "data_scope": "own", "permissions": ["probe.tune"]})
    assert created.status_code == 302
    role_url = created.headers["Location"]
    assert "Probe page" in text(client.get(role_url))  # the group carries the plugin's title

    client.post("/admin/apps/probe/disable")
    editor = text(client.get(role_url))
    assert "probe.tune" not in editor and "kept unchanged" in editor
    # Posting a permission of the disabled plugin is refused; saving without it keeps the grant.
    assert client.post(role_url, data={"name": "Prober", "data_scope": "own",
                                       "permissions": ["probe.tune"]}).status_code == 400
    assert client.post(role_url, data={"name": "Prober 2", "data_scope": "own",
                                       "permissions": ["core.users.read"]}).status_code == 302
    client.post("/admin/apps/probe/enable")
    with app.app_context():
        from core.extensions import db
        from core.models import Role
        from core.tenancy import hospital_scope
        with hospital_scope(a_id):
            role = db.session.execute(sa.select(Role).where(Role.code == "prober")).scalar_one()
            assert role.name == "Prober 2"
            assert role.permissions == {"probe.tune", "core.users.read"}


def test_only_apps_with_something_to_show_are_listed_and_in_the_users_language(app, client):
    with app.app_context():
        a = make_hospital("A")
        make_user(a, "admin", ("super_admin",))
    login(client, "admin")
    page = text(client.get("/admin/apps"))
    assert 'id="app-probe"' in page and 'id="app-ghost"' in page  # a page of its own; broken (shows why)
    assert "Quiet helper" not in page and 'id="app-quiet"' not in page  # nothing to open
    assert "1 component without pages of its own is not listed" in page
    assert "Patients" in page and "患者档案" not in page
    client.post("/language", data={"locale": "zh_CN"})
    page = text(client.get("/admin/apps"))
    # the manifest's title and summary from the plugin's own catalog (msgctxt "app")
    assert ">患者档案</h2>" in page and "拼音检索" in page and ">随访中心</h2>" in page
    assert "Patient archive, health records" not in page
    assert "Probe page" in page  # a plugin without a catalog keeps its own words
    assert "Quiet helper" not in page


def test_manifest_titles_and_summaries_are_extracted_for_the_plugins_catalog():
    import io

    from core.i18n_extract import extract_manifest
    found = list(extract_manifest(io.BytesIO(PROBE_MANIFEST.encode()), (), (), {}))
    assert [(line, func, message) for line, func, message, _c in found] == [
        (2, "pgettext", ("app", "Probe page")), (3, "pgettext", ("app", "A test plugin with a menu item."))]
