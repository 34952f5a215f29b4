"""Declarations are checked together at start-up: a mistake stops the app with a clear message."""
import pytest

from core.manifest import builtin_candidates
from core.menus import _covers
from core.plugins import PluginError
from core.testing import finder_with, make_app, write_plugin

HEADER = '''
import sqlalchemy as sa
from core import hookimpl
from core.declarations import Chart, MenuItem, Panel, PanelTarget, Permission, Report, ReportParam, ReportResult
from core.extensions import db
from core.tenancy import HospitalOwned
'''


def build(app, tmp_path, monkeypatch, code, name, *, builtin):
    pkg = write_plugin(tmp_path, name, HEADER + code, package=f"{name}_{tmp_path.name[-8:].replace('-', '_')}")
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = finder_with(pkg)
    if builtin:
        def finder():
            return builtin_candidates() + [(pkg, pkg.name, "builtin")], []
    return make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder)


BAD_DECLARATIONS = [
    ('''@hookimpl
def hcrm_menus():
    return [MenuItem("m", "M", endpoint="x.y", permission="bad.perm")]''',
     "menu item 'm' needs unknown permission 'bad.perm'"),
    ('''@hookimpl
def hcrm_menus():
    return [MenuItem("m", "M", parent="nowhere")]''', "menu item 'm' has unknown parent 'nowhere'"),
    ('''@hookimpl
def hcrm_permissions():
    return [Permission("other.read", "R")]''', "permission 'other.read' must start with 'decl.'"),
    ('''@hookimpl
def hcrm_permissions():
    return [Permission("decl.read", "R"), Permission("decl.read", "again")]''',
     "permission 'decl.read' is declared twice"),
    ('''@hookimpl
def hcrm_permissions():
    return [Permission("decl.read", "R")]
@hookimpl
def hcrm_reports():
    return [Report("decl.r", "R", "decl.read", lambda p: None, params=[ReportParam("when", "When", "datetime")])]''',
     "parameter 'when' has unknown type 'datetime'"),
    ('''@hookimpl
def hcrm_permissions():
    return [Permission("decl.read", "R")]
@hookimpl
def hcrm_reports():
    return [Report("decl.r", "R", "decl.read", lambda p: None, params=[ReportParam("kind", "Kind", "choice")])]''',
     "choice parameter 'kind' has no choices"),
    ('''@hookimpl
def hcrm_permissions():
    return [Permission("decl.read", "R")]
@hookimpl
def hcrm_reports():
    return [Report("decl.r", "R", "decl.read", lambda p: None, chart=Chart("donut", "x", ("y",)))]''',
     "chart kind 'donut' is not one of bar, line, pie"),
    ('''@hookimpl
def hcrm_permissions():
    return [Permission("decl.read", "R")]
@hookimpl
def hcrm_panels():
    return [Panel("decl.tab", target="patients.detail", title="T", permission="decl.read", render=str)]''',
     "panel 'decl.tab' targets unknown panel target 'patients.detail'; did you mean 'patients.patient'?"),
    ('''@hookimpl
def hcrm_permissions():
    return [Permission("decl.read", "R")]
@hookimpl
def hcrm_panels():
    return [Panel("decl.tab", target="patients.patient", title="T", permission="decl.read", render=str)]''',
     "panel 'decl.tab' targets 'patients.patient' of plugin 'patients', which 'decl' does not depend on"),
    ('''@hookimpl
def hcrm_panels():
    return [PanelTarget("patients.mine", "Mine")]''', "panel target 'patients.mine' must start with 'decl.'"),
    ('''class Thing(HospitalOwned, db.Model):
    __tablename__ = "wrongprefix_thing"
    __table_args__ = {"extend_existing": True}
    id = sa.Column(sa.Integer, primary_key=True)
@hookimpl
def hcrm_models():
    return [Thing]''', "table 'wrongprefix_thing' of model Thing must start with 'decl_'"),
    ('''class Loose(db.Model):
    __tablename__ = "decl_loose"
    __table_args__ = {"extend_existing": True}
    id = sa.Column(sa.Integer, primary_key=True)
@hookimpl
def hcrm_models():
    return [Loose]''', "model Loose is not hospital-owned"),
]


@pytest.mark.parametrize("code, message", BAD_DECLARATIONS)
def test_bad_declarations_of_a_builtin_plugin_stop_start_up(app, tmp_path, monkeypatch, code, message):
    with pytest.raises(PluginError) as caught:
        build(app, tmp_path, monkeypatch, code, "decl", builtin=True)
    assert str(caught.value).startswith("plugin 'decl': ") and message in str(caught.value)


@pytest.mark.parametrize("code, message", BAD_DECLARATIONS)
def test_bad_declarations_of_a_third_party_plugin_skip_it(app, tmp_path, monkeypatch, code, message):
    started = build(app, tmp_path, monkeypatch, code, "decl", builtin=False)
    state = started.extensions["hcrm"]
    (broken,) = state.registry.broken
    assert broken.name == "decl" and message in broken.reason
    assert "decl" not in state.registry.infos and "patients" in state.registry.infos
    assert not any(p.plugin == "decl" for p in state.catalog.permissions.values())
    assert not any(name.startswith("decl") for name in started.blueprints)


def test_a_failing_declaration_hook_skips_the_plugin_and_its_dependants(app, tmp_path, monkeypatch):
    root = write_plugin(tmp_path, "flaky", HEADER + "@hookimpl\ndef hcrm_menus():\n    raise KeyError('oops')\n",
                        package=f"flaky_{tmp_path.name[-8:].replace('-', '_')}")
    child = write_plugin(tmp_path, "child", "", depends=["flaky"], package=f"child_{tmp_path.name[-8:].replace('-', '_')}")
    monkeypatch.syspath_prepend(str(tmp_path))
    started = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(root, child))
    reasons = {b.name: b.reason for b in started.extensions["hcrm"].registry.broken}
    assert reasons["flaky"] == "a declaration hook failed: KeyError: 'oops'"
    assert reasons["child"] == "missing dependency 'flaky' (broken, see above)"


def test_menu_item_pointing_at_a_missing_page_is_refused(app, tmp_path, monkeypatch):
    code = '''@hookimpl
def hcrm_permissions():
    return [Permission("decl.read", "R")]
@hookimpl
def hcrm_menus():
    return [MenuItem("m", "M", endpoint="decl.nowhere", permission="decl.read")]'''
    with pytest.raises(PluginError, match="menu item 'm' points at unknown endpoint 'decl.nowhere'"):
        build(app, tmp_path, monkeypatch, code, "decl", builtin=True)


@pytest.mark.parametrize("url, path, covered", [
    ("/admin/users", "/admin/users", True),
    ("/admin/users", "/admin/users/7", True),
    ("/admin/users", "/admin/usersx", False),
    ("/reports/", "/reports/core.audit_activity", True),
    ("/", "/admin/users", False),
    ("/", "/", True),
])
def test_menu_item_covers_its_detail_pages(url, path, covered):
    assert _covers(url, path) is covered
