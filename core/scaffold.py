"""``hcrm plugin new``: generate a working plugin from the files in ``core/scaffold_template/``.

Template files end in ``.tmpl`` (so no tool mistakes them for code) and carry ``{{key}}``
placeholders, in their contents and in their paths, filled with ``str.replace``:

``{{name}}``           the plugin name (``^[a-z][a-z0-9_]{1,39}$``)
``{{title}}``          its title as plain text
``{{title_literal}}``  the title as a quoted string literal, valid in Python and in TOML
``{{package}}``        the import name of the plugin package (``plugins.<name>`` or ``hcrm_<name>``)
``{{revision}}``       the id of the plugin's first Alembic revision
``{{core_head}}``      the core's head revision, which that first revision depends on
``{{create_date}}``    when the plugin was generated

``package/`` becomes the plugin package, ``tests/`` its tests and, for a standalone distribution,
``distribution/`` the files around the package (pyproject.toml, README.md).
"""
from __future__ import annotations

import contextlib
import json
import keyword
import os
import shutil
import uuid
from datetime import datetime
from importlib import metadata
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import rev_id

from core.manifest import BUILTIN_DIR, ENTRY_POINT_GROUP, MANIFEST_FILE, NAME_RE, ManifestError, read_manifest

TEMPLATE_DIR = Path(__file__).resolve().parent / "scaffold_template"
CORE_MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Names the core already uses as blueprint names or first URL segments: a plugin named so
#: would clash with the core's routes (the blueprint is named and mounted after the plugin).
RESERVED = frozenset({"core", "auth", "admin", "api", "reports", "static", "login", "logout",
                      "account", "language", "hospital"})


class ScaffoldError(Exception):
    """A plugin that cannot be generated; the message says why and nothing was written."""


def check_name(name: str) -> None:
    if not NAME_RE.match(name or ""):
        raise ScaffoldError(f"invalid plugin name {name!r}: use 2 to 40 lowercase letters, digits "
                            f"or '_', starting with a letter (pattern {NAME_RE.pattern})")
    if name in RESERVED or keyword.iskeyword(name):
        raise ScaffoldError(f"the name '{name}' is reserved (the core uses it); choose another")
    installed = installed_plugins()
    if name in installed:
        raise ScaffoldError(f"a plugin named '{name}' already exists ({installed[name]}); choose another name")


def installed_plugins() -> dict[str, str]:
    """Plugin names already taken -> where: built-in folders and third-party entry points."""
    taken: dict[str, str] = {}
    if BUILTIN_DIR.is_dir():
        for folder in sorted(BUILTIN_DIR.iterdir()):
            if not (folder / MANIFEST_FILE).is_file():
                continue
            taken[folder.name] = f"built-in, {folder}"
            with contextlib.suppress(ManifestError):  # a broken manifest still takes its folder's name
                taken.setdefault(read_manifest(folder, f"plugins.{folder.name}").name, f"built-in, {folder}")
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist.name if ep.dist else "an unknown distribution"
        taken.setdefault(ep.name, f"installed from {dist}")
    return taken


def core_head() -> str:
    """The core's current head revision: a plugin's first revision depends on it."""
    heads = ScriptDirectory(str(CORE_MIGRATIONS)).get_heads()
    if len(heads) != 1:
        raise ScaffoldError(f"the core's migrations have {len(heads)} heads ({', '.join(heads)}); "
                            "merge them first")
    return heads[0]


def _check_title(title: str) -> str:
    title = title.strip()
    if not title or any(ord(c) < 32 for c in title) or len(title) > 100:
        raise ScaffoldError("the title must be one line of 1 to 100 characters")
    return title


def create_plugin(name: str, target_dir: str | os.PathLike | None = None, title: str | None = None,
                  *, standalone: bool | None = None) -> Path:
    """Generate plugin ``name`` and return its package directory (the one with ``__manifest__.py``).

    ``target_dir`` None: a built-in plugin, ``plugins/<name>`` of this repository. Otherwise a
    standalone distribution ``target_dir/hcrm-<name>/`` (pyproject.toml declaring the
    ``hcrm.plugins`` entry point, the package ``hcrm_<name>``, tests/), or with
    ``standalone=False`` the bare package ``target_dir/<name>`` (what ``plugins/`` holds).
    Raises :class:`ScaffoldError` (writing nothing) for a bad or taken name or an existing target.
    """
    check_name(name)
    title = _check_title(title if title is not None else name.replace("_", " ").title())
    if standalone is None:
        standalone = target_dir is not None
    parent = Path(target_dir) if target_dir is not None else BUILTIN_DIR
    if standalone:
        root, package = parent / f"hcrm-{name}", f"hcrm_{name}"
        package_rel = Path(package)
    else:
        root, package = parent / name, (f"plugins.{name}" if target_dir is None else name)
        package_rel = Path(".")
    if root.exists():
        raise ScaffoldError(f"{root} already exists; remove it or choose another name or --path")
    if not parent.is_dir():
        raise ScaffoldError(f"{parent} is not a directory")

    values = {
        "{{name}}": name,
        "{{title}}": title,
        "{{title_literal}}": json.dumps(title, ensure_ascii=False),
        "{{package}}": package,
        "{{revision}}": rev_id(),
        "{{core_head}}": core_head(),
        "{{create_date}}": datetime.now().isoformat(sep=" ", timespec="seconds"),
    }
    # tests/ sits in the package of a built-in plugin, beside the package in a distribution.
    parts = [("package", package_rel), ("tests", Path("tests"))]
    if standalone:
        parts.append(("distribution", Path(".")))
    # Build one level down in a scratch folder beside the target (so plugin discovery, which
    # looks one level deep, never sees a half-written plugin) and move it in place at the end:
    # a failure halfway leaves nothing behind.
    scratch = parent / f".hcrm-new-{name}-{uuid.uuid4().hex[:8]}"
    scratch.mkdir()
    try:
        for template_part, destination in parts:
            _render_tree(TEMPLATE_DIR / template_part, scratch / root.name / destination, values)
        (scratch / root.name).rename(root)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return root / package if standalone else root


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(key, value)
    return text


def _render_tree(source: Path, destination: Path, values: dict[str, str]) -> None:
    for template in sorted(source.rglob("*.tmpl")):
        relative = _fill(str(template.relative_to(source)), values)[:-len(".tmpl")]
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_fill(template.read_text(encoding="utf-8"), values), encoding="utf-8")
