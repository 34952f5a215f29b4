"""Plugin states of a hospital, as the API (and any admin screen) shows them."""
from __future__ import annotations

from flask import current_app

from core import activation


def plugin_overview(hospital_id: int) -> tuple[list[dict], list]:
    """(installed plugins with their state for the hospital, broken third-party plugins).

    State is ``enabled`` (live), ``disabled`` (a row says off: an administrator's choice or a
    dependency rule) or ``never`` (never enabled there).
    """
    registry = current_app.extensions["hcrm"].registry
    rows = activation.plugin_rows(hospital_id)
    live = activation.live_plugins(hospital_id)
    plugins = []
    for info in sorted(registry.infos.values(), key=lambda i: i.name):
        row = rows.get(info.name)
        state = "enabled" if info.name in live else "disabled" if row is not None else "never"
        plugins.append(dict(name=info.name, title=info.title, version=info.version, summary=info.summary,
                            depends=list(info.depends), source=info.source, state=state,
                            changed_at=row.changed_at if row is not None else None))
    return plugins, list(registry.broken)
