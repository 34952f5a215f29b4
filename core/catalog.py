"""The validated declarations of all loaded plugins, built once per app at start-up.

Plugins declare menus, permissions, reports, widgets, panels, jobs and models; the catalog
checks them together (duplicates, dangling references, table prefixes, hospital ownership) so a
mistake fails at start-up, not at request time.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.declarations import Job, MenuItem, Panel, Permission, Report, Widget
from core.plugins import CORE, PluginError, PluginRegistry
from core.tenancy import HospitalOwned


@dataclass
class Catalog:
    permissions: dict[str, Permission] = field(default_factory=dict)
    menus: dict[str, MenuItem] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    widgets: list[Widget] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    models: dict[str, list[type]] = field(default_factory=dict)   # plugin -> models
    blueprint_plugin: dict[str, str] = field(default_factory=dict)  # blueprint name -> plugin

    def plugin_of_permission(self, name: str) -> str | None:
        perm = self.permissions.get(name)
        return perm.plugin if perm else None


def _unique(items, kind: str) -> dict:
    seen: dict = {}
    for item in items:
        key = item.id if hasattr(item, "id") else item.name
        if key in seen:
            raise PluginError(f"{kind} '{key}' is declared twice (by '{seen[key].plugin}' and '{item.plugin}')")
        seen[key] = item
    return seen


def _check_own_namespace(name: str, plugin: str, kind: str) -> None:
    if not name.startswith(f"{plugin}."):
        raise PluginError(f"plugin '{plugin}': {kind} '{name}' must start with '{plugin}.'")


def build_catalog(registry: PluginRegistry) -> Catalog:
    cat = Catalog()
    cat.permissions = _unique(registry.collect("hcrm_permissions"), "permission")
    for perm in cat.permissions.values():
        _check_own_namespace(perm.name, perm.plugin, "permission")

    cat.menus = _unique(registry.collect("hcrm_menus"), "menu item")
    for item in cat.menus.values():
        if item.permission and item.permission not in cat.permissions:
            raise PluginError(f"plugin '{item.plugin}': menu item '{item.id}' needs unknown permission '{item.permission}'")
        if item.parent and item.parent not in cat.menus:
            raise PluginError(f"plugin '{item.plugin}': menu item '{item.id}' has unknown parent '{item.parent}'")
        if item.endpoint and not item.permission and item.plugin != CORE:
            raise PluginError(f"plugin '{item.plugin}': menu item '{item.id}' points at a page but names no permission")

    cat.reports = _unique(registry.collect("hcrm_reports"), "report")
    for report in cat.reports.values():
        _check_own_namespace(report.id, report.plugin, "report")
        if report.permission not in cat.permissions:
            raise PluginError(f"plugin '{report.plugin}': report '{report.id}' needs unknown permission '{report.permission}'")

    for report in cat.reports.values():
        check_report(report)

    cat.widgets = sorted(_unique(registry.collect("hcrm_dashboard_widgets"), "widget").values(),
                         key=lambda w: (w.order, w.id))
    cat.panels = sorted(_unique(registry.collect("hcrm_panels"), "panel").values(),
                        key=lambda p: (p.order, p.id))
    for item in list(cat.widgets) + list(cat.panels):
        if item.permission not in cat.permissions:
            raise PluginError(f"plugin '{item.plugin}': '{item.id}' needs unknown permission '{item.permission}'")

    cat.jobs = _unique(registry.collect("hcrm_jobs"), "job")
    for job in cat.jobs.values():
        _check_own_namespace(job.id, job.plugin, "job")

    for plugin, models in registry.collect_by_plugin("hcrm_models").items():
        for model in models:
            check_model(plugin, model)
        cat.models[plugin] = list(models)
    return cat


PARAM_TYPES = ("date", "int", "choice", "text")
CHART_KINDS = ("bar", "line", "pie")
RESERVED_PARAM_NAMES = {"data", "errors", "meta", "format", "page", "csrf_token"}  # WTForms/export names


def check_report(report) -> None:
    """A report's parameters and chart are usable: fail at start-up, not when someone opens it."""
    where = f"plugin '{report.plugin}': report '{report.id}'"
    names = [p.name for p in report.params]
    if len(set(names)) != len(names):
        raise PluginError(f"{where} declares a parameter twice")
    for param in report.params:
        if param.type not in PARAM_TYPES:
            raise PluginError(f"{where}: parameter '{param.name}' has unknown type '{param.type}' "
                              f"(use {', '.join(PARAM_TYPES)})")
        if param.name in RESERVED_PARAM_NAMES or not param.name.isidentifier():
            raise PluginError(f"{where}: parameter name '{param.name}' is reserved or not an identifier")
        if param.type == "choice" and not param.choices:
            raise PluginError(f"{where}: choice parameter '{param.name}' has no choices")
    if report.chart is not None:
        if report.chart.kind not in CHART_KINDS:
            raise PluginError(f"{where}: chart kind '{report.chart.kind}' is not one of {', '.join(CHART_KINDS)}")
        if not report.chart.y:
            raise PluginError(f"{where}: the chart names no y column")


def check_model(plugin: str, model: type) -> None:
    """A plugin's table carries its prefix and belongs to a hospital (or says why not)."""
    table = getattr(model, "__tablename__", None) or getattr(getattr(model, "__table__", None), "name", "")
    prefix = f"{plugin}_"
    if not table.startswith(prefix):
        raise PluginError(f"plugin '{plugin}': table '{table}' of model {model.__name__} must start with '{prefix}'")
    if plugin != CORE and not issubclass(model, HospitalOwned) and not getattr(model, "__hcrm_global__", None):
        raise PluginError(f"plugin '{plugin}': model {model.__name__} is not hospital-owned "
                          "(inherit core.tenancy.HospitalOwned or set __hcrm_global__ = 'why')")
