"""The validated declarations of all loaded plugins, built once per app at start-up.

Plugins declare menus, permissions, reports, widgets, panels, jobs and models; the catalog
checks them together (duplicates, dangling references, table prefixes, hospital ownership) so a
mistake fails at start-up, not at request time.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask

from core.declarations import Job, MenuItem, Panel, PanelTarget, Permission, Report, Task, Widget, with_plugin
from core.plugins import CORE, PluginError, PluginRegistry
from core.tenancy import HospitalOwned, ScopedThrough, scope_parent


@dataclass
class Catalog:
    permissions: dict[str, Permission] = field(default_factory=dict)
    menus: dict[str, MenuItem] = field(default_factory=dict)
    reports: dict[str, Report] = field(default_factory=dict)
    widgets: list[Widget] = field(default_factory=list)
    panels: list[Panel] = field(default_factory=list)
    panel_targets: dict[str, PanelTarget] = field(default_factory=dict)  # pages that show panels
    jobs: dict[str, Job | Task] = field(default_factory=dict)  # periodic jobs and one-off tasks
    models: dict[str, list[type]] = field(default_factory=dict)   # plugin -> models
    blueprint_plugin: dict[str, str] = field(default_factory=dict)  # blueprint name -> plugin

    def shows_something(self, plugin: str) -> bool:
        """Whether ``plugin`` gives people anything to open: a menu entry leading to a page, a
        report, a dashboard card or a tab on another page (the Apps screen lists only these)."""
        return (any(m.plugin == plugin and m.endpoint for m in self.menus.values())
                or any(r.plugin == plugin for r in self.reports.values())
                or any(w.plugin == plugin for w in self.widgets)
                or any(p.plugin == plugin for p in self.panels))

    def plugin_of_permission(self, name: str) -> str | None:
        perm = self.permissions.get(name)
        return perm.plugin if perm else None


def _check_own_namespace(name: str, plugin: str, kind: str) -> None:
    if not name.startswith(f"{plugin}."):
        raise PluginError(f"{kind} '{name}' must start with '{plugin}.'")


def _declared(registry: PluginRegistry, plugin: str, hook: str) -> list:
    return [with_plugin(item, plugin) if hasattr(item, "plugin") else item
            for item in registry.call_one(plugin, hook) or ()]


def check_job(job) -> None:
    """A periodic Job needs a positive ``every``; a one-off Task a non-negative ``retries``."""
    if isinstance(job, Job):
        if not isinstance(job.every, timedelta) or job.every.total_seconds() < 1:
            raise PluginError(f"job '{job.id}' needs 'every' as a timedelta of at least one second")
    elif isinstance(job, Task):
        if not isinstance(job.retries, int) or job.retries < 0:
            raise PluginError(f"task '{job.id}' needs 'retries' as a whole number >= 0")
    else:
        raise PluginError(f"hcrm_jobs returned {type(job).__name__} '{getattr(job, 'id', job)}': "
                          "return core.declarations.Job or Task objects")
    if not callable(job.run):
        raise PluginError(f"job '{job.id}' needs a callable 'run'")


def check_panel_target(panel, targets: dict[str, PanelTarget], reachable: set[str],
                       declared: dict[str, PanelTarget] | None = None) -> None:
    """A panel names a page that exists, of its own plugin or of one it depends on: a typo
    would otherwise leave a tab that never shows. ``targets``: those loaded so far (the
    plugin's dependencies come first); ``declared``: every plugin's, for the message only."""
    if not isinstance(panel, Panel):
        raise PluginError(f"hcrm_panels returned {type(panel).__name__} '{getattr(panel, 'id', panel)}': "
                          "return core.declarations.Panel or PanelTarget objects")
    target = targets.get(panel.target) or (declared or {}).get(panel.target)
    if target is None:
        close = difflib.get_close_matches(panel.target, list({**(declared or {}), **targets}), n=1)
        hint = f"; did you mean '{close[0]}'?" if close else \
            f" (known: {', '.join(sorted(targets)) or 'none'})"
        raise PluginError(f"panel '{panel.id}' targets unknown panel target '{panel.target}'{hint}")
    if target.plugin not in reachable:
        raise PluginError(f"panel '{panel.id}' targets '{panel.target}' of plugin '{target.plugin}', "
                          f"which '{panel.plugin}' does not depend on: add it to the manifest's depends")


def _keyed(items, existing: dict, kind: str) -> dict:
    """Index ``items`` by id (or name), refusing a key already used here or by another plugin."""
    out: dict = {}
    for item in items:
        key = getattr(item, "id", None) or item.name
        owner = existing.get(key) or out.get(key)
        if owner is not None:
            raise PluginError(f"{kind} '{key}' is declared twice (by '{owner.plugin}' and '{item.plugin}')")
        out[key] = item
    return out


def build_catalog(registry: PluginRegistry, app: Flask) -> Catalog:
    """Collect and check every plugin's declarations, in dependency order, plugin by plugin.

    A plugin's declarations enter the catalog (and its blueprints the app) all together or not
    at all. A built-in plugin with a bad declaration stops start-up; a third-party one is
    reported, skipped with its dependants, and the others still start.
    """
    cat = Catalog()
    declared = _declared_panel_targets(registry)
    for plugin in [CORE] + list(registry.infos):
        if plugin != CORE and plugin not in registry.infos:
            continue  # skipped because a plugin it depends on was rejected just now
        try:
            _add_plugin(cat, registry, plugin, app, declared)
        except Exception as exc:  # a declaration hook's own bug counts like a bad declaration
            reason = str(exc) if isinstance(exc, PluginError) else \
                f"a declaration hook failed: {type(exc).__name__}: {exc}"
            if plugin == CORE or registry.infos[plugin].builtin:
                raise PluginError(f"plugin '{plugin}': {reason}") from None
            registry.reject_loaded(plugin, reason)
    return cat


def _declared_panel_targets(registry: PluginRegistry) -> dict[str, PanelTarget]:
    """Every plugin's panel targets, whatever the load order, so that a panel naming a page of a
    plugin loaded later is told which plugin to depend on (or which name it meant)."""
    found: dict[str, PanelTarget] = {}
    for plugin in [CORE] + list(registry.infos):
        try:
            items = _declared(registry, plugin, "hcrm_panels")
        except Exception:  # reported with its plugin by the real pass
            continue
        found.update({item.id: item for item in items if isinstance(item, PanelTarget)})
    return found


def _add_plugin(cat: Catalog, registry: PluginRegistry, plugin: str, app: Flask,
                declared: dict[str, PanelTarget]) -> None:
    permissions = _keyed(_declared(registry, plugin, "hcrm_permissions"), cat.permissions, "permission")
    for perm in permissions.values():
        _check_own_namespace(perm.name, plugin, "permission")
    known_permissions = {**cat.permissions, **permissions}

    def needs_permission(item, what: str) -> None:
        if item.permission not in known_permissions:
            raise PluginError(f"{what} '{item.id}' needs unknown permission '{item.permission}'")

    menus = _keyed(_declared(registry, plugin, "hcrm_menus"), cat.menus, "menu item")
    reports = _keyed(_declared(registry, plugin, "hcrm_reports"), cat.reports, "report")
    widgets = _keyed(_declared(registry, plugin, "hcrm_dashboard_widgets"), {w.id: w for w in cat.widgets}, "widget")
    panel_items = _declared(registry, plugin, "hcrm_panels")
    targets = _keyed([t for t in panel_items if isinstance(t, PanelTarget)], cat.panel_targets, "panel target")
    panels = _keyed([p for p in panel_items if not isinstance(p, PanelTarget)], {p.id: p for p in cat.panels},
                    "panel")
    jobs = _keyed(_declared(registry, plugin, "hcrm_jobs"), cat.jobs, "job")
    models = list(registry.call_one(plugin, "hcrm_models") or ())
    blueprints = list(registry.call_one(plugin, "hcrm_blueprints") or ())

    for report in reports.values():
        _check_own_namespace(report.id, plugin, "report")
        needs_permission(report, "report")
        check_report(report)
    for item in list(widgets.values()) + list(panels.values()):
        needs_permission(item, "widget/panel")
    for target in targets.values():
        _check_own_namespace(target.id, plugin, "panel target")
    reachable = {CORE, plugin, *(registry.requirements(plugin) if plugin != CORE else ())}
    for panel in panels.values():
        check_panel_target(panel, {**cat.panel_targets, **targets}, reachable, declared)
    for job in jobs.values():
        _check_own_namespace(job.id, plugin, "job")
        check_job(job)
    for model in models:
        check_model(plugin, model)
    endpoints = _endpoints_of(blueprints, app)
    all_menus = {**cat.menus, **menus}
    for item in menus.values():
        if item.permission and item.permission not in known_permissions:
            needs_permission(item, "menu item")
        if item.parent and item.parent not in all_menus:
            raise PluginError(f"menu item '{item.id}' has unknown parent '{item.parent}'")
        if item.endpoint and not item.permission and plugin != CORE:
            raise PluginError(f"menu item '{item.id}' points at a page but names no permission")
        if item.endpoint and item.endpoint not in endpoints and item.endpoint not in app.view_functions:
            raise PluginError(f"menu item '{item.id}' points at unknown endpoint '{item.endpoint}'")

    # Everything checked: the plugin joins the catalog and the app in one go.
    for bp in blueprints:
        app.register_blueprint(bp)
        cat.blueprint_plugin[bp.name] = plugin
    cat.permissions.update(permissions)
    cat.menus.update(menus)
    cat.reports.update(reports)
    cat.widgets = sorted(cat.widgets + list(widgets.values()), key=lambda w: (w.order, w.id))
    cat.panels = sorted(cat.panels + list(panels.values()), key=lambda p: (p.order, p.id))
    cat.panel_targets.update(targets)
    cat.jobs.update(jobs)
    if models:
        cat.models[plugin] = models


def _endpoints_of(blueprints, app: Flask) -> set[str]:
    """The endpoints the blueprints would add, found on a scratch app so a plugin that fails
    its checks leaves no route behind; a name clash with a mounted blueprint is refused."""
    scratch = Flask("hcrm-catalog-check")
    names = [bp.name for bp in blueprints]
    for name in names:
        if name in app.blueprints or names.count(name) > 1:
            raise PluginError(f"blueprint name '{name}' is already used")
    for bp in blueprints:
        scratch.register_blueprint(bp)
    return set(scratch.view_functions)


PARAM_TYPES = ("date", "int", "choice", "text")
CHART_KINDS = ("bar", "line", "pie")
RESERVED_PARAM_NAMES = {"data", "errors", "meta", "format", "page", "csrf_token"}  # WTForms/export names


def check_report(report) -> None:
    """A report's parameters and chart are usable: fail at start-up, not when someone opens it."""
    where = f"report '{report.id}'"
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
        if not report.chart.y and not report.chart.y_prefix:
            raise PluginError(f"{where}: the chart names no y column")


def check_model(plugin: str, model: type) -> None:
    """A plugin's table carries its prefix and belongs to a hospital (or says why not)."""
    table = getattr(model, "__tablename__", None) or getattr(getattr(model, "__table__", None), "name", "")
    prefix = f"{plugin}_"
    if not table.startswith(prefix):
        raise PluginError(f"table '{table}' of model {model.__name__} must start with '{prefix}'")
    if plugin != CORE and not issubclass(model, HospitalOwned) and not getattr(model, "__hcrm_global__", None):
        raise PluginError(f"model {model.__name__} is not hospital-owned "
                          "(inherit core.tenancy.HospitalOwned or set __hcrm_global__ = 'why')")
    if issubclass(model, ScopedThrough):
        try:
            scope_parent(model)
        except TypeError as exc:
            raise PluginError(str(exc)) from None
