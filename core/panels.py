"""Panels: tabs that plugins contribute to another plugin's page (Odoo's view inheritance, simply)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g

from core.permissions import can, hcrm
from core.plugins import CORE


@dataclass(frozen=True)
class RenderedPanel:
    id: str
    title: str
    html: Any
    plugin: str


def render_panels(target: str, record) -> list[RenderedPanel]:
    """The panels for page ``target`` showing ``record``, for the current user and hospital.

    Only live plugins' panels, only with their permission; a panel that fails is logged and
    left out so one plugin's bug cannot break another plugin's page.
    """
    if target not in hcrm().catalog.panel_targets:
        raise LookupError(f"render_panels: '{target}' is not a declared PanelTarget (declare it in the "
                          "page owner's hcrm_panels)")
    live = g.get("hcrm_live", set())
    shown = []
    for panel in hcrm().catalog.panels:
        if panel.target != target or (panel.plugin != CORE and panel.plugin not in live):
            continue
        if not can(panel.permission):
            continue
        try:
            html = panel.render(record)
        except Exception:
            current_app.logger.exception("panel %s failed on %s", panel.id, target)
            continue
        if html is not None:
            shown.append(RenderedPanel(id=panel.id, title=str(panel.title), html=html, plugin=panel.plugin))
    return shown
