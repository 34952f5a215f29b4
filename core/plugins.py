"""Loading plugins: discovery, dependency order, import, hook checks and per-hospital hook subsets.

One :class:`PluginRegistry` per Flask app (``app.extensions["hcrm"].registry``), never a global,
so tests can build several apps in one process. Built-in plugins (``plugins/<name>``) and
third-party ones (entry-point group ``hcrm.plugins``) go through the same path. A broken
built-in plugin stops start-up with a clear message (it ships with the core and must be fixed);
a broken third-party plugin is reported, skipped with its dependants, and the app still starts.
"""
from __future__ import annotations

import difflib
import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from types import ModuleType

import pluggy

from core import hookspecs
from core.manifest import ManifestError, PluginInfo, builtin_candidates, entry_point_candidates, read_manifest

log = logging.getLogger(__name__)

CORE = "core"  # the core registers its own hook implementations under this name; always live


class PluginError(Exception):
    """A plugin problem that stops start-up; the message says which plugin and why."""


@dataclass(frozen=True)
class BrokenPlugin:
    name: str
    source: str
    reason: str


Candidate = tuple  # (package dir, module, source)
CandidateFinder = Callable[[], tuple[list[Candidate], list[tuple[str, str]]]]


def default_finder() -> tuple[list[Candidate], list[tuple[str, str]]]:
    third_party, problems = entry_point_candidates()
    return builtin_candidates() + third_party, problems


class PluginRegistry:
    """The plugins of one app: their manifests, modules, pluggy manager and hook subsets."""

    def __init__(self, finder: CandidateFinder = default_finder, core_module: ModuleType | None = None):
        self.pm = pluggy.PluginManager("hcrm")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}     # loaded plugins, in dependency order
        self.broken: list[BrokenPlugin] = []
        self._subsets: dict[frozenset, HookRelay] = {}
        self._finder = finder
        if core_module is not None:
            self.pm.register(core_module, name=CORE)

    # -- loading -------------------------------------------------------------------------
    def load(self) -> PluginRegistry:
        candidates, problems = self._finder()
        for label, reason in problems:
            self._reject(None, label, reason)
        infos = self._read_manifests(candidates)
        infos = self._drop_unresolvable(infos)
        for info in self._topological(infos):
            self._import_and_register(info)
        self._add_published_hookspecs()
        self._check_hook_names()
        return self

    def _reject(self, info: PluginInfo | None, name: str, reason: str) -> None:
        """Stop start-up for a built-in plugin; report and skip a third-party one."""
        if info is not None and info.builtin:
            raise PluginError(f"plugin '{name}': {reason}")
        source = info.source if info else name
        log.error("skipping third-party plugin %s: %s", name, reason)
        self.broken.append(BrokenPlugin(name=name, source=source, reason=reason))

    def _read_manifests(self, candidates: Iterable[Candidate]) -> dict[str, PluginInfo]:
        infos: dict[str, PluginInfo] = {}
        for package_dir, module, source in candidates:
            try:
                info = read_manifest(package_dir, module, source)
            except ManifestError as exc:
                if source == "builtin":
                    raise PluginError(str(exc)) from None
                self._reject(None, f"{module} (from {source})", str(exc))
                continue
            if info.name == CORE:
                self._reject(info, info.name, "the name 'core' is reserved")
                continue
            if info.name in infos:
                first = infos[info.name]
                other = "built-in plugins/" + info.name if first.builtin else first.source
                self._reject(info, info.name, f"duplicate plugin name: already provided by {other}")
                continue
            infos[info.name] = info
        return infos

    def _drop_unresolvable(self, infos: dict[str, PluginInfo]) -> dict[str, PluginInfo]:
        """Reject plugins whose dependencies are missing or cyclic, and their dependants."""
        infos = dict(infos)
        changed = True
        while changed:
            changed = False
            for info in list(infos.values()):
                missing = [d for d in info.depends if d not in infos]
                if missing:
                    known = {b.name for b in self.broken}
                    why = ", ".join(
                        f"'{d}' (" + ("broken, see above" if d in known else "not installed") + ")"
                        for d in missing)
                    del infos[info.name]
                    self._reject(info, info.name, f"missing dependency {why}")
                    changed = True
        cycle = find_cycle({n: i.depends for n, i in infos.items()})
        while cycle:
            path = " -> ".join(cycle)
            for name in dict.fromkeys(cycle):
                info = infos.pop(name)
                self._reject(info, name, f"dependency cycle: {path}")
            infos = self._drop_unresolvable(infos)
            cycle = find_cycle({n: i.depends for n, i in infos.items()})
        return infos

    @staticmethod
    def _topological(infos: dict[str, PluginInfo]) -> list[PluginInfo]:
        """Dependencies first; among plugins ready together, by name (a stable order)."""
        sorter = TopologicalSorter({name: infos[name].depends for name in infos})
        sorter.prepare()  # the cycles are gone (_drop_unresolvable)
        order: list[PluginInfo] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            order += [infos[name] for name in ready]
            sorter.done(*ready)
        return order

    def _import_and_register(self, info: PluginInfo) -> None:
        missing = [d for d in info.depends if d not in self.infos]
        if missing:
            self._reject(info, info.name, f"missing dependency '{missing[0]}' (failed to load)")
            return
        try:
            module = importlib.import_module(info.module)
        except Exception as exc:  # any error while importing a plugin is the plugin's fault
            self._reject(info, info.name, f"failed to import {info.module}: {type(exc).__name__}: {exc}")
            return
        try:
            self.pm.register(module, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._reject(info, info.name, f"invalid hook implementation: {exc}")
            return
        self.infos[info.name] = info

    def reject_loaded(self, name: str, reason: str) -> None:
        """Take back a loaded third-party plugin (and its dependants) found broken later on."""
        self._unregister(name, reason)
        self._subsets.clear()

    def _unregister(self, name: str, reason: str) -> None:
        info = self.infos.pop(name)
        self.pm.unregister(name=name)
        self._reject(info, name, reason)
        for other in [i for i in self.infos.values() if name in i.depends]:
            self._unregister(other.name, f"missing dependency '{name}' (broken, see above)")

    def _add_published_hookspecs(self) -> None:
        for impl in list(self.pm.hook.hcrm_hookspecs.get_hookimpls()):
            try:
                published = impl.function()
                if published is not None:
                    self.pm.add_hookspecs(published)
            except Exception as exc:
                if impl.plugin_name in self.infos:
                    self._unregister(impl.plugin_name, f"cannot publish its hooks: {exc}")

    def _check_hook_names(self) -> None:
        """A misspelled hook would silently never be called: refuse it by name instead."""
        known = sorted(n for n in vars(self.pm.hook) if not n.startswith("_")
                       and getattr(self.pm.hook, n).spec is not None)
        for name in list(self.pm.hook.__dict__):
            caller = getattr(self.pm.hook, name)
            if name.startswith("_") or caller.spec is not None:
                continue
            for impl in caller.get_hookimpls():
                if impl.plugin_name not in self.infos:
                    raise PluginError(f"core implements unknown hook '{name}'")
                hint = difflib.get_close_matches(name, known, n=1)
                tip = f"; did you mean '{hint[0]}'?" if hint else ""
                self._unregister(impl.plugin_name, f"implements unknown hook '{name}'{tip}")
        self.pm.check_pending()

    # -- using ---------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.infos)

    def call_one(self, plugin: str, hook_name: str, **kwargs):
        """Call ``hook_name`` on one plugin only (enable/disable handlers); None if not implemented."""
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name == plugin:
                return impl.function(**kwargs)
        return None

    def hooks_for(self, live: Iterable[str]) -> HookRelay:
        """The hooks as seen by a hospital whose live plugins are ``live`` (the core always is)."""
        key = frozenset(live) & frozenset(self.infos)
        relay = self._subsets.get(key)
        if relay is None:
            excluded = [self.pm.get_plugin(n) for n in self.infos if n not in key]
            relay = self._subsets[key] = HookRelay(self.pm, excluded)
        return relay

    def dependants(self, name: str) -> list[str]:
        """Plugins that need ``name``, directly or not, in dependency order."""
        out = []
        for info in self.infos.values():
            if any(d == name or d in out for d in info.depends):
                out.append(info.name)
        return out

    def requirements(self, name: str) -> list[str]:
        """Plugins ``name`` needs, directly or not, in dependency order (not including itself)."""
        needed: set[str] = set()
        stack = list(self.infos[name].depends)
        while stack:
            dep = stack.pop()
            if dep not in needed:
                needed.add(dep)
                stack.extend(self.infos[dep].depends)
        return [n for n in self.infos if n in needed]


class HookRelay:
    """``relay.hcrm_event(event=...)`` calls only the implementations of the live plugins."""

    def __init__(self, pm: pluggy.PluginManager, excluded: list):
        self._pm = pm
        self._excluded = excluded
        self._callers: dict[str, object] = {}

    def __getattr__(self, name: str):
        caller = self._callers.get(name)
        if caller is None:
            caller = self._callers[name] = self._pm.subset_hook_caller(name, self._excluded)
        return caller


def find_cycle(graph: dict[str, Iterable[str]]) -> list[str] | None:
    """One dependency cycle as a path from a plugin to what it depends on, starting and ending
    at the cycle's first name in alphabetical order (``aa -> bb -> aa``), or None. Dependencies
    outside ``graph`` are ignored (reported as missing before)."""
    sorter = TopologicalSorter()
    for node in sorted(graph):
        sorter.add(node, *sorted(dep for dep in graph[node] if dep in graph))
    try:
        sorter.prepare()
    except CycleError as exc:
        # graphlib lists each node before the one that depends on it, the first repeated last
        ring = list(reversed(exc.args[1]))[:-1]
        start = ring.index(min(ring))
        ring = ring[start:] + ring[:start]
        return ring + [ring[0]]
    return None
