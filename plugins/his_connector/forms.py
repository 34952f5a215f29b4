"""Forms of the HIS connector pages, and the translation between a mapping's field map (JSON, as
the engine stores it — see mapping.py) and the one-row-per-field table an administrator edits.

The forms carry no validators of their own: services.clean_connection / clean_mapping decide,
and the views put their per-field messages on these fields.
"""
from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import BooleanField, Form, FormField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from plugins.his_connector.models import ENTITIES
from plugins.his_connector.services import entity_fields

ENCODING_LABELS = {"utf8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"}
ENTITY_LABELS = {"diseases": _l("Diseases (ICD dictionary)"), "patients": _l("Patients"), "visits": _l("Visits"), "charges": _l("Charges (spending)")}
STATUS_LABELS = {"running": _l("Running"), "ok": _l("OK"), "failed": _l("Failed"),
                 "stalled": _l("Stopped responding"), "cancelled": _l("Cancelled")}
TRIGGER_LABELS = {"cli": _l("Command line"), "schedule": _l("Schedule"), "web": _l("Web page"), "api": _l("API")}
SPEC_PARTS = ("column", "value", "codes", "default", "format")


def _number(label, description=None):
    # Text, not IntegerField: the service says what is wrong with the number, in one place.
    return StringField(label, description=description, render_kw={"inputmode": "numeric", "type": "number"})


class ConnectionForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64, "required": True, "autocomplete": "off"},
                       description=_l("A short name, e.g. “HIS main” (used by the command line: --connection)."))
    source = SelectField(_l("HIS source"), choices=[], validate_choice=False,
                         description=_l("Where the HIS database is: one of the sources the server's operator "
                                        "allowed for this hospital in config.yaml."))
    username = StringField(_l("HIS user name"),
                           render_kw={"maxlength": 128, "autocomplete": "off", "spellcheck": "false",
                                      "class": "font-monospace", "placeholder": "his_ro"},
                           description=_l("The HIS's read-only account (not for SQLite files; fixed by the "
                                          "operator for some sources)."))
    password_env = StringField(_l("Password environment variable"),
                               render_kw={"maxlength": 100, "autocomplete": "off", "spellcheck": "false",
                                          "class": "font-monospace", "placeholder": "HCRM_HIS_PASSWORD_H1"},
                               description=_l("The NAME of the environment variable holding the HIS password on "
                                              "the server, starting with HCRM_HIS_PASSWORD_ (the password itself "
                                              "is never stored here). Leave empty when the account needs no "
                                              "password."))
    timezone = StringField(_l("HIS time zone"), default="Asia/Shanghai",
                           render_kw={"maxlength": 64, "list": "his-timezones", "spellcheck": "false"},
                           description=_l("The time zone of the HIS's naive timestamps (IANA name)."))
    encoding = SelectField(_l("Text encoding"), choices=[SelectChoice(k, v) for k, v in ENCODING_LABELS.items()],
                           default="utf8", validate_choice=False,
                           description=_l("Older HIS databases often store Chinese text as GBK or GB18030."))
    statement_timeout = _number(_l("Statement timeout (seconds)"),
                                _l("Longest time one query may run on the HIS before it is stopped."))
    batch_size = _number(_l("Batch size (rows)"), _l("Rows written and committed together."))
    safety_lag = _number(_l("Safety lag (seconds)"),
                         _l("Rows newer than the HIS clock minus this lag wait for the next run, so rows "
                            "committed late by the HIS are not skipped."))
    schedule_minutes = _number(_l("Sync every (minutes)"),
                               _l("Leave empty to sync only by hand (this page or the command line)."))
    unknown_diagnoses = SelectField(
        _l("Diagnosis codes missing from the disease catalogue"), default="quarantine", validate_choice=False,
        choices=[SelectChoice("quarantine", _l("Quarantine the visit")),
                 SelectChoice("add", _l("Add the code to the catalogue under the HIS's name (flagged “from HIS”)"))],
        description=_l("What a sync does with a visit whose diagnosis code the catalogue does not have."))
    enabled = BooleanField(_l("Enabled"), default=True)

    FIELDS = ("name", "source", "username", "password_env", "timezone", "encoding", "statement_timeout", "batch_size",
              "safety_lag", "schedule_minutes", "unknown_diagnoses", "enabled")

    def __init__(self, sources=(), *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name.flags.required = self.source.flags.required = True
        self.source.choices = [SelectChoice("", _("— pick a source —"))] + [
            SelectChoice(s.name, f"{s.title} ({s.name})" if s.title else s.name) for s in sources]

    def data_for_service(self) -> dict:
        return {f: self[f].data for f in self.FIELDS}

    def fill_from(self, connection) -> None:
        for field in self.FIELDS:
            value = getattr(connection, field)
            self[field].data = value if field == "enabled" else ("" if value is None else str(value))


class FieldSpecForm(Form):
    """One row of the field-map table: where one of our fields comes from."""

    column = StringField(_l("Source column"), render_kw={"maxlength": 64, "spellcheck": "false",
                                                          "class": "font-monospace", "list": "his-columns"})
    value = StringField(_l("Fixed value"), render_kw={"maxlength": 200})
    codes = TextAreaField(_l("Code table"), render_kw={"rows": 2, "spellcheck": "false", "class": "font-monospace"})
    default = StringField(_l("Default"), render_kw={"maxlength": 200})
    format = StringField(_l("Date format"), render_kw={"maxlength": 40, "spellcheck": "false",
                                                       "class": "font-monospace"})


class MappingFormBase(FlaskForm):
    query = TextAreaField(_l("SELECT query"), render_kw={"rows": 9, "spellcheck": "false", "required": True,
                                                         "class": "font-monospace"},
                          description=_l("One SELECT on the HIS (no semicolon, no ORDER BY needed): the sync wraps "
                                         "it as a subquery, reads it in cursor order and never changes the HIS."))
    key_column = StringField(_l("Natural key column"), render_kw={"maxlength": 64, "spellcheck": "false",
                                                                  "class": "font-monospace", "list": "his-columns"},
                             description=_l("The HIS's unique ID of the row (e.g. the patient ID)."))
    cursor_column = StringField(_l("Cursor column"), render_kw={"maxlength": 64, "spellcheck": "false",
                                                                "class": "font-monospace", "list": "his-columns"},
                                description=_l("A column that grows when a row is added or changed (e.g. the "
                                               "last-modified time); index it with the key on the HIS."))
    enabled = BooleanField(_l("Enabled"), default=True)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.query.flags.required = self.key_column.flags.required = self.cursor_column.flags.required = True

    def spec_rows(self):
        """(FieldInfo, FieldSpecForm) per field of the entity, in the engine's order. Parts are
        read as ``row["default"]``: a FormField's own attributes (``default``) shadow them."""
        return [(info, self["f_" + info.name].form) for info in entity_fields(self.entity)]


_FORM_CLASSES: dict[str, type] = {}


def mapping_form_class(entity: str) -> type:
    """The mapping form of an entity: the common fields plus one FieldSpecForm per target field."""
    if entity not in _FORM_CLASSES:
        attrs = {"entity": entity}
        for info in entity_fields(entity):
            attrs["f_" + info.name] = FormField(FieldSpecForm, label=info.label)
        _FORM_CLASSES[entity] = type(f"MappingForm_{entity}", (MappingFormBase,), attrs)
    return _FORM_CLASSES[entity]


# -- field map ⇄ table rows ---------------------------------------------------------------------
class CodeTableError(ValueError):
    pass


def parse_codes(text: str) -> dict | None:
    """A code table typed as lines ``code=value`` (``1=M``); ``code=`` maps to nothing."""
    codes = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        if "=" not in line:
            raise CodeTableError(_("Line %(n)d: write code=value, e.g. 1=M.", n=number))
        code, value = (part.strip() for part in line.split("=", 1))
        if not code:
            raise CodeTableError(_("Line %(n)d: the code before “=” is empty.", n=number))
        if code in codes:
            raise CodeTableError(_("Line %(n)d: the code “%(code)s” appears twice.", n=number, code=code))
        codes[code] = value or None
    return codes or None


def format_codes(codes: dict | None) -> str:
    return "\n".join(f"{code}={'' if value is None else value}" for code, value in (codes or {}).items())


def field_map_from_form(form) -> tuple[dict, dict]:
    """(field map, per-row errors {field name: message}) from the table rows. A row with neither
    a column nor a fixed value is left out of the map."""
    fields, errors = {}, {}
    for info, row in form.spec_rows():
        parts = {part: (row[part].data or "").strip() for part in SPEC_PARTS}
        if info.kind == "diagnoses":
            if parts["column"]:
                fields[info.name] = parse_diagnosis_columns(parts["column"])
            continue
        try:
            codes = parse_codes(row["codes"].data)
        except CodeTableError as exc:
            errors[info.name] = str(exc)
            continue
        if not parts["column"] and not parts["value"]:
            if codes or parts["default"] or parts["format"]:
                errors[info.name] = _("Give a source column or a fixed value for this field.")
            continue
        spec = {"column": parts["column"]} if parts["column"] else {}
        if parts["value"]:
            spec["value"] = parts["value"]  # with a column too: the engine names the conflict
        if codes:
            spec["codes"] = codes
        if parts["default"]:
            spec["default"] = parts["default"]
        if parts["format"]:
            spec["format"] = parts["format"]
        fields[info.name] = spec
    return fields, errors


def parse_diagnosis_columns(text: str) -> list[dict]:
    """``ZDDM:ZDMC, ZDDM2:ZDMC2`` (code column:name column, the name optional) → the spec."""
    pairs = []
    for part in re.split(r"[,，;；\s]+", text.strip()):
        if part:
            code, _sep, name = part.partition(":")
            pairs.append({"code": code.strip(), **({"name": name.strip()} if name.strip() else {})})
    return pairs


def format_diagnosis_columns(spec) -> str:
    return ", ".join(f"{p.get('code', '')}:{p['name']}" if p.get("name") else str(p.get("code", ""))
                     for p in (spec if isinstance(spec, list) else []) if isinstance(p, dict))


def fill_mapping_form(form, mapping) -> None:
    """Put a stored mapping into the form (a spec may be a bare column name or a dict)."""
    form.query.data, form.key_column.data, form.cursor_column.data = mapping.query, mapping.key_column, \
        mapping.cursor_column
    form.enabled.data = mapping.enabled
    for info, row in form.spec_rows():
        spec = (mapping.fields or {}).get(info.name)
        if info.kind == "diagnoses":
            row["column"].data = format_diagnosis_columns(spec)
            continue
        spec = {"column": spec} if isinstance(spec, str) else (spec or {})
        row["column"].data = spec.get("column") or ""
        row["value"].data = "" if spec.get("value") is None else str(spec["value"])
        row["codes"].data = format_codes(spec.get("codes"))
        row["default"].data = "" if spec.get("default") is None else str(spec["default"])
        row["format"].data = spec.get("format") or ""


def mapping_data(form, fields: dict) -> dict:
    return {"query": form.query.data, "key_column": form.key_column.data, "cursor_column": form.cursor_column.data,
            "fields": fields, "enabled": form.enabled.data}


class RunForm(FlaskForm):
    connection_id = SelectField(_l("Connection"), choices=[], validate_choice=False)
    entity = SelectField(_l("What"), choices=[], validate_choice=False)
    full = BooleanField(_l("Full re-sync (read everything again; unchanged rows are not written)"))

    def __init__(self, connections, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connection_id.choices = [SelectChoice(str(c.id), c.name) for c in connections]
        self.entity.choices = [SelectChoice("", _("All enabled mappings"))] + [
            SelectChoice(e, ENTITY_LABELS[e]) for e in ENTITIES]
