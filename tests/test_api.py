"""The REST API: who-am-I, plugins per hospital, the JSON error contract, the OpenAPI document,
and a plugin's own API written with ``core.api.api_route``."""
import textwrap
import uuid

import pytest
import sqlalchemy as sa
from flask import Blueprint

from core import testing
from core.api import api_route
from core.testing import api_token, make_hospital, make_user


def _json_error(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["status"] == status and error["message"]
    return error


def _states(client, headers) -> dict:
    response = client.get("/api/v1/plugins", headers=headers)
    assert response.status_code == 200
    return {p["name"]: p["state"] for p in response.get_json()["plugins"]}


# -- who am I ---------------------------------------------------------------------------------
def test_me_shows_user_hospital_live_plugins_and_permissions(app, client):
    with app.app_context():
        hospital = make_hospital("A", "示范医院", plugins=["patients"])
        make_user(hospital, "admin", ("super_admin",))
        make_user(hospital, "nurse", ("staff",))

    me = client.get("/api/v1/me", headers=api_token(client, "admin")).get_json()
    assert me["user"]["username"] == "admin" and me["user"]["roles"] == ["super_admin"]
    assert me["hospital"] == {"id": me["user"]["hospital"]["id"], "code": "A", "name": "示范医院"}
    assert me["plugins"] == ["patients"]
    assert me["data_scope"] == "hospital"
    assert {"core.plugins.manage", "core.users.read"} <= set(me["permissions"])

    raw = client.get("/api/v1/me", headers=api_token(client, "admin")).get_data()
    assert "示范医院".encode() in raw  # UTF-8, not \\u escapes
    assert list(me["hospital"]) == ["id", "code", "name"]  # the schema's order, not sorted

    nurse = client.get("/api/v1/me", headers=api_token(client, "nurse")).get_json()
    assert nurse["data_scope"] == "own"
    assert "core.plugins.manage" not in nurse["permissions"]


# -- plugins ----------------------------------------------------------------------------------
def test_plugins_list_enable_disable_with_dependencies(app, client):
    from core.extensions import db
    from core.models import AuditLog
    from core.tenancy import system_scope
    with app.app_context():
        make_user(make_hospital("A"), "admin", ("super_admin",))
    headers = api_token(client, "admin")

    listed = client.get("/api/v1/plugins", headers=headers).get_json()
    patients = next(p for p in listed["plugins"] if p["name"] == "patients")
    assert patients["source"] == "builtin" and patients["version"] and patients["title"]
    assert patients["state"] == "never" and patients["changed_at"] is None
    followup = next(p for p in listed["plugins"] if p["name"] == "followup")
    assert followup["depends"] == ["patients"]
    assert listed["broken"] == []

    enabled = client.post("/api/v1/plugins/followup/enable", headers=headers)
    assert enabled.status_code == 200
    assert enabled.get_json()["changed"] == ["patients", "followup"]
    assert "enabled 'patients' (required by 'followup')" in enabled.get_json()["messages"]
    assert _states(client, headers)["followup"] == "enabled"
    assert client.get("/api/v1/me", headers=headers).get_json()["plugins"] == ["patients", "followup"]

    refused = _json_error(client.post("/api/v1/plugins/patients/disable", headers=headers), 409)
    assert "followup" in refused["message"] and "disable those first" in refused["message"]
    assert _states(client, headers)["patients"] == "enabled"

    disabled = client.post("/api/v1/plugins/followup/disable", headers=headers).get_json()
    assert disabled["changed"] == ["followup"] and "data is kept" in disabled["messages"][0]
    again = client.post("/api/v1/plugins/followup/disable", headers=headers).get_json()
    assert again["changed"] == [] and "already disabled" in again["messages"][0]
    states = _states(client, headers)
    assert (states["followup"], states["patients"], states["vip"]) == ("disabled", "enabled", "never")

    _json_error(client.post("/api/v1/plugins/nosuch/enable", headers=headers), 404)
    _json_error(client.post("/api/v1/plugins/core/disable", headers=headers), 404)

    with app.app_context(), system_scope():
        logged = db.session.execute(sa.select(AuditLog.action, AuditLog.record_id)
                                    .where(AuditLog.model == "Plugin").order_by(AuditLog.id)).all()
    assert [tuple(r) for r in logged] == [("enable", "patients"), ("enable", "followup"), ("disable", "followup")]


def test_plugins_act_on_the_callers_hospital_only_and_need_permissions(app, client):
    with app.app_context():
        a = make_hospital("A", plugins=["patients"])
        b = make_hospital("B", plugins=["patients", "knowledge_base"])
        make_user(a, "admin_a", ("super_admin",))
        make_user(b, "admin_b", ("super_admin",))
        make_user(a, "director_a", ("director",))
        make_user(a, "staff_a", ("staff",))
    admin_a, admin_b = api_token(client, "admin_a"), api_token(client, "admin_b")

    assert _states(client, admin_a)["knowledge_base"] == "never"
    assert _states(client, admin_b)["knowledge_base"] == "enabled"

    assert client.post("/api/v1/plugins/patients/disable", headers=admin_a).status_code == 200
    assert client.post("/api/v1/plugins/vip/enable", headers=admin_a).status_code == 200
    a_states, b_states = _states(client, admin_a), _states(client, admin_b)
    assert (a_states["patients"], a_states["vip"]) == ("enabled", "enabled")  # vip needs patients back
    assert (b_states["patients"], b_states["vip"], b_states["knowledge_base"]) == ("enabled", "never", "enabled")
    assert client.post("/api/v1/plugins/knowledge_base/disable", headers=admin_a).get_json()["changed"] == []
    assert _states(client, admin_b)["knowledge_base"] == "enabled"

    director = api_token(client, "director_a")
    assert _states(client, director)["vip"] == "enabled"  # may look (core.plugins.read) ...
    error = _json_error(client.post("/api/v1/plugins/vip/disable", headers=director), 403)
    assert error["permission"] == "core.plugins.manage" and "core.plugins.manage" in error["message"]

    staff = api_token(client, "staff_a")
    assert _json_error(client.get("/api/v1/plugins", headers=staff), 403)["permission"] == "core.plugins.read"
    _json_error(client.post("/api/v1/plugins/vip/disable", headers=staff), 403)
    assert _states(client, admin_a)["vip"] == "enabled"


# -- the error contract -----------------------------------------------------------------------
def test_errors_are_json_never_html(app, client):
    with app.app_context():
        make_user(make_hospital("A"), "alice")
    headers = api_token(client, "alice")

    _json_error(client.get("/api/v1/no/such/thing"), 404)
    _json_error(client.get("/api/v1/no/such/thing", headers=headers), 404)
    _json_error(client.get("/api/v1/auth/tokens/not-a-number", headers=headers), 404)

    wrong_method = client.put("/api/v1/me", headers=headers)
    _json_error(wrong_method, 405)
    assert "GET" in wrong_method.headers["Allow"]
    _json_error(client.get("/api/v1/auth/token"), 405)

    for query, field in (("per_page=0", "per_page"), ("per_page=201", "per_page"), ("page=abc", "page"),
                         ("all=maybe", "all")):
        error = _json_error(client.get(f"/api/v1/auth/tokens?{query}", headers=headers), 400)
        assert list(error["fields"]) == [field], query

    app.config["MAX_CONTENT_LENGTH"] = 1024
    too_big = client.post("/api/v1/auth/token", json={"username": "alice", "password": "x" * 4096})
    _json_error(too_big, 413)


@pytest.mark.fresh_app  # registers a blueprint of its own
def test_unexpected_error_is_json_500_without_internals(app, client):
    bp = Blueprint("boom_api", __name__, url_prefix="/api/v1/boom")

    @api_route(bp, "/", public=True)
    def explode():
        raise RuntimeError("secret internals of the server")

    app.register_blueprint(bp)
    client.post("/language", data={"locale": "en"})  # the assertion reads the English message
    response = client.get("/api/v1/boom/")
    error = _json_error(response, 500)
    body = response.get_data(as_text=True)
    assert "secret internals" not in body and "Traceback" not in body
    assert "Nothing was saved" in error["message"]


@pytest.mark.fresh_app  # registers a blueprint of its own
def test_toolkit_return_conventions_and_service_validation(app, client):
    from marshmallow import Schema, ValidationError, fields
    with app.app_context():
        make_user(make_hospital("A"), "alice")

    class NameSchema(Schema):
        name = fields.String()

    bp = Blueprint("conv_api", __name__, url_prefix="/api/v1/conv")

    @api_route(bp, "/names", response=NameSchema, many=True)
    def names():
        return [{"name": "a", "secret": 1}, {"name": "b"}]

    @api_route(bp, "/accepted", methods=("POST",))
    def accepted():
        return {"queued": True}, 202, {"Location": "/api/v1/conv/jobs/1"}

    @api_route(bp, "/taken", methods=("POST",))
    def taken():
        raise ValidationError("This code is already taken.", field_name="code")

    app.register_blueprint(bp)
    headers = api_token(client, "alice")
    assert client.get("/api/v1/conv/names", headers=headers).get_json() == [{"name": "a"}, {"name": "b"}]
    queued = client.post("/api/v1/conv/accepted", headers=headers)
    assert (queued.status_code, queued.get_json(), queued.headers["Location"]) == (
        202, {"queued": True}, "/api/v1/conv/jobs/1")
    error = _json_error(client.post("/api/v1/conv/taken", headers=headers), 422)
    assert error["fields"] == {"code": ["This code is already taken."]}

    with pytest.raises(ValueError, match="url_prefix under /api/"):
        api_route(Blueprint("pages", __name__, url_prefix="/pages"), "/x")


# -- the OpenAPI document ---------------------------------------------------------------------
def _resolve(doc, ref: str):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _api_rules(app):
    for rule in app.url_map.iter_rules():
        op = getattr(app.view_functions[rule.endpoint], "hcrm_api", None)
        if op is not None:
            path = rule.rule.replace("<int:", "<").replace("<", "{").replace(">", "}")
            yield path, op.methods


def _check_document(app, doc):
    assert doc["openapi"] == "3.0.3"
    assert doc["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token."}
    assert doc["security"] == [{"bearerAuth": []}]
    assert "error" in doc["components"]["schemas"]["Error"]["properties"]
    rules = list(_api_rules(app))
    assert rules
    for path, methods in rules:
        assert path in doc["paths"], path
        for method in methods:
            assert method.lower() in doc["paths"][path], f"{method} {path}"
    for ref in _refs(doc):
        _resolve(doc, ref)
    try:
        from openapi_spec_validator import validate
    except ImportError:  # the `test` extra installs it; the structural checks above still ran
        return
    validate(doc)


def test_openapi_document_is_public_and_complete(app, client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    doc = response.get_json()
    _check_document(app, doc)

    token = doc["paths"]["/api/v1/auth/token"]
    assert token["post"]["security"] == []
    assert token["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/TokenRequest"}
    assert {"201", "401", "422", "429"} <= set(token["post"]["responses"])
    assert "password" in doc["components"]["schemas"]["TokenRequest"]["required"]

    tokens = doc["paths"]["/api/v1/auth/tokens"]["get"]
    assert [p["name"] for p in tokens["parameters"]] == ["page", "per_page", "all"]
    items = tokens["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["items"]
    assert items["items"] == {"$ref": "#/components/schemas/Token"}

    enable = doc["paths"]["/api/v1/plugins/{name}/enable"]
    assert enable["parameters"][0]["name"] == "name" and enable["parameters"][0]["in"] == "path"
    assert enable["post"]["x-hcrm-permission"] == "core.plugins.manage"
    assert {"403", "404", "409"} <= set(enable["post"]["responses"])
    revoke = doc["paths"]["/api/v1/auth/tokens/{token_id}"]
    assert revoke["parameters"][0]["schema"] == {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
    assert set(revoke["delete"]["responses"]) == {"204", "401", "404"}


# -- a plugin's API ---------------------------------------------------------------------------
DEMO_API = '''
import sqlalchemy as sa
from flask import Blueprint
from marshmallow import Schema, fields, validate

from core.api import api_route, paginate
from core.models import User
from core.tenancy import get_or_404

bp = Blueprint("apidemo_api", __name__, url_prefix="/api/v1/apidemo")


class ItemSchema(Schema):
    id = fields.Integer(dump_only=True)
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ItemQuerySchema(Schema):
    prefix = fields.String(load_default="")


@api_route(bp, "/items", permission="apidemo.items.read", query=ItemQuerySchema, response=ItemSchema,
           paginated=True)
def list_items(query):
    """List the hospital's users (a stand-in for a plugin's records)."""
    stmt = sa.select(User).order_by(User.username)
    if query["prefix"]:
        stmt = stmt.where(User.username.startswith(query["prefix"]))
    return paginate(stmt)


@api_route(bp, "/items/<int:item_id>", permission="apidemo.items.read", response=ItemSchema)
def get_item(item_id):
    return get_or_404(User, item_id)


@api_route(bp, "/items", methods=("POST",), permission="apidemo.items.create", body=ItemSchema,
           response=ItemSchema, status=201)
def create_item(body):
    return {"id": 0, "username": body["username"]}
'''

DEMO_INIT = '''
from core import hookimpl
from core.declarations import Permission


@hookimpl
def hcrm_permissions():
    return [Permission("apidemo.items.read", "Read demo items"),
            Permission("apidemo.items.create", "Create demo items")]


@hookimpl
def hcrm_blueprints():
    from .api import bp
    return [bp]
'''

DEMO_MANIFEST = ('{"name": "apidemo", "title": "API demo", "version": "1.0.0", '
                 '"summary": "A test-only plugin with API endpoints.", "depends": []}')


@pytest.fixture
def make_demo_app(app, database_url, tmp_path, monkeypatch):
    """Apps that load the built-in plugins plus a test-only plugin 'apidemo' with an API."""
    from core.extensions import db
    from core.plugins import default_finder
    module = f"hcrm_apidemo_{uuid.uuid4().hex[:8]}"  # a fresh module: no import cache between tests
    package = tmp_path / module
    package.mkdir()
    (package / "__manifest__.py").write_text(DEMO_MANIFEST)
    (package / "__init__.py").write_text(textwrap.dedent(DEMO_INIT))
    (package / "api.py").write_text(textwrap.dedent(DEMO_API))
    monkeypatch.syspath_prepend(str(tmp_path))

    def finder():
        candidates, problems = default_finder()
        return candidates + [(package, module, "hcrm-apidemo")], problems

    made = []

    def factory(**settings):
        made.append(testing.make_app(database_url, finder=finder, **settings))
        return made[-1]

    yield factory
    for demo in made:  # close its connections before `app` empties the tables
        with demo.app_context():
            db.session.remove()
            db.engine.dispose()


def test_plugin_api_routes_are_documented(make_demo_app):
    demo = make_demo_app()
    assert "apidemo" in demo.extensions["hcrm"].registry.infos
    assert demo.view_functions["apidemo_api.list_items"].hcrm_permission == "apidemo.items.read"
    doc = demo.test_client().get("/api/v1/openapi.json").get_json()
    _check_document(demo, doc)

    items = doc["paths"]["/api/v1/apidemo/items"]
    assert set(items) == {"get", "post"}
    assert items["get"]["tags"] == ["apidemo"] and items["get"]["x-hcrm-plugin"] == "apidemo"
    assert [p["name"] for p in items["get"]["parameters"]] == ["page", "per_page", "prefix"]
    assert items["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/apidemo.Item"}
    assert "404" in items["get"]["responses"]
    assert {"name": "apidemo", "description": "API demo: A test-only plugin with API endpoints."} in doc["tags"]
    assert "/api/v1/apidemo/items/{item_id}" in doc["paths"]
    assert "/api/v1/me" in doc["paths"]


def test_plugin_api_live_where_enabled_404_elsewhere(make_demo_app):
    demo = make_demo_app(WTF_CSRF_ENABLED=True)  # the API needs no CSRF token, even when pages do
    with demo.app_context():
        on = make_hospital("ON", plugins=["apidemo"])
        off = make_hospital("OFF")
        for name in ("on_admin", "on_beth", "on_carl"):
            make_user(on, name, ("super_admin",))
        make_user(on, "on_nobody", ())
        make_user(off, "off_admin", ("super_admin",))
        make_user(off, "off_dora", ())
        stranger = make_user(off, "off_erin").id
    client = demo.test_client()
    on_admin, off_admin = api_token(client, "on_admin"), api_token(client, "off_admin")

    page = client.get("/api/v1/apidemo/items?per_page=3", headers=on_admin).get_json()
    assert (page["total"], page["pages"]) == (4, 2)  # the count is scoped to the hospital too
    assert [i["username"] for i in page["items"]] == ["on_admin", "on_beth", "on_carl"]
    second = client.get("/api/v1/apidemo/items?per_page=3&page=2&prefix=on_", headers=on_admin).get_json()
    assert [i["username"] for i in second["items"]] == ["on_nobody"]
    _json_error(client.get(f"/api/v1/apidemo/items/{stranger}", headers=on_admin), 404)

    created = client.post("/api/v1/apidemo/items", json={"username": "new"}, headers=on_admin)
    assert created.status_code == 201 and created.get_json() == {"id": 0, "username": "new"}
    error = _json_error(client.post("/api/v1/apidemo/items", json={"username": ""}, headers=on_admin), 422)
    assert list(error["fields"]) == ["username"]
    assert client.post("/api/v1/plugins/apidemo/disable", headers=off_admin).status_code == 200

    _json_error(client.get("/api/v1/apidemo/items", headers=off_admin), 404)
    _json_error(client.post("/api/v1/apidemo/items", json={"username": "x"}, headers=off_admin), 404)
    _json_error(client.get("/api/v1/apidemo/items"), 401)
    nobody = _json_error(client.get("/api/v1/apidemo/items", headers=api_token(client, "on_nobody")), 403)
    assert nobody["permission"] == "apidemo.items.read"


def test_plugin_api_passes_the_generic_plugin_suite(make_demo_app):
    contract = type("DemoContract", (testing.PluginContract,), {"plugin": "apidemo"})()
    contract.test_routes_404_where_disabled_and_403_without_permission(make_demo_app())
