"""The plugin's menu items, under the core's CRM group. Each item names the permission its page
requires (the generic plugin suite checks that they agree)."""
from __future__ import annotations

from flask import Flask

from core.declarations import MenuItem
from core.i18n import lazy_gettext as _l

IMPORT_ENDPOINT = "patients_transfer.import_form"


def _transfer_endpoints() -> set[str]:
    """The import/export blueprint's endpoints, found on a scratch app: the import page is
    built separately, and a menu item pointing at a missing page would stop start-up."""
    from plugins.patients import transfer
    scratch = Flask("patients-menu-check")
    scratch.register_blueprint(transfer.bp)
    return set(scratch.view_functions)


def menu_items() -> list[MenuItem]:
    items = [
        MenuItem("patients.list", _l("Patients"), endpoint="patients.index", permission="patients.read",
                 parent="crm", order=10, icon="people"),
        MenuItem("patients.new", _l("New patient"), endpoint="patients.new", permission="patients.create",
                 parent="crm", order=11, icon="person-plus"),
        MenuItem("patients.lookup", _l("Screen pop"), endpoint="patients.lookup", permission="patients.read",
                 parent="crm", order=13, icon="telephone"),
        MenuItem("patients.diseases", _l("Disease catalogue"), endpoint="patients.diseases",
                 permission="patients.read", parent="crm", order=14, icon="clipboard2-pulse"),
        MenuItem("patients.settings", _l("Patient settings"), endpoint="patients.settings",
                 permission="patients.settings", parent="crm", order=15, icon="sliders"),
    ]
    if IMPORT_ENDPOINT in _transfer_endpoints():
        items.append(MenuItem("patients.import", _l("Import patients"), endpoint=IMPORT_ENDPOINT,
                              permission="patients.import", parent="crm", order=12, icon="upload"))
    return items
