"""The plugin's menu: a "HIS interface" group under the core's Administration group (connecting
to the HIS is system setup, not daily CRM work). Each item names the permission its page requires."""
from __future__ import annotations

from core.declarations import MenuItem
from core.i18n import lazy_gettext as _l
from plugins.his_connector import MANAGE, RUN

GROUP = "his_connector"


def menu_items() -> list[MenuItem]:
    return [
        MenuItem(GROUP, _l("HIS interface"), parent="admin", order=60, icon="hdd-network"),
        MenuItem("his_connector.connections", _l("HIS connections"), endpoint="his_connector.connections",
                 permission=MANAGE, parent=GROUP, order=1, icon="plug"),
        MenuItem("his_connector.runs", _l("Sync runs"), endpoint="his_connector.runs", permission=RUN,
                 parent=GROUP, order=2, icon="arrow-repeat"),
        MenuItem("his_connector.quarantine", _l("Quarantine"), endpoint="his_connector.quarantine", permission=RUN,
                 parent=GROUP, order=3, icon="exclamation-octagon"),
    ]
