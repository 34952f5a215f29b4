"""Declarations are checked together at start-up: a mistake stops the app with a clear message."""
import pytest

from core.menus import _covers
from core.plugins import PluginError
from core.testing import finder_with, make_app, write_plugin

HEADER = '''
import sqlalchemy as sa
from core import hookimpl
from core.declarations import Chart, MenuItem, Permission, Report, ReportParam, ReportResult
from core.extensions import db
from core.tenancy import HospitalOwned
'''


def build(app, tmp_path, monkeypatch, code, name):
    pkg = write_plugin(tmp_path, name, HEADER + code, package=f"{name}_{tmp_path.name[-8:].replace('-', '_')}")
    monkeypatch.syspath_prepend(str(tmp_path))
    return make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))


@pytest.mark.parametrize("code, message", [
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
    ('''class Thing(HospitalOwned, db.Model):
    __tablename__ = "wrongprefix_thing"
    id = sa.Column(sa.Integer, primary_key=True)
@hookimpl
def hcrm_models():
    return [Thing]''', "table 'wrongprefix_thing' of model Thing must start with 'decl_'"),
    ('''class Loose(db.Model):
    __tablename__ = "decl_loose"
    id = sa.Column(sa.Integer, primary_key=True)
@hookimpl
def hcrm_models():
    return [Loose]''', "model Loose is not hospital-owned"),
])
def test_bad_declarations_stop_start_up(app, tmp_path, monkeypatch, code, message):
    with pytest.raises(PluginError) as caught:
        build(app, tmp_path, monkeypatch, code, "decl")
    assert message in str(caught.value)
    assert "plugin 'decl'" in str(caught.value) or "'decl'" in str(caught.value)


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
