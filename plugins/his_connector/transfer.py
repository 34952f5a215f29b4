"""A connection and its mappings as YAML (``hcrm his export|import``), so a group sets up its
second hospital in one command and a configuration can be reviewed and kept in version control.

The document holds no secret: the connection's settings (the *name* of the password variable,
never a password; the HIS source by its name among the operator's sources, never a URL) and each
mapping's query, key, cursor and field map. Stored cursors, tests and run logs stay behind.
Import validates everything — the source among those config.yaml allows the target hospital,
every setting, every mapping (its query run on the HIS wrapped in ``WHERE 1=0``) — before
anything is written: one transaction, rolled back on the first problem.
"""
from __future__ import annotations

import yaml

from core.extensions import db
from core.i18n import _m
from plugins.his_connector import services
from plugins.his_connector.errors import HisError
from plugins.his_connector.models import ENTITIES, Connection

VERSION = 1
SETTINGS = ("source", "username", "password_env", "timezone", "encoding", "statement_timeout", "batch_size",
            "safety_lag", "schedule_minutes", "unknown_diagnoses", "enabled")
MAPPING_KEYS = ("query", "key_column", "cursor_column", "fields", "enabled")


def export_connection(connection: Connection) -> str:
    """The connection and its mappings as a YAML document."""
    document = {"hcrm_his_connection": VERSION, "name": connection.name,
                "settings": {key: getattr(connection, key) for key in SETTINGS},
                "mappings": {m.entity: {key: getattr(m, key) for key in MAPPING_KEYS}
                             for m in sorted(connection.mappings, key=lambda m: ENTITIES.index(m.entity))}}
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=120)


def _parse(text: str) -> dict:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise HisError(_m("The file is not valid YAML: %(error)s", error=" ".join(str(exc).split())[:300])) from None
    if not isinstance(document, dict) or document.get("hcrm_his_connection") != VERSION:
        raise HisError(_m("This is not an HCRM HIS connection export (hcrm_his_connection: %(v)d).", v=VERSION))
    settings, mappings = document.get("settings") or {}, document.get("mappings") or {}
    if not isinstance(settings, dict) or not isinstance(mappings, dict):
        raise HisError(_m("settings and mappings are mappings of keys to values."))
    unknown = sorted(set(settings) - set(SETTINGS)) + sorted(set(mappings) - set(ENTITIES))
    if unknown:
        raise HisError(_m("Unknown keys in the file: %(keys)s.", keys=", ".join(map(str, unknown))))
    return document


def import_connection(text: str, *, overrides: dict | None = None, check_source: bool = True) -> Connection:
    """Create (or update, by name) a connection of the current hospital and its mappings from an
    export; ``overrides`` replaces settings (``name``, ``source``, ``username``, ``password_env``…).
    Raises HisError naming the first problem; then nothing is written."""
    document = _parse(text)
    data = {**document["settings"], "name": document.get("name")}
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    existing = next((c for c in services.list_connections() if c.name == data["name"]), None)
    try:
        if existing is None:
            connection = services.create_connection(data, commit=False)
        else:
            connection = services.update_connection(existing, data, commit=False)
        for entity in ENTITIES:
            if entity in document["mappings"]:
                mapping = document["mappings"][entity]
                if not isinstance(mapping, dict):
                    raise HisError(_m("The %(entity)s mapping is not a mapping of keys to values.", entity=entity))
                try:
                    services.save_mapping(connection, entity, mapping, commit=False, check_source=check_source)
                except HisError as exc:
                    details = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
                    raise HisError(_m("%(entity)s mapping: %(problem)s", entity=entity,
                                      problem=details or str(exc))) from None
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return connection
