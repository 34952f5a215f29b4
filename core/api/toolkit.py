"""The toolkit of every API view: token auth, permission, input validation, output, pagination.

One decorator, :func:`api_route`, does for an API view what ``core.permissions.require`` does for
a page, plus the JSON contract: it validates the query string and the body with marshmallow
schemas, serialises the return value, and records all of it on the view (``view.hcrm_api``) so
that ``/api/v1/openapi.json`` documents exactly what runs. Errors always have the shape
``{"error": {"status", "message", ...}}``.
"""
from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass
from datetime import UTC

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from core import clock
from core.api.dumping import dump
from core.extensions import csrf, db
from core.i18n import localized
from core.integers import DB_INT_MAX, DB_INT_MIN
from core.paging import page_of
from core.permissions import can, denied
from core.web import json_error

MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 20


class _ZonedDateTime(fields.DateTime):
    """A naive datetime kept in ``_zone()``: written with that zone's offset; input with an offset
    is converted to it, input without one is taken as in it. Times before ``clock.EARLIEST``
    (or too late to convert) are refused: no hospital record is that old, and the zone database
    would answer a local mean time offset such as +08:05:43."""

    def _zone(self):
        raise NotImplementedError

    def _serialize(self, value, attr, obj, **kwargs):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=self._zone())
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        try:
            if result.tzinfo is not None:
                result = result.astimezone(self._zone()).replace(tzinfo=None)
            if result >= clock.EARLIEST:
                return result
        except OverflowError:
            pass
        raise ValidationError(_("Enter a date from %(year)d to 9998.", year=clock.EARLIEST.year))


class LocalDateTime(_ZonedDateTime):
    """Wall-clock times (visit, discharge, due times) are kept naive in the deployment's time
    zone (``core.clock``)."""

    def _zone(self):
        return clock.zone()


class UtcDateTime(_ZonedDateTime):
    """The database keeps naive UTC datetimes; the API writes them with their offset
    (``2024-05-01T08:00:00+00:00``) and turns aware input back into naive UTC."""

    def _zone(self):
        return UTC


class PageArgsSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    page = fields.Integer(load_default=1, validate=[validate.Range(min=1), validate.Range(max=DB_INT_MAX)],
                          metadata={"description": "Page number, from 1."})
    per_page = fields.Integer(load_default=DEFAULT_PER_PAGE, validate=validate.Range(min=1, max=MAX_PER_PAGE),
                              metadata={"description": f"Items per page, 1 to {MAX_PER_PAGE}."})


def bound_integers(schema: Schema | None) -> Schema | None:
    """Give every Integer that ``schema`` loads (nested ones too) the database's range, unless
    a validator already sets both ends: a number beyond it names no row and fits no column, and
    would reach the database as a 500 (OverflowError). The OpenAPI document shows the bounds."""
    if schema is not None:
        for field in schema.load_fields.values():
            _bound_field(field)
    return schema


def _bound_field(field) -> None:
    if isinstance(field, fields.Integer):
        ranges = [v for v in field.validators if isinstance(v, validate.Range)]
        has_min, has_max = (any(getattr(r, end) is not None for r in ranges) for end in ("min", "max"))
        if not (has_min and has_max):
            field.validators.append(validate.Range(min=None if has_min else DB_INT_MIN,
                                                   max=None if has_max else DB_INT_MAX))
    elif isinstance(field, fields.Nested):
        bound_integers(field.schema)
    elif isinstance(field, fields.List):
        _bound_field(field.inner)
    elif isinstance(field, fields.Dict) and field.value_field is not None:
        _bound_field(field.value_field)


PAGE_ARGS = PageArgsSchema()  # stateless: one instance serves every request


class Page(dict):
    """A serialised page: ``{"items", "page", "per_page", "total", "total_exact", "pages"}``,
    returned as is. ``total_exact`` is false when the count stopped at the route's cap.
    ``rows`` holds what the items were serialised from (not sent)."""

    rows: list | tuple = ()


@dataclass(frozen=True)
class Operation:
    """What one API view declares; read by the OpenAPI builder."""

    methods: tuple[str, ...]
    permission: str | None
    body: Schema | None
    query: Schema | None
    response: Schema | None
    many: bool
    paginated: bool
    status: int
    summary: str  # may be a lazy string; the OpenAPI builder renders it
    description: str
    tags: tuple[str, ...]
    public: bool
    errors: tuple[int, ...]


def _instance(schema):
    return schema() if isinstance(schema, type) else schema


def _docstring_parts(view) -> tuple[str, str]:
    doc = inspect.cleandoc(view.__doc__ or "")
    first, _sep, rest = doc.partition("\n\n")
    return " ".join(first.split()), rest.strip()


def _token_authenticated() -> bool:
    # core.web resolves API users from the bearer token only; the record proves it was a token.
    return current_user.is_authenticated and g.get("hcrm_token_record") is not None


def _query_data(schema: Schema, skip: tuple[str, ...] = ()) -> dict:
    """The query string as a plain dict for ``schema``: list fields take every value."""
    by_key = {(f.data_key or name): f for name, f in schema.load_fields.items()}
    data = {}
    for key in request.args:
        if key in skip:
            continue
        field = by_key.get(key)
        data[key] = request.args.getlist(key) if isinstance(field, fields.List) else request.args.get(key)
    return data


def page_args() -> tuple[int, int]:
    """``(page, per_page)`` of the current request, validated (400 on bad values)."""
    cached = g.get("hcrm_api_page")
    if cached is None:
        try:
            loaded = PAGE_ARGS.load(_query_data(PAGE_ARGS))
        except ValidationError as exc:
            raise _BadInput(400, _("Invalid query parameters."), exc.messages) from None
        cached = g.hcrm_api_page = (loaded["page"], loaded["per_page"])
    return cached


class _BadInput(Exception):
    def __init__(self, status: int, message: str, fields_=None):
        super().__init__(message)
        self.status, self.message, self.fields = status, message, fields_

    def response(self):
        extra = {"fields": localized(self.fields)} if self.fields is not None else {}
        return json_error(self.status, self.message, **extra)


def paginate(select_stmt, schema=None, *, count_cap: int | None = None, counted=None, load=()) -> Page:
    """Run ``select_stmt`` for the requested page and serialise the items with ``schema``
    (default: the route's ``response`` schema). Tenancy applies to the count as to the rows.

    A statement of one entity yields the entities; several columns yield rows (use labels).
    ``count_cap`` bounds the count (see :func:`core.paging.count_rows`) for lists that can be huge;
    ``counted`` is a cheaper statement to count, with one row per listed row, counted in the
    page's own statement (see :func:`core.paging.page_of`). ``load``: loader options (``joinedload(…)``) for the
    page's rows only — the count would carry them for nothing (SQLAlchemy still walks them to
    key its statement cache: about a millisecond for half a dozen joined relationships).
    """
    page, per_page = page_args()
    if schema is None:
        op = g.get("hcrm_api_operation")
        schema = op.response if op is not None else None
    rows, total, exact = page_of(select_stmt, page=page, per_page=per_page, cap=count_cap, counted=counted,
                                 load=load)
    items = dump(_instance(schema), rows, many=True) if schema is not None else list(rows)
    result = Page(items=items, page=page, per_page=per_page, total=total, total_exact=exact,
                  pages=math.ceil(total / per_page) if total else 0)
    result.rows = rows
    return result


def _make_response(op: Operation, result):
    if isinstance(result, Response):
        return result
    status, headers = op.status, None
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else None
    if status == 204 or result is None:
        response = Response(status=204 if status == 200 else status)
    else:
        if not isinstance(result, Page) and op.response is not None:
            result = dump(op.response, result, many=op.many)
        response = jsonify(result)
        response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


def _run(op: Operation, view, kwargs):
    if not op.public and not _token_authenticated():
        return current_app.login_manager.unauthorized()
    if op.permission and not can(op.permission):
        return json_error(403, denied(op.permission),
                          permission=op.permission)
    try:
        if op.paginated:
            page_args()
        if op.query is not None:
            skip = ("page", "per_page") if op.paginated else ()
            try:
                kwargs["query"] = op.query.load(_query_data(op.query, skip))
            except ValidationError as exc:
                raise _BadInput(400, _("Invalid query parameters."), exc.messages) from None
        if op.body is not None:
            data = request.get_json(silent=True)
            if not isinstance(data, dict):
                raise _BadInput(400, _("The request body must be a JSON object "
                                       "(send it with 'Content-Type: application/json')."))
            try:
                kwargs["body"] = op.body.load(data)
            except ValidationError as exc:
                raise _BadInput(422, _("The request body is invalid."), exc.messages) from None
        g.hcrm_api_operation = op
        try:
            result = view(**kwargs)
        except ValidationError as exc:  # a service's own check (e.g. a duplicate): same contract
            db.session.rollback()
            raise _BadInput(422, _("The request body is invalid."), exc.normalized_messages()) from None
    except _BadInput as bad:  # also raised by page_args() inside the view
        return bad.response()
    return _make_response(op, result)


def api_route(bp: Blueprint, rule: str, methods=("GET",), *, permission: str | None = None,
              body=None, query=None, response=None, many: bool = False, paginated: bool = False,
              status: int = 200, summary: str = "", tags=(), public: bool = False, errors=(),
              endpoint: str | None = None):
    """Register an API view on ``bp``.

    * Token authentication is required (a cookie never counts) unless ``public``; 401 otherwise.
    * ``permission``: checked with ``core.permissions.can``; 403 naming it otherwise.
    * ``query``: a marshmallow schema for the query string, passed to the view as ``query=``
      (400 with ``fields`` when invalid). ``paginated`` adds ``page``/``per_page`` (see
      :func:`paginate`, which the view returns).
    * ``body``: a marshmallow schema for the JSON body, passed as ``body=`` (400 when the body is
      not a JSON object, 422 with ``fields`` when the schema refuses it).
    * A ``marshmallow.ValidationError`` raised by the view (a service's own check) is a 422
      with ``fields`` too, after a rollback; ``abort(status, description=...)`` gives any other
      JSON error.
    * ``response``: schema serialising the return value (``many`` for a list). The view may also
      return ``(value, status)``, a :class:`Page` or a ready ``flask.Response``.
    * ``status``: the success status (201 for creations, 204 for deletions); ``errors`` lists
      extra error statuses to document (e.g. ``(409,)``); ``summary`` defaults to the first
      line of the docstring, and the rest of the docstring becomes the description.
    """
    methods = tuple(m.upper() for m in methods)
    if not (bp.url_prefix or "").startswith("/api/"):
        # Outside /api/ neither token auth nor JSON errors apply: refuse at import, not at run time.
        raise ValueError(f"api_route: blueprint '{bp.name}' needs a url_prefix under /api/ "
                         f"(convention: /api/v1/<plugin>), not {bp.url_prefix!r}")

    def decorator(view):
        doc_summary, description = _docstring_parts(view)
        op = Operation(methods=methods, permission=permission, body=bound_integers(_instance(body)),
                       query=bound_integers(_instance(query)), response=_instance(response), many=many,
                       paginated=paginated, status=status, summary=summary or doc_summary,
                       description=description, tags=tuple(tags), public=public,
                       errors=tuple(errors))

        @functools.wraps(view)
        def wrapped(**kwargs):
            return _run(op, view, kwargs)

        wrapped.hcrm_permission = permission  # read by the generic plugin suite, like require()
        wrapped.hcrm_api = op
        wrapped.hcrm_public = public  # no sign-in: the view names its hospital (core.permissions.public)
        csrf.exempt(wrapped)
        csrf.exempt(bp)
        bp.add_url_rule(rule, endpoint or view.__name__, wrapped, methods=list(methods))
        return wrapped

    return decorator
