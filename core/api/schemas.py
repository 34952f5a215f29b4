"""Marshmallow schemas of the core's API: what goes in and what comes out."""
from __future__ import annotations

from flask import g
from marshmallow import Schema, fields, validate

from core.api.toolkit import UtcDateTime

PLUGIN_STATES = ("enabled", "disabled", "never")


class ErrorDetailSchema(Schema):
    status = fields.Integer(required=True, metadata={"description": "The HTTP status, repeated."})
    message = fields.String(required=True, metadata={"description": "What went wrong, for a person."})
    field_errors = fields.Dict(data_key="fields", metadata={"description": "Validation errors: field name -> list of messages "
                                                  "(nested for nested fields)."})
    permission = fields.String(metadata={"description": "On 403: the permission the caller lacks."})


class ErrorSchema(Schema):
    """Every error answer of the API."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class HospitalSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class DepartmentSchema(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class RoleRefSchema(Schema):
    code = fields.String()


class UserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    is_group_admin = fields.Boolean()
    hospital = fields.Nested(HospitalSchema)
    department = fields.Nested(DepartmentSchema, allow_none=True)
    roles = fields.Pluck(RoleRefSchema, "code", many=True,
                         metadata={"description": "Codes of the user's roles in their hospital."})


class TokenRequestSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=256))
    name = fields.String(load_default="api", validate=validate.Length(min=1, max=100),
                         metadata={"description": "A label to recognise the token later (e.g. 'his-bridge')."})
    expires_in_days = fields.Integer(load_default=90, validate=validate.Range(min=1, max=365),
                                     metadata={"description": "Lifetime in days, 1 to 365 (default 90)."})


class IssuedTokenSchema(Schema):
    token = fields.String(metadata={"description": "The bearer token. Shown only once: store it."})
    token_id = fields.Integer()
    expires_at = UtcDateTime(allow_none=True)
    user = fields.Nested(UserSchema)


def _is_current(token) -> bool:
    record = g.get("hcrm_token_record")
    return record is not None and record.id == token.id


class TokenSchema(Schema):
    """A token of the caller, without its secret (only its hash is stored)."""

    id = fields.Integer()
    name = fields.String()
    created_at = UtcDateTime()
    expires_at = UtcDateTime(allow_none=True)
    last_used_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)
    current = fields.Function(_is_current, metadata={
        "type": "boolean", "description": "Whether this request was made with this token."})


class TokenListQuerySchema(Schema):
    all = fields.Boolean(load_default=False, metadata={
        "description": "Include revoked and expired tokens (default: only usable ones)."})


class MeSchema(Schema):
    user = fields.Nested(UserSchema)
    hospital = fields.Nested(HospitalSchema, metadata={"description": "The hospital the caller acts for."})
    data_scope = fields.String(validate=validate.OneOf(("own", "department", "hospital", "group")))
    plugins = fields.List(fields.String(), metadata={"description": "Plugins live for the hospital."})
    permissions = fields.List(fields.String(), metadata={"description": "Effective permissions."})


class PluginSchema(Schema):
    name = fields.String()
    title = fields.String()
    version = fields.String()
    summary = fields.String()
    depends = fields.List(fields.String())
    source = fields.String(metadata={"description": "'builtin' or the distribution providing it."})
    state = fields.String(validate=validate.OneOf(PLUGIN_STATES), metadata={
        "description": "For the caller's hospital: enabled, disabled, or never enabled."})
    changed_at = UtcDateTime(allow_none=True)


class BrokenPluginSchema(Schema):
    name = fields.String()
    source = fields.String()
    reason = fields.String()


class PluginListSchema(Schema):
    plugins = fields.List(fields.Nested(PluginSchema))
    broken = fields.List(fields.Nested(BrokenPluginSchema), metadata={
        "description": "Third-party plugins that failed to load, with the reason."})


class ActivationResultSchema(Schema):
    messages = fields.List(fields.String())
    changed = fields.List(fields.String(), metadata={"description": "Plugins whose state changed."})
