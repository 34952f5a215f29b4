"""References stay inside their hospital (Odoo's ``check_company``, done once for every plugin).

On every flush, each reference from a hospital-owned row to another hospital-owned row must
point into the row's own hospital, or at a group-shared row (hospital NULL) of a model that
allows it. The references are found from the mappers, not listed per model:

* every single-column foreign key to a hospital-owned table;
* every many-to-one relationship, including those joined without a database foreign key
  (``primaryjoin="User.id == foreign(Visit.doctor_id)"``);
* the owner and department columns that :class:`core.tenancy.DataScoped` declares;
* collections (one-to-many and many-to-many, e.g. a user's roles), checked from the parent.

Cost: the hospital of an object already in the session is read from it; the others are looked
up in one ``SELECT id, hospital_id ... WHERE id IN (...)`` per referenced table per flush, and
remembered until the transaction ends.
Unchanged references of changed rows are not looked at, unless the row changes hospital.

Rows written with Core statements (``insert()``, ``update()``, bulk loaders) do not pass through
a flush: code that writes references that way checks them itself.
"""
from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.interfaces import MANYTOMANY, MANYTOONE, ONETOMANY

from core.i18n import _m
from core.tenancy import CrossHospitalReference, DataScoped, GroupShared, HospitalOwned

# Expanding IN lists past this many ids are sent in several statements (SQLite's limit on
# bound parameters is 32766; PostgreSQL's 65535).
CHUNK = 5000
_UNKNOWN = object()


@dataclass(frozen=True)
class Reference:
    """A column of a hospital-owned model that names a row of a hospital-owned model."""

    attr: str                      # column attribute on the referring model, e.g. "patient_id"
    target: Mapper                 # the referenced model
    target_column: sa.Column       # the referenced column (its primary key, as a rule)
    relationship: str | None       # a many-to-one relationship over the same column, if any


def _is_owned(mapper: Mapper) -> bool:
    return issubclass(mapper.class_, HospitalOwned)


def _is_group_shared(mapper: Mapper) -> bool:
    return issubclass(mapper.class_, GroupShared)


@functools.cache
def references(mapper: Mapper) -> tuple[tuple[Reference, ...], tuple[str, ...]]:
    """The references of a hospital-owned model, and its collections of hospital-owned rows."""
    by_table = {m.local_table: m for m in mapper.registry.mappers if _is_owned(m)}
    found: dict[str, Reference] = {}
    column_attr = {prop.columns[0]: prop.key for prop in mapper.column_attrs if len(prop.columns) == 1}

    def add(attr, target, target_column, relationship=None):
        if target is None or attr == "hospital_id" or not _is_owned(target):
            return
        known = found.get(attr)
        found[attr] = Reference(attr, target, target_column, relationship or (known and known.relationship))

    for column, attr in column_attr.items():
        for fk in column.foreign_keys:
            target = by_table.get(fk.column.table)
            add(attr, target, fk.column)
    if issubclass(mapper.class_, DataScoped):  # declared by the mixin even where a model drops the FK
        tables = {m.local_table.name: m for m in by_table.values()}
        for attr, table in (("owner_id", "core_user"), ("department_id", "core_department")):
            if attr not in found and table in tables:
                add(attr, tables[table], tables[table].primary_key[0])
    collections = []
    for rel in mapper.relationships:
        if rel.viewonly or not _is_owned(rel.mapper):
            continue
        if rel.direction is MANYTOONE and len(rel.local_remote_pairs) == 1:
            local, remote = rel.local_remote_pairs[0]
            if local in column_attr:
                add(column_attr[local], rel.mapper, remote, rel.key)
        elif rel.direction in (ONETOMANY, MANYTOMANY):
            collections.append(rel.key)
    return tuple(found.values()), tuple(collections)


def _loaded_hospital(obj):
    """(True, hospital_id) when the object's hospital is known without SQL, else (False, None)."""
    state = sa.inspect(obj)
    if "hospital_id" in state.dict:
        return True, state.dict["hospital_id"]
    return False, None


# The hospitals of referenced rows seen in this transaction, by (column, value): an importer
# flushing row after row refers to the same few departments, users and choices each time.
# Forgotten at commit and at any rollback (a savepoint's too: its rows, and their ids, are gone).
KNOWN = "hcrm_reference_hospitals"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_soft_rollback")
def _forget(session, *_args) -> None:
    session.info.pop(KNOWN, None)


class _Checker:
    def __init__(self, session):
        self.session = session
        self.pending: dict[sa.Column, dict] = defaultdict(dict)  # target column -> value -> [(obj, ref)]
        self.known: dict = session.info.setdefault(KNOWN, {})

    def compare(self, obj, attr: str, target_mapper: Mapper, target_hospital, target_id) -> None:
        own = obj.hospital_id
        if target_hospital == own:
            return
        if target_hospital is None and _is_group_shared(target_mapper) and own is not None:
            return
        raise CrossHospitalReference(_m(
            "%(model)s.%(field)s points at %(target)s #%(id)s, which belongs to another hospital: "
            "a record may only refer to records of its own hospital.",
            model=type(obj).__name__, field=attr, target=target_mapper.class_.__name__, id=target_id))

    def object(self, obj, attr: str, target) -> None:
        """A reference given as an object (relationship assignment, collection append)."""
        mapper = sa.inspect(target).mapper
        if not _is_owned(mapper):
            return
        known, hospital = _loaded_hospital(target)
        identity = sa.inspect(target).identity
        if known or identity is None:
            self.compare(obj, attr, mapper, hospital, identity[0] if identity else "?")
        else:  # persistent but expired: look it up with the others
            self.pending[mapper.primary_key[0]].setdefault(identity[0], []).append((obj, attr, mapper))

    def value(self, obj, ref: Reference, value) -> None:
        """A reference given as an id."""
        hospital = self.known.get((ref.target_column, value), _UNKNOWN)
        if hospital is not _UNKNOWN:
            self.compare(obj, ref.attr, ref.target, hospital, value)
            return
        if ref.target_column is ref.target.primary_key[0] and len(ref.target.primary_key) == 1:
            key = ref.target.identity_key_from_primary_key((value,))
            loaded = self.session.identity_map.get(key)
            if loaded is not None:
                known, hospital = _loaded_hospital(loaded)
                if known:
                    self.compare(obj, ref.attr, ref.target, hospital, value)
                    return
        self.pending[ref.target_column].setdefault(value, []).append((obj, ref.attr, ref.target))

    def row(self, obj, is_new: bool) -> None:
        state = sa.inspect(obj)
        refs, collections = references(state.mapper)
        # A row moved to another hospital must have all its references there too, and the
        # hospitals remembered for this transaction may be out of date.
        every = is_new or state.attrs.hospital_id.history.has_changes()
        if every and not is_new:
            self.known.clear()
        for ref in refs:
            if ref.relationship:
                added = state.attrs[ref.relationship].history.added
                if added:  # the relationship wins over the column when the flush syncs them
                    if added[0] is not None:
                        self.object(obj, ref.attr, added[0])
                    continue
            history = state.attrs[ref.attr].history
            if not every and not history.has_changes():
                continue
            value = state.dict.get(ref.attr)
            if value is not None:
                self.value(obj, ref, value)
        for key in collections:
            for child in state.attrs[key].history.added:
                if child is not None:
                    self.object(obj, key, child)

    def lookup(self) -> None:
        """One SELECT per referenced table (in chunks of CHUNK ids) for what the session lacks."""
        connection = self.session.connection()
        for column, wanted in self.pending.items():
            hospital = column.table.c.hospital_id
            values = list(wanted)
            for start in range(0, len(values), CHUNK):
                chunk = values[start:start + CHUNK]
                rows = connection.execute(sa.select(column, hospital).where(column.in_(chunk)))
                for value, target_hospital in rows:
                    self.known[(column, value)] = target_hospital
                    for obj, attr, mapper in wanted.get(value, ()):
                        self.compare(obj, attr, mapper, target_hospital, value)
            # An id that matches no row is the database's foreign key's business (or a dangling
            # id the model chose not to constrain): it points into no hospital.


def check(session) -> None:
    """Raise CrossHospitalReference when a pending write points into another hospital."""
    checker = _Checker(session)
    for obj in session.new:
        if isinstance(obj, HospitalOwned):
            checker.row(obj, True)
    for obj in session.dirty:
        if isinstance(obj, HospitalOwned):
            checker.row(obj, False)
    if checker.pending:
        checker.lookup()
