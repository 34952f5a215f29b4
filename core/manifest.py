"""Plugin manifests: static data read without importing the plugin's code.

A plugin package carries ``__manifest__.py`` holding one dict literal (Odoo's convention). It is
parsed with :func:`ast.literal_eval`, so listing plugins, resolving their dependencies and
showing them in the Apps screen never executes a broken plugin.
"""
from __future__ import annotations

import ast
import importlib.util
import re
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

MANIFEST_FILE = "__manifest__.py"
ENTRY_POINT_GROUP = "hcrm.plugins"
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "plugins"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
REQUIRED_KEYS = ("name", "title", "version", "summary")
OPTIONAL_KEYS = ("depends", "author", "license", "website")


class ManifestError(Exception):
    """A manifest that cannot be read or is malformed; the message names the file."""


@dataclass(frozen=True)
class PluginInfo:
    """What the core knows of a plugin before importing it."""

    name: str
    title: str
    version: str
    summary: str
    depends: tuple[str, ...]
    module: str                      # import path of the plugin package
    path: Path                       # the package directory
    source: str = "builtin"          # "builtin" or the distribution that provides it
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def builtin(self) -> bool:
        return self.source == "builtin"

    @property
    def migrations_dir(self) -> Path:
        return self.path / "migrations" / "versions"


def read_manifest(package_dir: Path, module: str, source: str = "builtin") -> PluginInfo:
    """Parse ``package_dir/__manifest__.py`` into a PluginInfo, validating keys and types."""
    file = package_dir / MANIFEST_FILE
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{file}: cannot read manifest: {exc.strerror}") from None
    try:
        data = ast.literal_eval(text.strip() or "None")
    except (ValueError, SyntaxError) as exc:
        line = getattr(exc, "lineno", None)
        where = f"{file}:{line}" if line else str(file)
        raise ManifestError(f"{where}: manifest must be a single dict literal ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{file}: manifest must be a dict literal, got {type(data).__name__}")
    missing = [k for k in REQUIRED_KEYS if not data.get(k)]
    if missing:
        raise ManifestError(f"{file}: manifest lacks required key(s): {', '.join(missing)}")
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ManifestError(f"{file}: unknown manifest key(s): {', '.join(unknown)} "
                            f"(allowed: {', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)})")
    name = data["name"]
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ManifestError(f"{file}: plugin name {name!r} must match {NAME_RE.pattern}")
    depends = data.get("depends", [])
    if not isinstance(depends, (list, tuple)) or not all(isinstance(d, str) for d in depends):
        raise ManifestError(f"{file}: 'depends' must be a list of plugin names")
    for key in ("title", "version", "summary"):
        if not isinstance(data[key], str):
            raise ManifestError(f"{file}: '{key}' must be a string")
    return PluginInfo(
        name=name, title=data["title"], version=data["version"], summary=data["summary"],
        depends=tuple(depends), module=module, path=package_dir, source=source,
        extra={k: data[k] for k in OPTIONAL_KEYS if k in data and k != "depends"},
    )


def builtin_candidates() -> list[tuple[Path, str, str]]:
    """(package dir, module, source) for each folder of ``plugins/`` that has a manifest."""
    if not BUILTIN_DIR.is_dir():
        return []
    return [(d, f"plugins.{d.name}", "builtin")
            for d in sorted(BUILTIN_DIR.iterdir()) if (d / MANIFEST_FILE).is_file()]


def entry_point_candidates() -> tuple[list[tuple[Path, str, str]], list[tuple[str, str]]]:
    """Third-party plugins of the ``hcrm.plugins`` entry-point group.

    Returns (candidates, problems). The package directory is located with ``find_spec`` on the
    entry point's module, which for a top-level package does not execute it.
    """
    found, problems = [], []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "unknown distribution"
        label = f"{ep.name} (from {dist})"
        try:
            spec = importlib.util.find_spec(ep.value)
        except (ImportError, ValueError) as exc:
            problems.append((label, f"entry point {ep.value!r} cannot be located: {exc}"))
            continue
        if spec is None or not spec.submodule_search_locations:
            problems.append((label, f"entry point {ep.value!r} is not an importable package"))
            continue
        found.append((Path(list(spec.submodule_search_locations)[0]), ep.value, dist))
    return found, problems
