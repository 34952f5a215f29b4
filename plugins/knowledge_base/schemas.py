"""Marshmallow schemas: one filter set for the list page, the export and the API; the article as
the API reads and writes it."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, ValidationError, fields, post_load, validate

from core.api import UtcDateTime
from core.i18n import gettext as _

from . import search
from .models import STATUSES


class ArticleFilterSchema(Schema):
    """What the list shows: ``q`` (Chinese words, pinyin initials), ``type`` (a type code),
    ``department`` (name), ``tag``, ``icd`` (code prefix), ``status`` (editors only) and
    ``scope`` (``group``: the group's articles, ``hospital``: this hospital's)."""

    class Meta:
        unknown = EXCLUDE  # the page's own parameters (page, per_page) travel along

    q = fields.String(load_default="", metadata={"description": "Words to search (title above text), "
                                                 "or the pinyin initials of a title."})
    type = fields.String(validate=validate.Length(max=32), load_default=None)
    department = fields.String(validate=validate.Length(max=40), load_default=None)
    tag = fields.String(validate=validate.Length(max=40), load_default=None)
    icd = fields.String(validate=validate.Length(max=16), load_default=None)
    status = fields.String(validate=validate.OneOf(STATUSES), load_default=None)
    scope = fields.String(validate=validate.OneOf(("group", "hospital")), load_default=None)

    @post_load
    def _tokens(self, data, **_kwargs):
        for key in ("type", "department", "tag", "icd"):
            data[key] = (data.get(key) or "").strip() or None
        q = (data.get("q") or "").strip()
        data["q"] = q
        try:
            data["tokens"] = search.query_words(q) if q else []
        except search.QueryRefused as exc:
            if str(exc).startswith("too long"):
                size = format(len(q), ",")
                raise ValidationError({"q": [_("The search is too long (%(n)s characters; at most %(max)d).",
                                               n=size, max=search.MAX_QUERY)]}) from None
            raise ValidationError({"q": [_("Type at least one word, letter or number to search for.")]}) from None
        return data


class ApiFilterSchema(ArticleFilterSchema):
    class Meta:
        unknown = "raise"


class ArticleSchema(Schema):
    """An article (API)."""

    id = fields.Integer(dump_only=True)
    group = fields.Function(lambda a: a.hospital_id is None, dump_only=True,
                            metadata={"type": "boolean", "description": "Shared by the whole group."})
    type_code = fields.String(required=True, validate=validate.Length(max=32))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    summary = fields.String(allow_none=True, validate=validate.Length(max=500))
    body = fields.String(load_default="", metadata={"description": "HTML; sanitised on save (no script, "
                                                     "event handler, javascript: link or style)."})
    sms_text = fields.String(allow_none=True, validate=validate.Length(max=500))
    tags = fields.List(fields.String(validate=validate.Length(max=40)), attribute="tag_list")
    departments = fields.List(fields.String(validate=validate.Length(max=40)), attribute="department_list")
    icd_codes = fields.List(fields.String(validate=validate.Length(max=16)), attribute="icd_list")
    status = fields.String(dump_only=True, metadata={"enum": list(STATUSES)})
    version = fields.Integer(dump_only=True)
    author_name = fields.String(dump_only=True, allow_none=True)
    reviewer_name = fields.String(dump_only=True, allow_none=True)
    published_at = UtcDateTime(dump_only=True, allow_none=True)
    updated_at = UtcDateTime(dump_only=True)

    @post_load
    def _names(self, data, **_kwargs):
        for key, attr in (("tags", "tag_list"), ("departments", "department_list"), ("icd_codes", "icd_list")):
            if attr in data:
                data[key] = data.pop(attr)
        return data


class ArticleListSchema(Schema):
    """An article in a list: no body, a highlighted snippet instead."""

    id = fields.Integer()
    group = fields.Function(lambda a: a.hospital_id is None, metadata={"type": "boolean"})
    type_code = fields.String()
    title = fields.String()
    summary = fields.String(allow_none=True)
    sms_text = fields.String(allow_none=True)
    tags = fields.List(fields.String(), attribute="tag_list")
    departments = fields.List(fields.String(), attribute="department_list")
    status = fields.String(metadata={"enum": list(STATUSES)})
    updated_at = UtcDateTime()


class PublishSchema(Schema):
    action = fields.String(load_default="publish", validate=validate.OneOf(("submit", "publish", "reject",
                                                                            "archive", "reopen")),
                           metadata={"description": "submit (to review), publish, reject, archive, reopen"})


class ArticleUpdateSchema(ArticleSchema):
    """Only the fields sent change."""

    type_code = fields.String(validate=validate.Length(max=32))
    title = fields.String(validate=validate.Length(min=1, max=200))
    body = fields.String()


class ArticleCreateQuerySchema(Schema):
    group = fields.Boolean(load_default=False, metadata={
        "description": "Create an article shared by the whole group (a group-level editor only)."})
