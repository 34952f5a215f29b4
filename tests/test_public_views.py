"""core.permissions.public: a plugin page anyone may open without signing in (a public form);
every other page of a plugin still asks for a sign-in first."""
import pytest

from core.testing import finder_with, make_app, make_hospital, write_plugin

OPEN_FORM = '''
from flask import Blueprint
from core import hookimpl
from core.declarations import Permission
from core.permissions import public, require

bp = Blueprint("openform", __name__, url_prefix="/openform")


@bp.route("/form")
@public
def form():
    return "anyone may write"


@bp.route("/inside")
@require("openform.read")
def inside():
    return "staff only"


@hookimpl
def hcrm_permissions():
    return [Permission("openform.read", "Read")]


@hookimpl
def hcrm_blueprints():
    return [bp]
'''


@pytest.fixture
def open_app(app, tmp_path, monkeypatch):
    package = f"openform_{tmp_path.name[-12:].replace('-', '_')}"
    pkg = write_plugin(tmp_path, "openform", OPEN_FORM, package=package)
    monkeypatch.syspath_prepend(str(tmp_path))
    application = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))
    with application.app_context():
        make_hospital("A", plugins=["openform"])
    return application


def test_a_public_page_needs_no_sign_in_and_the_others_still_do(open_app):
    client = open_app.test_client()
    response = client.get("/openform/form")
    assert response.status_code == 200 and response.get_data(as_text=True) == "anyone may write"
    assert client.get("/openform/inside").status_code == 302  # to the sign-in page
