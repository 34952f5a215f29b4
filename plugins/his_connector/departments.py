"""Departments from the HIS: read the HIS's department code table (``SELECT KSDM, KSMC FROM
GY_KSDM``) or the distinct department codes of a mapping's rows, show what would happen (preview),
then create the departments the CRM lacks and write the HIS code → our code table into the
mappings' ``department`` fields, in one transaction — instead of typing them in by hand.

Each HIS department is matched to ours by code, then by name; an unmatched one is created with
the HIS's code and name. A code the CRM cannot take (not 1-32 letters, digits, '_' or '-') is
listed and skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from core.admin.services import CODE_RE
from core.extensions import db
from core.i18n import _m
from core.models import Department
from plugins.his_connector import source
from plugins.his_connector.errors import HisError
from plugins.his_connector.mapping import _spec

MAX_DEPARTMENTS = 2000
MAPPED = ("patients", "visits")  # the entities whose mappings have a department field


@dataclass
class Candidate:
    his_code: str
    his_name: str
    ours: str | None          # our department's code it maps to (existing or to be created)
    action: str               # "mapped" (already in a code table), "exists" (same code), "name", "create", "invalid"


def _rows_of_query(connection, query: str) -> list[tuple[str, str]]:
    text, problem = source.clean_query(query)
    if problem:
        raise HisError(problem, errors={"query": problem})
    columns, rows = source.first_rows(connection, text, MAX_DEPARTMENTS + 1)
    if len(columns) < 1:
        raise HisError(_m("The query gives no column."))
    if len(rows) > MAX_DEPARTMENTS:
        raise HisError(_m("The query gives more than %(n)d departments.", n=MAX_DEPARTMENTS))
    return [(row[0], row[1] if len(row) > 1 else row[0]) for row in rows]


def _rows_of_mapping(connection, entity: str) -> list[tuple[str, str]]:
    mapping = next((m for m in connection.mappings if m.entity == entity), None)
    spec = _spec((mapping.fields or {}).get("department")) if mapping is not None else None
    if not isinstance(spec, dict) or not spec.get("column"):
        raise HisError(_m("The %(entity)s mapping has no department column.", entity=entity))
    column = sa.column(spec["column"])
    statement = (sa.select(column).select_from(source._wrapped(mapping.query)).where(column.isnot(None))
                 .distinct().order_by(column).limit(MAX_DEPARTMENTS + 1))
    rows = source.run_select(connection, statement)
    if len(rows) > MAX_DEPARTMENTS:
        raise HisError(_m("The query gives more than %(n)d departments.", n=MAX_DEPARTMENTS))
    return [(row[0], row[0]) for row in rows]


def candidates(connection, *, query: str | None = None, entity: str = "visits") -> list[Candidate]:
    """What importing would do for each HIS department (nothing is written)."""
    raw = _rows_of_query(connection, query) if query else _rows_of_mapping(connection, entity)
    ours = db.session.execute(sa.select(Department.code, Department.name)).all()
    by_code = {code: code for code, _name in ours}
    by_name = {name: code for code, name in ours}
    tables = {}
    for mapping in connection.mappings:
        spec = _spec((mapping.fields or {}).get("department")) if mapping.entity in MAPPED else None
        if isinstance(spec, dict):
            tables.update({str(k).strip(): v for k, v in (spec.get("codes") or {}).items() if v in by_code})
    found, seen = [], set()
    for his_code, his_name in raw:
        code = ("" if his_code is None else str(his_code)).strip()
        name = ("" if his_name is None else str(his_name)).strip()[:100] or code
        if not code or code in seen:
            continue
        seen.add(code)
        if code in tables:
            found.append(Candidate(code, name, tables[code], "mapped"))
        elif code in by_code:
            found.append(Candidate(code, name, code, "exists"))
        elif name in by_name:
            found.append(Candidate(code, name, by_name[name], "name"))
        elif CODE_RE.match(code) and len(code) <= 32:
            found.append(Candidate(code, name, code, "create"))
            by_code[code] = code
        else:
            found.append(Candidate(code, name, None, "invalid"))
    return found


def apply(connection, found: list[Candidate], *, commit: bool = True) -> dict:
    """Create the missing departments and put every HIS code → our code into the department
    code table of the connection's patients and visits mappings (entries kept unless the HIS
    code is imported again). Returns {"created": n, "mapped": n}."""
    created = [c for c in found if c.action == "create"]
    for candidate in created:
        db.session.add(Department(hospital_id=connection.hospital_id, code=candidate.ours, name=candidate.his_name,
                                  active=True))
    table = {c.his_code: c.ours for c in found if c.ours is not None}
    for mapping in connection.mappings:
        if mapping.entity not in MAPPED:
            continue
        fields = dict(mapping.fields or {})
        spec = _spec(fields.get("department")) if "department" in fields else None
        if not isinstance(spec, dict) or not spec.get("column"):
            continue
        spec = dict(spec)
        spec["codes"] = {**(spec.get("codes") or {}), **table}
        fields["department"] = spec
        mapping.fields = fields
    db.session.flush()
    if commit:
        db.session.commit()
    return {"created": len(created), "mapped": len(table)}
