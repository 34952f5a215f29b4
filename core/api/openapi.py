"""The OpenAPI 3.0.3 document, built from what every ``api_route`` view declared.

It walks the app's URL map, so it lists exactly the routes that run: the core's and every
installed plugin's (tagged with the plugin). Schemas come from the marshmallow schemas through
apispec; a plugin's schemas are named ``<plugin>.<Name>`` so two plugins cannot collide.
"""
from __future__ import annotations

import re
from importlib import metadata

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from werkzeug.http import HTTP_STATUS_CODES

from core.api.schemas import ErrorSchema
from core.api.toolkit import PageArgsSchema
from core.integers import DB_INT_MAX

_RULE_ARG = re.compile(r"<(?:(?P<conv>\w+)(?:\([^)]*\))?:)?(?P<name>\w+)>")
_CONVERTER_SCHEMAS = {"int": {"type": "integer", "minimum": 0, "maximum": DB_INT_MAX}, "float": {"type": "number"},
                      "uuid": {"type": "string", "format": "uuid"}}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_RESPONSES = {
    400: ("BadRequest", "Bad query string or a body that is not a JSON object."),
    401: ("Unauthorized", "No token, or the token is unknown, expired or revoked."),
    403: ("Forbidden", "The caller lacks the permission named in the error."),
    404: ("NotFound", "No such record for the caller's hospital, or the plugin is not enabled there."),
    409: ("Conflict", "The request conflicts with the current state; nothing was written."),
    422: ("ValidationFailed", "The body failed validation; `error.fields` says which fields and why."),
    429: ("TooManyRequests", "Too many failed sign-ins; retry after `Retry-After` seconds."),
}
CORE_TAGS = {"auth": "Tokens and the caller.", "plugins": "The plugins of the caller's hospital.",
             "meta": "This document."}
DESCRIPTION = """\
REST API of HCRM. Authenticate with `Authorization: Bearer <token>` (get a token from
`POST /api/v1/auth/token`). Every error answers `{"error": {"status", "message"}}`, plus
`fields` for validation errors. Lists are paginated with `page` and `per_page` (1-200) and answer
`{"items", "page", "per_page", "total", "pages"}`. A plugin's endpoints answer 404 for a
hospital that has not enabled it. A request acts in one hospital: the token user's own, or for a
group administrator the one whose code the `X-HCRM-Hospital` header names (400 for an unknown
code, 403 for anyone else naming another hospital)."""


def document(app: Flask) -> dict:
    """The app's document, built on first use (routes do not change after start-up)."""
    cached = app.extensions.get("hcrm_openapi")
    if cached is None:
        cached = app.extensions["hcrm_openapi"] = build(app)
    return cached


def _version() -> str:
    try:
        return metadata.version("hcrm")
    except metadata.PackageNotFoundError:
        return "0"


def _path_and_parameters(rule: str) -> tuple[str, list[dict]]:
    params = [{"in": "path", "name": m["name"], "required": True,
               "schema": dict(_CONVERTER_SCHEMAS.get(m["conv"] or "", {"type": "string"}))}
              for m in _RULE_ARG.finditer(rule)]
    return _RULE_ARG.sub(lambda m: "{" + m["name"] + "}", rule), params


def _response_schema(op) -> dict | object:
    if op.paginated:
        item = op.response if op.response is not None else {"type": "object"}
        integer = {"type": "integer"}
        return {"type": "object", "required": ["items", "page", "per_page", "total", "total_exact", "pages"],
                "properties": {"items": {"type": "array", "items": item}, "page": integer,
                               "per_page": integer, "total": integer, "pages": integer,
                               "total_exact": {"type": "boolean", "description":
                                               "False when counting stopped at the list's cap: "
                                               "`total` is then a lower bound."}}}
    if op.response is None:
        return {"type": "object"}
    return {"type": "array", "items": op.response} if op.many else op.response


def _operation(op, endpoint: str, plugin: str | None, has_path_args: bool) -> dict:
    responses = {}
    if op.status == 204:
        responses["204"] = {"description": "Done; no content."}
    else:
        responses[str(op.status)] = {"description": HTTP_STATUS_CODES.get(op.status, "OK"),
                                     "content": {"application/json": {"schema": _response_schema(op)}}}
    errors = set(op.errors)
    if op.query is not None or op.paginated:
        errors.add(400)
    if op.body is not None:
        errors |= {400, 422}
    if not op.public:
        errors.add(401)
    if op.permission:
        errors.add(403)
    if has_path_args or plugin:
        errors.add(404)
    for status in sorted(errors):
        if status in ERROR_RESPONSES:
            responses[str(status)] = {"$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
        else:
            responses[str(status)] = {"description": HTTP_STATUS_CODES.get(status, "Error"),
                                      "content": {"application/json": {"schema": dict(ERROR_REF)}}}
    notes = [op.description] if op.description else []
    if op.permission:
        notes.append(f"Requires the permission `{op.permission}`.")
    if plugin:
        notes.append(f"Provided by the plugin `{plugin}`: 404 where it is not enabled.")
    operation = {"operationId": endpoint, "summary": str(op.summary or endpoint),
                 "tags": list(op.tags) or [plugin or "core"], "responses": responses}
    if notes:
        operation["description"] = "\n\n".join(notes)
    parameters = []
    if op.paginated:
        parameters.append({"in": "query", "schema": PageArgsSchema()})
    if op.query is not None:
        parameters.append({"in": "query", "schema": op.query})
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.body}}}
    if op.public:
        operation["security"] = []
    if op.permission:
        operation["x-hcrm-permission"] = op.permission
    if plugin:
        operation["x-hcrm-plugin"] = plugin
    return operation


def build(app: Flask) -> dict:
    state = app.extensions["hcrm"]
    modules = {info.module: name for name, info in state.registry.infos.items()}

    def schema_name(schema) -> str:
        cls = schema if isinstance(schema, type) else type(schema)
        base = cls.__name__.removesuffix("Schema") or cls.__name__
        for module, plugin in modules.items():
            if cls.__module__ == module or cls.__module__.startswith(module + "."):
                return f"{plugin}.{base}"
        return base

    spec = APISpec(title="HCRM REST API", version=_version(), openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin(schema_name_resolver=schema_name)],
                   info={"description": DESCRIPTION}, security=[{"bearerAuth": []}])
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A token from POST /api/v1/auth/token."})
    spec.components.schema("Error", schema=ErrorSchema)
    for name, text in ERROR_RESPONSES.values():
        spec.components.response(name, {"description": text,
                                         "content": {"application/json": {"schema": dict(ERROR_REF)}}})

    paths: dict[str, dict] = {}
    used_tags: dict[str, str] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        op = getattr(app.view_functions.get(rule.endpoint), "hcrm_api", None)
        if op is None:
            continue
        plugin = state.catalog.blueprint_plugin.get(rule.endpoint.rpartition(".")[0])
        plugin = plugin if plugin in state.registry.infos else None
        path, params = _path_and_parameters(rule.rule)
        entry = paths.setdefault(path, {"parameters": params, "operations": {}})
        for method in op.methods:
            operation = _operation(op, rule.endpoint, plugin, bool(params))
            entry["operations"][method.lower()] = operation
            for tag in operation["tags"]:
                info = state.registry.infos.get(tag)
                used_tags.setdefault(tag, f"{info.title}: {info.summary}" if info else CORE_TAGS.get(tag, ""))
    for path, entry in paths.items():
        spec.path(path=path, operations=entry["operations"], parameters=entry["parameters"] or None)
    for tag, text in used_tags.items():
        spec.tag({"name": tag, "description": text} if text else {"name": tag})
    return spec.to_dict()
