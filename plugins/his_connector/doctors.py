"""Doctors from the HIS: the visits name their doctor by the HIS's staff code (``YSDM``), and
the HIS's staff table (``SELECT YSDM, YSXM FROM GY_YGDM``) gives the names. Importing puts that
code → name table into the visits mapping's ``doctor_name`` field, so each synced visit carries
its attending doctor's name (what follow-up rules assigning "the visit's doctor" match users
on), instead of the administrator typing the table in by hand.

Doctors are not made into user accounts: an account is a person who signs in, given roles and a
data scope by an administrator; a HIS's staff table has no such thing (and lists people who left).
A code the table lacks quarantines the visit with its code, as any code table does, unless the
field has a default.
"""
from __future__ import annotations

from dataclasses import dataclass

from core.i18n import _m
from plugins.his_connector import source
from plugins.his_connector.errors import HisError
from plugins.his_connector.mapping import _spec

MAX_DOCTORS = 20_000
NAME_LIMIT = 64  # patients_visit.doctor_name


@dataclass
class Candidate:
    his_code: str
    name: str
    action: str  # "same" (already so in the table), "changed" (another name there), "add", "invalid"


def _visits_mapping(connection):
    mapping = next((m for m in connection.mappings if m.entity == "visits"), None)
    spec = _spec((mapping.fields or {}).get("doctor_name")) if mapping is not None else None
    if not isinstance(spec, dict) or not spec.get("column"):
        raise HisError(_m("The visits mapping has no doctor column: map the doctor field to the HIS's doctor "
                          "code column first."))
    return mapping, spec


def candidates(connection, query: str) -> list[Candidate]:
    """What importing would do for each HIS doctor (nothing is written). ``query`` gives code,
    name."""
    _mapping, spec = _visits_mapping(connection)
    text, problem = source.clean_query(query or "")
    if problem:
        raise HisError(problem, errors={"query": problem})
    columns, rows = source.first_rows(connection, text, MAX_DOCTORS + 1)
    if len(columns) < 2:
        raise HisError(_m("The query must give two columns: the doctor's code and name."))
    if len(rows) > MAX_DOCTORS:
        raise HisError(_m("The query gives more than %(n)d doctors.", n=MAX_DOCTORS))
    table = {str(k).strip(): v for k, v in (spec.get("codes") or {}).items()}
    found, seen = [], set()
    for his_code, his_name in rows:
        code = ("" if his_code is None else str(his_code)).strip()
        name = ("" if his_name is None else str(his_name)).strip()
        if not code or code in seen:
            continue
        seen.add(code)
        if not name or len(name) > NAME_LIMIT:
            found.append(Candidate(code, name, "invalid"))
        elif code in table:
            found.append(Candidate(code, name, "same" if table[code] == name else "changed"))
        else:
            found.append(Candidate(code, name, "add"))
    return found


def apply(connection, found: list[Candidate], *, commit: bool = True) -> dict:
    """Write every valid HIS code → name into the visits mapping's doctor code table (codes not
    in ``found`` are kept). Returns {"added": n, "changed": n}."""
    from core.extensions import db
    mapping, spec = _visits_mapping(connection)
    valid = [c for c in found if c.action != "invalid"]
    spec = dict(spec)
    spec["codes"] = {**(spec.get("codes") or {}), **{c.his_code: c.name for c in valid}}
    mapping.fields = {**(mapping.fields or {}), "doctor_name": spec}
    db.session.flush()
    if commit:
        db.session.commit()
    return {"added": sum(c.action == "add" for c in valid), "changed": sum(c.action == "changed" for c in valid)}
