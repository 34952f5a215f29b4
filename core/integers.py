"""Integers from the outside world, bounded to what the database holds.

Python's integers have no size, the database's do: ``/patients/99999999999999999999`` or a
30-digit ``?page=`` reached SQLite as ``OverflowError`` and PostgreSQL as "integer out of range",
i.e. a 500. Every id column is a 32-bit ``INTEGER`` (PostgreSQL's ``serial``), so a
number outside that range names no row and no page: URLs answer 404, query strings read it as
they read any other non-number (the parameter's default), the API refuses it with a message
(``core.api.toolkit`` bounds every Integer field with ``DB_INT_MIN``/``DB_INT_MAX``).

Code reading a number by hand should use :func:`bounded_int` or :func:`digits_or_none`.
:func:`init_app` installs the ``int`` URL converter and the request class, so every route and
every ``request.args.get(name, type=int)`` of every plugin is covered without knowing it, and a
last-resort handler answers 400 when a number the database cannot hold still reaches it.
"""
from __future__ import annotations

from flask import Flask, Request
from flask_babel import gettext as _
from sqlalchemy.exc import DataError
from werkzeug.datastructures import CombinedMultiDict, ImmutableMultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter
from werkzeug.utils import cached_property

DB_INT_MIN = -(2**31)
DB_INT_MAX = 2**31 - 1


def in_db_range(value: int) -> bool:
    return DB_INT_MIN <= value <= DB_INT_MAX


def bounded_int(value) -> int:
    """``int(value)``, with ValueError for a number the database cannot hold."""
    number = int(value)
    if not in_db_range(number):
        raise ValueError(f"{number} is out of range")
    return number


def digits_or_none(text) -> int | None:
    """The number written in plain digits in ``text`` when the database can hold it, else None
    (for ids and page numbers read by hand from a query string)."""
    text = str(text or "")
    if not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if number <= DB_INT_MAX else None


def _typed(type_):
    return bounded_int if type_ is int else type_


class BoundedIntConverter(IntegerConverter):
    """``<int:…>`` that does not match numbers beyond the database's range (a 404, like any
    unknown id). ``max``/``min`` given in a rule still narrow it.

    The regex already refuses more than ten digits: werkzeug checks a rule's methods before its
    converters, so a number refused only by ``to_python`` would answer 405 to a PATCH whose path
    also matches a GET rule, instead of 404."""

    regex = r"\d{1,10}"
    signed_regex = r"-?\d{1,10}"

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, DB_INT_MIN if min is None else min,
                         DB_INT_MAX if max is None else max, signed)


class BoundedArgs(ImmutableMultiDict):
    """``request.args``/``request.form``: ``get(…, type=int)`` treats an out-of-range number
    as a non-number (the default is returned), ``getlist(…, type=int)`` drops it."""

    def get(self, key, default=None, type=None):
        return super().get(key, default, _typed(type))

    def getlist(self, key, type=None):
        return super().getlist(key, _typed(type))


class BoundedValues(CombinedMultiDict):
    """``request.values`` with the same rule (CombinedMultiDict converts by itself)."""

    def get(self, key, default=None, type=None):
        return super().get(key, default, _typed(type))

    def getlist(self, key, type=None):
        return super().getlist(key, _typed(type))


class BoundedRequest(Request):
    parameter_storage_class = BoundedArgs

    @cached_property
    def values(self):
        sources = [self.args]
        if self.method != "GET":
            sources.append(self.form)
        return BoundedValues(sources)


def _from_database(exc: BaseException) -> bool:
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith("sqlalchemy.engine"):
            return True
        tb = tb.tb_next
    return False


#: How each database says "this number does not fit the column": PostgreSQL's SQLSTATE
#: numeric_value_out_of_range, MySQL/MariaDB's error 1264.
_OUT_OF_RANGE_CODES = ("22003", 1264)


def _out_of_range(exc: BaseException) -> bool:
    if isinstance(exc, OverflowError):  # SQLite's driver, before the statement is sent
        return _from_database(exc)
    orig = getattr(exc, "orig", None)
    code = getattr(orig, "pgcode", None) or (orig.args[0] if getattr(orig, "args", None) else None)
    return code in _OUT_OF_RANGE_CODES


def number_out_of_range(exc: Exception):
    """The last line of defence, for code that reads a number by hand (``int(form["x"])``) and
    sends it to the database, which refuses it (OverflowError from SQLite's driver, "out of range"
    from PostgreSQL and MariaDB). It is the caller's number, so a 400 naming the limit, not a 500;
    any other error is a bug like any other."""
    from core import web
    if not _out_of_range(exc):
        return web.handle_unexpected(exc)
    from core.extensions import db
    db.session.rollback()
    return web.handle_http_error(BadRequest(description=_(
        "A number in the request is too large (at most %(max)d): nothing was saved.", max=DB_INT_MAX)))


def init_app(app: Flask) -> None:
    """Before any route is added: rules pick their converter class when they are bound."""
    app.url_map.converters["int"] = BoundedIntConverter
    app.request_class = BoundedRequest
    app.register_error_handler(OverflowError, number_out_of_range)
    app.register_error_handler(DataError, number_out_of_range)
