"""Dashboard cards contributed by plugins, for the current user and hospital."""
from __future__ import annotations

from flask import current_app, g

from core.permissions import can, hcrm
from core.plugins import CORE


def widgets_for_current_user() -> list:
    """Render each card the user may see; a failing card is logged and left out, not fatal."""
    live = g.get("hcrm_live", set())
    shown = []
    for widget in hcrm().catalog.widgets:
        if (widget.plugin != CORE and widget.plugin not in live) or not can(widget.permission):
            continue
        try:
            data = widget.render()
        except Exception:
            current_app.logger.exception("dashboard widget %s failed", widget.id)
            continue
        if data is not None:
            shown.append(data)
    return shown
