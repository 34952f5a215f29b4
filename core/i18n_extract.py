"""Babel extractor for plugin manifests (babel.cfg: ``[hcrm_manifest: **/__manifest__.py]``).

A manifest is a dict literal, read without importing the plugin (core.manifest), so it cannot
call ``_()``: its ``title`` and ``summary`` are taken from the literal, land in the plugin's own
catalog and are shown translated through :func:`core.i18n.plugin_text`.
"""
from __future__ import annotations

import ast

TRANSLATED_KEYS = ("title", "summary")
#: The message context of manifest texts: an app's name ("Complaints" -> 投诉中心) is not its menu
#: entry's ("Complaints" -> 投诉), so the two may be translated apart.
CONTEXT = "app"


def extract_manifest(fileobj, keywords, comment_tags, options):
    """Yield (line, function, message, comments) for Babel, as its own extractors do."""
    tree = ast.parse(fileobj.read().decode(options.get("encoding", "utf-8")))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if (isinstance(key, ast.Constant) and key.value in TRANSLATED_KEYS
                    and isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value):
                yield value.lineno, "pgettext", (CONTEXT, value.value), [f"manifest {key.value}"]
        return
