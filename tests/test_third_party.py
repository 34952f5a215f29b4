"""A plugin shipped as a separate distribution is found through the ``hcrm.plugins`` entry point."""
import pytest

from core import activation
from core.extensions import db
from core.tenancy import system_scope
from core.testing import login, make_app, make_hospital, make_user, write_plugin

PLUGIN_CODE = '''
from flask import Blueprint
from core import hookimpl
from core.declarations import MenuItem, Permission
from core.permissions import require

bp = Blueprint("sample", __name__, url_prefix="/sample")


@bp.route("/")
@require("sample.read")
def index():
    return "sample plugin page"


@hookimpl
def hcrm_permissions():
    return [Permission("sample.read", "Read samples")]


@hookimpl
def hcrm_menus():
    return [MenuItem("sample", "Sample app", endpoint="sample.index", permission="sample.read", parent="crm")]


@hookimpl
def hcrm_blueprints():
    return [bp]
'''


def install_distribution(site, name="hcrm-sample", package="hcrm_sample", plugin="sample", code=PLUGIN_CODE):
    """Lay the distribution out as pip installs it: the package plus its .dist-info."""
    write_plugin(site, plugin, code, package=package, title="Sample 样例")
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[hcrm.plugins]\n{plugin} = {package}\n")


@pytest.fixture
def sample_app(app, tmp_path, monkeypatch):
    install_distribution(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    return make_app(app.config["SQLALCHEMY_DATABASE_URI"])


def test_entry_point_plugin_is_discovered_like_a_builtin(sample_app):
    registry = sample_app.extensions["hcrm"].registry
    info = registry.infos["sample"]
    assert (info.title, info.source, info.builtin) == ("Sample 样例", "hcrm-sample", False)
    assert "sample.read" in sample_app.extensions["hcrm"].catalog.permissions


def test_entry_point_plugin_enabled_for_one_hospital_only(sample_app):
    with sample_app.app_context():
        a = make_hospital("A")
        b = make_hospital("B")
        make_user(a, "alice", ("super_admin",))
        make_user(b, "bob", ("super_admin",))
        with system_scope():
            activation.enable(a, "sample")
        db.session.commit()
    alice, bob = sample_app.test_client(), sample_app.test_client()
    login(alice, "alice")
    login(bob, "bob")
    assert alice.get("/sample/").get_data(as_text=True) == "sample plugin page"
    assert "Sample app" in alice.get("/").get_data(as_text=True)
    assert bob.get("/sample/").status_code == 404
    assert "Sample app" not in bob.get("/").get_data(as_text=True)


def test_broken_distribution_is_reported_and_the_rest_starts(app, tmp_path, monkeypatch):
    install_distribution(tmp_path, package="hcrm_sample_broken", code="from core import hookimpl\n@hookimpl\ndef hcrm_menuz():\n    return []\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken_app = make_app(app.config["SQLALCHEMY_DATABASE_URI"])
    registry = broken_app.extensions["hcrm"].registry
    assert "sample" not in registry.infos and "patients" in registry.infos
    (broken,) = registry.broken
    assert broken.source == "hcrm-sample"
    assert "unknown hook 'hcrm_menuz'; did you mean 'hcrm_menus'?" in broken.reason


def test_entry_point_to_a_missing_package_is_reported(app, tmp_path, monkeypatch):
    info = tmp_path / "hcrm_ghost-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hcrm-ghost\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[hcrm.plugins]\nghost = hcrm_ghost_missing\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = make_app(app.config["SQLALCHEMY_DATABASE_URI"]).extensions["hcrm"].registry
    (broken,) = registry.broken
    assert broken.name == "ghost (from hcrm-ghost)"
    assert "'hcrm_ghost_missing' is not an importable package" in broken.reason


def test_apps_screen_shows_the_distribution_and_enables_it_for_one_hospital(sample_app):
    with sample_app.app_context():
        a, b = make_hospital("A"), make_hospital("B")
        make_user(a, "alice", ("super_admin",))
        make_user(b, "bob", ("super_admin",))
        ids = a.id, b.id
    alice = sample_app.test_client()
    login(alice, "alice")
    apps = alice.get("/admin/apps").get_data(as_text=True)
    assert "Sample 样例" in apps and "hcrm-sample" in apps
    assert alice.post("/admin/apps/sample/enable").status_code == 302
    with sample_app.app_context(), system_scope():
        assert "sample" in activation.live_plugins(ids[0])
        assert "sample" not in activation.live_plugins(ids[1])
    assert alice.get("/sample/").status_code == 200
