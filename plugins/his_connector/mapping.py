"""Column → field mappings: what each entity's fields are, how an administrator's field map is
checked, and how it is compiled into a fast row converter.

A field map is JSON: ``{field: spec}``, where a spec is a column name (``"XM"``) or a dict

* ``column``: the source column (case-insensitive), or ``value``: a constant;
* ``codes``: a code table ``{"1": "M", "2": "F"}`` applied to the trimmed text of the value
  (for departments it maps HIS department codes to ours; without it the HIS code must equal
  one of our department codes);
* ``default``: used when the value is empty or not in the code table (without it, an unknown
  code is a mapping error and the row is quarantined);
* ``format``: a ``strptime`` format for dates and times given as text (``%Y%m%d``); without it
  ISO text and the driver's date/datetime objects are accepted.

Conversion is compiled once per run into closures over column positions, so mapping a row costs
a few microseconds: the sync's speed is bounded by the drivers, not by this module.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from core.clock import local_now
from core.i18n import _m
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from plugins.his_connector.errors import Messages
from plugins.patients.public import (
    GENDERS,
    VISIT_KINDS,
    VISIT_STATUSES,
    IdentityError,
    last4,
    mask_id_number,
    mask_phone,
    normalize_phone,
    parse_id_number,
)

SPEC_KEYS = {"column", "value", "codes", "default", "format"}
SENSITIVE = {"phone": mask_phone, "phone2": mask_phone, "id_number": mask_id_number}


@dataclass(frozen=True)
class FieldInfo:
    """One field a mapping may fill. ``kind``: text, key, gender, date, datetime, money, amount
    (money that may be negative), choice, department, source, phone, id_number."""

    name: str
    label: str
    kind: str
    required: bool = False
    limit: int = 0                      # text length
    choices: tuple = ()
    target: str = ""                    # column written (default: the field's name)
    help: str = ""

    @property
    def column(self) -> str:
        return self.target or self.name


FIELDS: dict[str, list[FieldInfo]] = {
    "diseases": [  # the HIS's ICD dictionary; the natural key column is the ICD code
        FieldInfo("name", _l("Disease name"), "text", True, 128),
        FieldInfo("pinyin", _l("Pinyin abbreviation"), "text", limit=64),
    ],
    "patients": [
        FieldInfo("name", _l("Name"), "text", True, 64),
        FieldInfo("gender", _l("Gender"), "gender", help=_l("M, F or U; map HIS codes with a code table.")),
        FieldInfo("birth_date", _l("Birth date"), "date", help=_l("Taken from the ID number when not mapped.")),
        FieldInfo("id_number", _l("ID number"), "id_number", help=_l("Invalid numbers are quarantined.")),
        FieldInfo("phone", _l("Phone"), "phone"),
        FieldInfo("phone2", _l("Second phone"), "phone"),
        FieldInfo("insurance_no", _l("Insurance number"), "text", limit=32),
        FieldInfo("address", _l("Address"), "text", limit=200),
        FieldInfo("occupation", _l("Occupation"), "text", limit=64),
        FieldInfo("department", _l("Department"), "department", target="department_id"),
        FieldInfo("source", _l("Source channel"), "source", target="source_id",
                  help=_l("Code or name of one of our source channels.")),
        FieldInfo("notes", _l("Notes"), "text", limit=4000),
        FieldInfo("registered_at", _l("Registration time"), "datetime",
                  help=_l("When the HIS registered the patient: kept as their registration date, so a first "
                          "sync does not count years of patients as this month's new ones.")),
    ],
    "visits": [
        FieldInfo("patient_key", _l("HIS patient ID"), "key", True, 64,
                  help=_l("The patient's natural key in the patients mapping.")),
        FieldInfo("kind", _l("Visit kind"), "choice", choices=VISIT_KINDS),
        FieldInfo("status", _l("Visit status"), "choice", choices=VISIT_STATUSES),
        FieldInfo("visit_at", _l("Visit or admission time"), "datetime", True),
        FieldInfo("discharge_at", _l("Discharge time"), "datetime"),
        FieldInfo("department", _l("Department"), "department", target="department_id"),
        FieldInfo("doctor_name", _l("Doctor"), "text", limit=64),
        FieldInfo("spending", _l("Spending"), "money",
                  help=_l("Leave unmapped when a charges mapping computes it.")),
        FieldInfo("treatment_plan", _l("Treatment plan"), "text", limit=8000),
        FieldInfo("orders", _l("Orders"), "text", limit=8000),
        FieldInfo("diagnoses", _l("Diagnoses"), "diagnoses",
                  help=_l("ICD code and name columns, the primary diagnosis first: ZDDM:ZDMC, ZDDM2:ZDMC2.")),
    ],
    "charges": [
        FieldInfo("visit_key", _l("HIS visit ID"), "key", True, 64,
                  help=_l("The visit's natural key in the visits mapping.")),
        FieldInfo("amount", _l("Amount"), "amount", True),
        FieldInfo("item", _l("Item"), "text", limit=128),
        FieldInfo("charged_at", _l("Charged at"), "datetime"),
    ],
}


def fields_of(entity: str) -> list[FieldInfo]:
    return list(FIELDS[entity])


def _spec(spec) -> dict:
    return {"column": spec} if isinstance(spec, str) else spec


def columns_used(fields: dict) -> set[str]:
    used = {s["column"] for s in map(_spec, fields.values()) if isinstance(s, dict) and s.get("column")}
    for pair in diagnosis_pairs(fields.get("diagnoses")):
        used.update(c for c in pair if c)
    return used


MAX_DIAGNOSES = 10


def diagnosis_pairs(spec) -> list[tuple[str, str | None]]:
    """The (code column, name column or None) pairs of a diagnoses spec, which is a list of
    ``{"code": column, "name": column}`` (the primary diagnosis first); [] when malformed."""
    if not isinstance(spec, list):
        return []
    pairs = []
    for item in spec:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str):
            return []
        pairs.append((item["code"], item.get("name") if isinstance(item.get("name"), str) else None))
    return pairs


def _diagnoses_problem(spec):
    """Why a diagnoses spec is malformed, or None."""
    from plugins.his_connector.source import COLUMN_RE
    pairs = diagnosis_pairs(spec)
    if not pairs or len(pairs) > MAX_DIAGNOSES or any(set(item) - {"code", "name"} for item in spec) \
            or any(not COLUMN_RE.fullmatch(c) for pair in pairs for c in pair if c is not None) \
            or any(item.get("name") is not None and not isinstance(item["name"], str) for item in spec):
        return _m("diagnoses: give 1 to %(n)d pairs of columns, code and name, e.g. "
                  "[{\"code\": \"ZDDM\", \"name\": \"ZDMC\"}]", n=MAX_DIAGNOSES)
    return None


def check_fields(entity: str, fields, *, connection=None, department_codes=None, source_codes=None) -> dict:
    """Errors of a field map (empty when it is sound): unknown fields, malformed specs, required
    fields left out, code-table values that are not ours. ``department_codes`` / ``source_codes``
    are our codes (read from the database when None)."""
    if not isinstance(fields, dict):
        return {"fields": _m("The field map is a JSON object {field: column or spec}.")}
    known = {f.name: f for f in FIELDS[entity]}
    problems = []
    for name, raw in fields.items():
        info = known.get(name)
        spec = _spec(raw)
        if info is None:
            problems.append(_m("unknown field '%(name)s' (fields: %(known)s)", name=name, known=", ".join(known)))
            continue
        if info.kind == "diagnoses":
            problem = _diagnoses_problem(raw)
            if problem is not None:
                problems.append(problem)
            continue
        if not isinstance(spec, dict) or not set(spec) <= SPEC_KEYS or ("column" in spec) == ("value" in spec):
            problems.append(_m("%(name)s: give a column or a value, with optional codes, default, format", name=name))
            continue
        if "codes" in spec and not (isinstance(spec["codes"], dict)
                                    and all(isinstance(v, (str, type(None))) for v in spec["codes"].values())):
            problems.append(_m("%(name)s: the code table maps source codes to text", name=name))
            continue
        targets = list((spec.get("codes") or {}).values()) + [spec.get("default"), spec.get("value")]
        allowed = _allowed_values(info, department_codes, source_codes)
        bad = sorted({str(v) for v in targets if v not in (None, "") and allowed is not None and v not in allowed})
        if bad:
            problems.append(_m("%(name)s: %(bad)s not among %(allowed)s", name=name, bad=", ".join(bad),
                               allowed=", ".join(sorted(allowed)) or "—"))
    for info in FIELDS[entity]:
        if info.required and info.name not in fields:
            problems.append(_m("map the required field '%(name)s'", name=info.name))
    if connection is not None and entity in ("visits", "charges"):
        problems += _spending_conflict(entity, fields, connection)
    return {"fields": Messages(problems)} if problems else {}


def _spending_conflict(entity, fields, connection) -> list:
    """Spending comes either from the visit row or from the sum of charges, never both."""
    others = {m.entity: m for m in connection.mappings}
    if entity == "visits" and "spending" in fields and "charges" in others:
        return [_m("spending: this connection has a charges mapping, which computes each visit's spending")]
    if entity == "charges" and "visits" in others and "spending" in (others["visits"].fields or {}):
        return [_m("the visits mapping maps spending: remove it there so that charges compute it")]
    return []


def _allowed_values(info: FieldInfo, department_codes, source_codes):
    if info.kind == "gender":
        return set(GENDERS)
    if info.kind == "choice":
        return set(info.choices)
    if info.kind in ("department", "source"):
        codes = department_codes if info.kind == "department" else source_codes
        return set(codes if codes is not None else lookup_table(info.kind))
    return None


def lookup_table(kind: str) -> dict[str, int]:
    """Our departments by code, or our source channels by code and by name (current hospital)."""
    import sqlalchemy as sa

    from core.extensions import db
    from core.models import Department
    from plugins.patients.public import Source
    if kind == "department":
        return dict(db.session.execute(sa.select(Department.code, Department.id)).all())
    table = {}
    for code, name, ident in db.session.execute(sa.select(Source.code, Source.name, Source.id)).all():
        table[name] = table[code] = ident
    return table


def mask_sensitive(fields: dict, raw: dict) -> dict:
    """A copy of a source row with the columns mapped to phones and ID numbers masked."""
    masked = dict(raw)
    upper = {k.upper(): k for k in raw}
    for name, spec in (fields or {}).items():
        column = _spec(spec).get("column") if isinstance(_spec(spec), dict) else None
        key = upper.get(str(column).upper()) if column else None
        if name in SENSITIVE and key is not None and masked[key] is not None:
            masked[key] = SENSITIVE[name](str(masked[key]))
    return masked


# -- compiling --------------------------------------------------------------------------------
WHOLE_ROW = -1  # a step whose converter takes the whole row (diagnoses: several columns)


class MapError(ValueError):
    """One field's value cannot be mapped; the message says why."""


def _text(limit: int, label) -> Callable:
    def convert(value):
        if value is None:
            return None
        text = value.strip() if isinstance(value, str) else str(value).strip()
        if len(text) > limit:
            raise MapError(_("%(field)s is longer than %(n)d characters", field=label, n=limit))
        return text or None
    return convert


def _parse_datetime(value, fmt: str | None, label) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    text = str(value).strip()
    if not text:
        return None
    try:
        return datetime.strptime(text, fmt) if fmt else datetime.fromisoformat(text)
    except ValueError:
        raise MapError(_("%(field)s: “%(value)s” is not a date/time%(fmt)s", field=label, value=text[:40],
                         fmt=f" ({fmt})" if fmt else "")) from None


def _money(label, negative: bool) -> Callable:
    cent = Decimal("0.01")

    def convert(value):
        if value is None or value == "":
            return None
        try:
            amount = (value if isinstance(value, Decimal) else Decimal(str(value).strip())).quantize(cent)
        except (InvalidOperation, ValueError):
            raise MapError(_("%(field)s: “%(value)s” is not an amount", field=label, value=str(value)[:40])) from None
        if abs(amount) >= Decimal("10000000000") or (amount < 0 and not negative):
            raise MapError(_("%(field)s: %(value)s is out of range", field=label, value=amount))
        return amount
    return convert


def _converter(info: FieldInfo, spec: dict, lookups: dict, to_local: Callable) -> Callable:
    label, fmt = str(info.label), spec.get("format")
    kind = info.kind
    if kind in ("text", "key"):
        convert = _text(info.limit, label)
    elif kind in ("gender", "choice"):
        allowed = set(GENDERS) if kind == "gender" else set(info.choices)

        def convert(value):
            text = str(value).strip() if value is not None else None
            if text and text not in allowed:
                raise MapError(_("%(field)s: “%(value)s” is not one of %(allowed)s (add a code table)",
                                 field=label, value=text[:40], allowed=", ".join(sorted(allowed))))
            return text or None
    elif kind in ("department", "source"):
        table = lookups[kind]

        def convert(value):
            text = str(value).strip() if value is not None else ""
            if not text:
                return None
            if text not in table:
                raise MapError(_("%(field)s: no %(field)s with code “%(value)s” here", field=label, value=text[:40]))
            return table[text]
    elif kind == "date":
        def convert(value):
            moment = _parse_datetime(value, fmt, label)
            return moment.date() if moment is not None else None
    elif kind == "datetime":
        same_zone = getattr(to_local, "identity", False)

        def convert(value):
            if same_zone:  # the usual cases: a naive datetime in our own zone, as a driver's object or text
                if value.__class__ is datetime and value.tzinfo is None:
                    return value
                if value.__class__ is str and fmt is None:
                    try:
                        moment = datetime.fromisoformat(value)
                    except ValueError:
                        pass  # reported below, with the field's name
                    else:
                        if moment.tzinfo is None:
                            return moment
            moment = _parse_datetime(value, fmt, label)
            return to_local(moment) if moment is not None else None
    elif kind in ("money", "amount"):
        convert = _money(label, negative=kind == "amount")
    elif kind == "phone":
        def convert(value):
            text = str(value).strip() if value is not None else ""
            if not text:
                return None
            try:
                return normalize_phone(text)
            except IdentityError as exc:
                raise MapError(f"{label}: {exc}") from None
    elif kind == "id_number":
        convert = _text(18, label)
    else:  # pragma: no cover - FIELDS and this list are kept together
        raise AssertionError(kind)
    codes, has_default, default = spec.get("codes"), "default" in spec, spec.get("default")
    if codes is None and not has_default:
        return convert
    if codes is None:
        return lambda value: convert(default if value is None or value == "" else value)
    return _coded(convert, codes, has_default, default, label)


def _diagnoses(pairs: list[tuple[int, int | None]], label: str) -> Callable:
    """A row → its diagnoses: a tuple of (ICD code, HIS name or None), primary first, each code
    once; empty codes are left out. Codes are upper-cased (i10 → I10)."""
    def convert(row):
        found, seen = [], set()
        for code_index, name_index in pairs:
            code = row[code_index]
            code = (code if code.__class__ is str else ("" if code is None else str(code))).strip().upper()
            if not code or code in seen:
                continue
            if len(code) > 16:
                raise MapError(_("%(field)s: the code “%(value)s” is longer than 16 characters", field=label,
                                 value=code[:40]))
            name = row[name_index] if name_index is not None else None
            name = (name if name.__class__ is str else ("" if name is None else str(name))).strip() or None
            if name is not None and len(name) > 128:
                raise MapError(_("%(field)s is longer than %(n)d characters", field=label, n=128))
            seen.add(code)
            found.append((code, name))
        return tuple(found)
    return convert


def _outcome(convert: Callable, value) -> tuple:
    try:
        return convert(value), None
    except MapError as exc:
        return None, exc


def _coded(convert: Callable, codes: dict, has_default: bool, default, label: str) -> Callable:
    """A code table, converted once: a lookup per row instead of a conversion."""
    table = {str(source).strip(): _outcome(convert, target) for source, target in codes.items()}
    fallback = _outcome(convert, default) if has_default else None

    def coded(value):
        text = value.strip() if value.__class__ is str else ("" if value is None else str(value).strip())
        hit = table.get(text)
        if hit is None:
            if fallback is not None:
                hit = fallback
            elif not text:
                return None
            else:
                raise MapError(_("%(field)s: code “%(value)s” is not in the code table", field=label,
                                 value=text[:40]))
        if hit[1] is not None:
            raise hit[1]
        return hit[0]
    return coded


@dataclass
class RowMapper:
    """Turns a source row into ``(values, errors)``: a tuple named by ``columns`` (``external_id``
    first, then the mapped fields' targets and those derived from them: phone_last4, birth date
    and gender from the ID number, a visit's kind and status), or None with the reasons.

    The per-row function is generated from the steps (one straight-line function, no loop over
    fields, no per-field tuple unpacking): mapping runs once per HIS row, millions of times."""

    entity: str
    columns: list[str]
    key_index: int
    cursor_index: int
    steps: list = field(default_factory=list)  # (target, source index or None, constant, convert, label if required)
    finish: Callable | None = None
    _function: Callable | None = None

    def __call__(self, row):
        if self._function is None:
            self._function = self._generate()
        return self._function(row)

    def _generate(self) -> Callable:
        scope = {"MapError": MapError, "finish": self.finish, "empty_key": _("the natural key is empty"),
                 "long_key": _("the natural key is longer than 64 characters")}
        lines = ["def map_row(row):", "    errors = []"]
        for n, (_target, index, constant, convert, required) in enumerate(self.steps):
            scope[f"c{n}"], scope[f"k{n}"] = convert, constant
            source = "row" if index == WHOLE_ROW else (f"row[{index}]" if index is not None else f"k{n}")
            lines += ["    try:", f"        v{n} = c{n}({source})", "    except MapError as exc:",
                      "        errors.append(str(exc))", f"        v{n} = None"]
            if required:
                scope[f"r{n}"] = _("%(field)s is empty", field=required)
                lines += ["    else:", f"        if v{n} is None:", f"            errors.append(r{n})"]
        lines += [f"    key = row[{self.key_index}]",
                  "    if key.__class__ is not str:", "        key = None if key is None else str(key)",
                  "    if not key or not key.strip():", "        errors.append(empty_key)",
                  "    elif len(key) > 64:", "        errors.append(long_key)"]
        pairs = ", ".join(f"{step[0]!r}: v{n}" for n, step in enumerate(self.steps))
        lines.append(f"    values = {{'external_id': key, {pairs}}}")
        if self.finish is not None:
            lines.append("    finish(values, errors)")
        lines += ["    if errors:", "        return None, errors",
                  "    return (" + "".join(f"values[{c!r}], " for c in self.columns) + "), errors"]
        exec(compile("\n".join(lines), f"<mapper {self.entity}>", "exec"), scope)
        return scope["map_row"]


def compile_mapper(entity: str, fields: dict, source_columns: list[str], key_column: str, cursor_column: str,
                   *, lookups: dict | None = None, to_local: Callable = lambda moment: moment) -> RowMapper:
    """Compile a field map against the source's column list (names matched case-insensitively).
    ``lookups`` holds the department/source tables (read when None); ``to_local`` converts a
    source datetime to our clock (identity when the source's time zone is ours)."""
    positions = {name.upper(): i for i, name in enumerate(source_columns)}
    known = {f.name: f for f in FIELDS[entity]}
    if lookups is None:
        kinds = {known[n].kind for n in fields if n in known} & {"department", "source"}
        lookups = {kind: lookup_table(kind) for kind in kinds}
    steps = []
    for name, raw in fields.items():
        info = known[name]
        if info.kind == "diagnoses":
            pairs = [(positions[code.upper()], positions[title.upper()] if title else None)
                     for code, title in diagnosis_pairs(raw)]
            steps.append((info.column, WHOLE_ROW, None, _diagnoses(pairs, str(info.label)), None))
            continue
        spec = _spec(raw)
        index = positions[spec["column"].upper()] if "column" in spec else None
        steps.append((info.column, index, spec.get("value"), _converter(info, spec, lookups, to_local),
                      str(info.label) if info.required else None))
    mapper = RowMapper(entity, ["external_id"] + [s[0] for s in steps], positions[key_column.upper()],
                       positions[cursor_column.upper()], steps)
    finishers = {"patients": _finish_patient, "visits": _finish_visit, "charges": None, "diseases": _finish_disease}
    mapper.finish = finishers[entity] and finishers[entity](mapper.columns, known)
    mapper._function = mapper._generate()  # here, in the caller's app context and language
    return mapper


def _finish_patient(columns: list[str], known) -> Callable:
    """The ID number is validated and gives birth date and gender when they are not mapped (and
    must agree when they are), as for a patient registered by hand; phones get their last4."""
    for derived, when in (("phone_last4", "phone"), ("birth_date", "id_number"), ("gender", "id_number")):
        if when in columns and derived not in columns:
            columns.append(derived)
    def finish(values, errors):
        if "phone" in values:
            values["phone_last4"] = last4(values["phone"])
        number = values.get("id_number")
        if number:
            try:
                number, birth, gender = parse_id_number(number)
            except IdentityError as exc:
                errors.append(str(exc))
                return
            values["id_number"] = number
            if values.get("birth_date") and values["birth_date"] != birth:
                errors.append(_("The birth date differs from the ID number's (%(date)s).", date=birth.isoformat()))
            values["birth_date"] = birth
            if values.get("gender") in ("M", "F") and values["gender"] != gender:
                errors.append(_("The gender differs from the ID number's."))
            values["gender"] = gender
        if "gender" in values and values["gender"] is None:
            values["gender"] = "U"
    return finish


def _finish_disease(columns: list[str], known) -> Callable:
    """The natural key is the ICD code: trimmed, upper-cased, at most 16 characters."""
    def finish(values, errors):
        code = (values.get("external_id") or "").strip().upper()
        if len(code) > 16:
            errors.append(_("The ICD code “%(code)s” is longer than 16 characters.", code=code[:40]))
        values["external_id"] = code
    return finish


def _finish_visit(columns: list[str], known) -> Callable:
    """Kind defaults to outpatient; a status the HIS does not give is derived (a discharge time:
    discharged; an inpatient without one: admitted; else completed); the visit time is required
    and a discharge cannot precede it."""
    for derived in ("kind", "status"):
        if derived not in columns:
            columns.append(derived)
    # On the hospitals' wall clock (the server may run in UTC), fixed for the run's mapper.
    horizon = local_now() + timedelta(days=1)

    def finish(values, errors):
        values["kind"] = values.get("kind") or "outpatient"
        if not values.get("status"):  # the HIS has none: derived, no CASE needed in the query
            if values.get("discharge_at"):
                values["status"] = "discharged"
            else:
                values["status"] = "admitted" if values["kind"] == "inpatient" else "completed"
        visit_at, discharge_at = values.get("visit_at"), values.get("discharge_at")
        if visit_at is not None and visit_at > horizon:
            errors.append(_("The visit time is in the future."))
        if visit_at and discharge_at and discharge_at < visit_at:
            errors.append(_("Discharge cannot come before admission."))
    return finish
