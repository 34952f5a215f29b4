"""Tenancy and data scope, applied in one place: the ORM.

Every hospital-owned row carries ``hospital_id``. A ``do_orm_execute`` listener adds
``with_loader_criteria`` for the current :class:`Scope` to every ORM SELECT, UPDATE and DELETE,
so lists, detail pages, search, reports, exports and the API cannot disagree. A ``before_flush``
listener fills in the hospital (and owner/department) of new rows, refuses writes outside
the scope and references into another hospital (:mod:`core.references`). Code that runs
outside a request (CLI, jobs) states its scope explicitly with :func:`hospital_scope` or
:func:`system_scope`; a query of hospital-owned rows without any scope raises
:class:`TenancyError` instead of returning everything.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
from contextvars import ContextVar
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort
from sqlalchemy import event, or_
from sqlalchemy.orm import Session, declared_attr, with_loader_criteria

from core.extensions import db
from core.i18n import _m
from core.integers import bounded_int

LEVELS = ("own", "department", "hospital", "group")


class TenancyError(RuntimeError):
    """Hospital data touched without a scope, or a write outside the caller's scope."""


class WriteRefused(TenancyError):
    """A write the caller may not make, for a reason the user can act on: ``message`` is a
    :class:`core.i18n.Message` the web layer shows (translated) with ``status``."""

    status = 403

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


class CrossHospitalReference(WriteRefused):
    """A row would refer to a row of another hospital (see core.references)."""

    status = 422


class HospitalOwned:
    """Mixin for every row that belongs to one hospital."""

    hcrm_group_shared = False  # see GroupShared

    @declared_attr
    def hospital_id(cls):
        return sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False, index=True)


class DataScoped(HospitalOwned):
    """Mixin for records with an owner and a department: the own/department scopes apply."""

    hcrm_scope_widened = False  # set for a model overriding hcrm_scope_also (read inside SQL lambdas)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.hcrm_scope_widened = "hcrm_scope_also" in cls.__dict__ or any(
            getattr(base, "hcrm_scope_widened", False) for base in cls.__bases__)

    @classmethod
    def hcrm_scope_also(cls, user_id: int, department_ids: tuple):
        """Rows an own or department scope sees besides its own (``owner_id``) and, for the
        department scope, its departments' (``department_id``): an SQL condition on ``cls``, or
        None for none. ``department_ids`` is empty for the own scope. A model overrides this for
        people a record involves otherwise (a complaint's handler and assigned departments);
        subqueries here should read tables (``Model.__table__``), not scoped models, whose own
        criteria would loop back here."""
        return None

    @declared_attr
    def owner_id(cls):
        return sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True, index=True)

    @declared_attr
    def department_id(cls):
        return sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=True, index=True)


class GroupShared(HospitalOwned):
    """Mixin for rows that are either one hospital's or shared by the whole group.

    ``hospital_id`` NULL means "shared by the group": every hospital reads such rows next to its
    own, and any hospital-owned row may refer to them; only a scope that may write group rows
    (:attr:`Scope.writes_group_rows`) creates, changes or deletes them. A new row gets the
    scope's hospital unless it is created with ``hospital_id=None`` given explicitly.
    """

    hcrm_group_shared = True

    @declared_attr
    def hospital_id(cls):
        return sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=True, index=True)


class ScopedThrough(HospitalOwned):
    """Mixin for rows whose data scope is their parent's: ``__hcrm_scope_through__`` names the
    foreign-key column to a :class:`DataScoped` table (an SMS → its patient, a follow-up round →
    its plan). Under an own or department scope such a row is visible exactly when its parent
    is — the parent's own criteria apply inside the check, so the rule is written once — and a
    row without a parent is hidden. Hospital and group scopes see the hospital's rows as usual.
    """

    __hcrm_scope_through__: str = ""


def scope_parent(model: type) -> tuple[sa.Column, type]:
    """(foreign-key column, parent model) of a :class:`ScopedThrough` model; raises TypeError
    naming the model when the column is missing or does not point at a DataScoped table."""
    name = getattr(model, "__hcrm_scope_through__", "")
    column = model.__table__.c.get(name) if name else None
    targets = {fk.column.table for fk in column.foreign_keys} if column is not None else set()
    parents = [m.class_ for m in db.Model.registry.mappers
               if m.local_table in targets and issubclass(m.class_, DataScoped)]
    if len(parents) != 1:
        raise TypeError(f"{model.__name__}.__hcrm_scope_through__ = {name!r} must name a foreign-key "
                        "column to a DataScoped table")
    return getattr(model, name), parents[0]


def _through_criteria() -> list:
    """A parent-visibility check for every ScopedThrough model (the own/department scopes)."""
    options = []
    for mapper in list(db.Model.registry.mappers):
        model = mapper.class_
        if isinstance(model, type) and issubclass(model, ScopedThrough) and mapper.local_table is not None:
            column, parent = scope_parent(model)
            options.append(with_loader_criteria(model, column.in_(sa.select(parent.id)), include_aliases=True))
    return options


@dataclass(frozen=True)
class Scope:
    """Who is asking: the current hospital and how far the caller may see.

    ``hospital_ids`` None means every hospital: the system scope, or a group administrator
    inside :func:`group_wide`; a request is otherwise scoped to one hospital, the group
    administrator's chosen one included. ``level`` narrows DataScoped records to the user's own
    (``own``) or their departments' (``department``); ``group`` marks a group administrator.
    """

    hospital_id: int | None
    hospital_ids: frozenset[int] | None
    level: str = "hospital"
    user_id: int | None = None
    department_ids: frozenset[int] = field(default_factory=frozenset)
    system: bool = False
    # A group administrator narrowed to one hospital still maintains the group's shared rows.
    group_writer: bool = False

    def allows_hospital(self, hospital_id: int | None) -> bool:
        return self.hospital_ids is None or hospital_id in self.hospital_ids

    @property
    def writes_group_rows(self) -> bool:
        """Whether group-shared rows (hospital NULL, see :class:`GroupShared`) may be written."""
        return self.system or self.hospital_ids is None or self.group_writer

    def allows_write(self, hospital_id: int | None) -> bool:
        return self.writes_group_rows if hospital_id is None else self.allows_hospital(hospital_id)


_current: ContextVar[Scope | None] = ContextVar("hcrm_scope", default=None)


def current_scope() -> Scope | None:
    return _current.get()


@contextlib.contextmanager
def use_scope(scope: Scope | None):
    token = _current.set(scope)
    try:
        yield scope
    finally:
        _current.reset(token)


def hospital_scope(hospital, user=None):
    """Scope for work done on behalf of one hospital (jobs, CLI, enable handlers)."""
    hospital_id = hospital if isinstance(hospital, int) else hospital.id
    return use_scope(Scope(hospital_id=hospital_id, hospital_ids=frozenset({hospital_id}),
                           level="hospital", user_id=getattr(user, "id", None)))


def system_scope():
    """Unfiltered scope for the core's own bookkeeping (login, migrations, admin CLI)."""
    return use_scope(Scope(hospital_id=None, hospital_ids=None, level="group", system=True))


def current_hospital_only(view):
    """Kept for compatibility, a no-op: every request's scope is one hospital already.

    A group administrator's requests are scoped to the hospital they switched to
    (:func:`core.web.scope_for`); views that used this decorator to narrow a group-wide scope
    need nothing now. Pages that deliberately show the whole group use :func:`group_wide`.
    """
    return view


class group_wide(contextlib.ContextDecorator):
    """Opt in to the whole group: a group administrator's scope widened to every hospital.

    Use it as a view decorator (or a ``with`` block) on a page that offers a whole-group view;
    such a page must say so (``core/base.html`` shows a "whole group" badge while the scope is
    group-wide, see :func:`is_group_wide`) and carry a hospital column in its tables and
    exports. For everyone else (one hospital's users, jobs, the CLI) it changes nothing, so it
    can never widen what a user may see. Both ``@group_wide`` and ``@group_wide()`` work.
    """

    def __new__(cls, func=None):
        instance = super().__new__(cls)
        return instance(func) if func is not None else instance

    def __enter__(self):
        scope = _current.get()
        self._token = _current.set(dataclasses.replace(scope, hospital_ids=None)) if may_widen(scope) else None
        return self

    def __exit__(self, *exc):
        if self._token is not None:
            _current.reset(self._token)
        return False

    def _recreate_cm(self):  # a fresh token holder per call: a decorated view may run concurrently
        return type(self)()


#: ``?whole_group=1``: a page that offers the whole group shows it when a group administrator asks.
WHOLE_GROUP_ARG = "whole_group"


def may_widen(scope: Scope | None = None) -> bool:
    """Whether :class:`group_wide` would widen ``scope`` (default: the current one): a group
    administrator's request. Pages show their "whole group" switch only then."""
    scope = scope or _current.get()
    return scope is not None and not scope.system and scope.level == "group"


def group_wide_requested():
    """:class:`group_wide` when the request asks for ``?whole_group=1``, else the scope as it
    is: for a page that offers both the hospital the user works in and the whole group."""
    from flask import has_request_context, request
    if has_request_context() and request.args.get(WHOLE_GROUP_ARG) == "1":
        return group_wide()
    return contextlib.nullcontext()


def is_group_wide(scope: Scope | None = None) -> bool:
    """Whether ``scope`` (default: the current one) shows a group administrator every hospital."""
    scope = scope or _current.get()
    return may_widen(scope) and scope.hospital_ids is None


@contextlib.contextmanager
def in_hospital(hospital_id: int):
    """The current scope narrowed to one hospital, keeping the user and level (a whole-group
    report runs once per hospital inside this). Refused for a hospital the scope does not allow."""
    scope = _current.get()
    if scope is None or not scope.allows_hospital(hospital_id):
        raise TenancyError(f"hospital {hospital_id} is outside the current scope")
    with use_scope(dataclasses.replace(scope, hospital_id=hospital_id, hospital_ids=frozenset({hospital_id}))):
        yield


def get_or_404(model, ident):
    """Load one row through the scoped query path: another hospital's row is a 404, not a leak."""
    try:
        ident = bounded_int(ident)  # a number beyond the id column's range names no row
    except (TypeError, ValueError):
        abort(404)
    row = db.session.execute(sa.select(model).where(model.id == ident)).scalar_one_or_none()
    if row is None:
        abort(404)
    return row


@functools.lru_cache(maxsize=1024)
def _criteria_options(scope: Scope) -> tuple:
    """The loader criteria of a scope. Cached: the same few scopes ask again and again, and an
    option SQLAlchemy has seen keeps the key it computed for its statement cache."""
    options = []
    if scope.hospital_ids is not None:
        ids = tuple(sorted(scope.hospital_ids))
        # Group-shared models also show the group's rows; the lambda runs once per mapped class.
        options.append(with_loader_criteria(
            HospitalOwned,
            lambda cls: or_(cls.hospital_id.in_(ids), cls.hospital_id.is_(None))
            if cls.hcrm_group_shared else cls.hospital_id.in_(ids),
            include_aliases=True))
    if scope.level in ("own", "department"):
        uid = scope.user_id
        depts = tuple(sorted(scope.department_ids)) if scope.level == "department" else ()
        # Models that widen the rule get their own criterion (a plain expression: SQLAlchemy's
        # lambda criteria cannot pass the scope's values on to the model's method safely).
        if depts:
            options.append(with_loader_criteria(
                DataScoped, lambda cls: sa.true() if cls.hcrm_scope_widened
                else or_(cls.owner_id == uid, cls.department_id.in_(depts)), include_aliases=True))
        else:  # the own scope, or a department scope without a department: one's own rows
            options.append(with_loader_criteria(
                DataScoped, lambda cls: sa.true() if cls.hcrm_scope_widened else cls.owner_id == uid,
                include_aliases=True))
        options.extend(with_loader_criteria(model, _seen_by(model, uid, depts), include_aliases=True)
                       for model in _widening_models())
    if scope.level in ("own", "department"):
        options.extend(_through_criteria())
    return tuple(options)


def _widening_models() -> list[type]:
    return [m.class_ for m in list(db.Model.registry.mappers)
            if isinstance(m.class_, type) and issubclass(m.class_, DataScoped) and m.class_.hcrm_scope_widened]


def _seen_by(cls, uid, depts: tuple):
    """The own/department scopes' rows of a DataScoped model: the user's own, their departments'
    (none for the own scope) and what the model adds (:meth:`DataScoped.hcrm_scope_also`)."""
    seen = [cls.owner_id == uid]
    if depts:
        seen.append(cls.department_id.in_(depts))
    also = cls.hcrm_scope_also(uid, depts)
    if also is not None:
        seen.append(also)
    return or_(*seen)


def _touches_hospital_data(state) -> bool:
    return any(isinstance(m.class_, type) and issubclass(m.class_, HospitalOwned)
               for m in state.all_mappers)


@event.listens_for(Session, "do_orm_execute")
def _apply_scope(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.is_column_load or state.is_relationship_load:
        return  # the criteria already travel with the parent query's loader options
    scope = _current.get()
    if scope is None:
        if _touches_hospital_data(state):
            raise TenancyError("hospital data queried outside any tenancy scope; "
                               "use core.tenancy.hospital_scope() or system_scope()")
        return
    if scope.system:
        return
    options = _criteria_options(scope)
    if options:
        state.statement = state.statement.options(*options)


@event.listens_for(Session, "before_flush")
def _guard_writes(session, flush_context, instances) -> None:
    from core import references  # it builds on this module's mixins
    scope = _current.get()
    for obj in session.new:
        if not isinstance(obj, HospitalOwned):
            continue
        if obj.hospital_id is None and not (isinstance(obj, GroupShared)
                                            and "hospital_id" in sa.inspect(obj).dict):
            if scope is None or scope.hospital_id is None:
                raise TenancyError(f"new {type(obj).__name__} has no hospital and no scope gives one")
            obj.hospital_id = scope.hospital_id
        if (isinstance(obj, DataScoped) and scope is not None and not scope.system
                and obj.owner_id is None and scope.user_id is not None):
            obj.owner_id = scope.user_id
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, HospitalOwned):
            if scope is None:
                raise TenancyError(f"{type(obj).__name__} written outside any tenancy scope")
            if not scope.allows_write(obj.hospital_id):
                if obj.hospital_id is None:
                    raise WriteRefused(_m("%(model)s shared by the whole group may only be written by a "
                                          "group administrator.", model=type(obj).__name__))
                raise WriteRefused(_m("%(model)s of hospital %(hospital)s written from another hospital's scope",
                                      model=type(obj).__name__, hospital=obj.hospital_id))
    references.check(session)
