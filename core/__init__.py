"""HCRM core: the application factory and the names plugins import.

Plugins import ``hookimpl`` (to implement hooks), ``hookspec`` (to publish their own) and the
services of ``core.*`` modules; the core itself never imports a plugin by name.
"""
from __future__ import annotations

import pluggy

hookimpl = pluggy.HookimplMarker("hcrm")
hookspec = pluggy.HookspecMarker("hcrm")


def create_app(config=None, *, overrides: dict | None = None, finder=None):
    """Build a Flask app: load config and plugins, bind extensions, register routes.

    ``config`` is an :class:`core.config.HcrmConfig` (default: read config.yaml), ``overrides``
    Flask settings (tests), ``finder`` replaces plugin discovery (tests of broken plugins).
    """
    from core.app import build_app

    return build_app(config, overrides=overrides, finder=finder)


__all__ = ["create_app", "hookimpl", "hookspec"]

# marshmallow's messages become the catalog's before any schema declares a field.
from core import i18n as _i18n  # noqa: E402,F401
