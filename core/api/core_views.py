"""The core's endpoints: who am I, the hospital's plugins (list, enable, disable), the OpenAPI document."""
from __future__ import annotations

from flask import abort, current_app, g, jsonify
from flask_babel import gettext as _
from flask_login import current_user

from core import activation
from core.api import bp
from core.api.openapi import document
from core.api.schemas import ActivationResultSchema, MeSchema, PluginListSchema
from core.api.toolkit import api_route
from core.permissions import hcrm
from core.tenancy import current_scope
from core.web import json_error


@api_route(bp, "/me", response=MeSchema, tags=("auth",))
def me():
    """Who am I.

    The caller, the hospital they act for, its live plugins and the caller's effective
    permissions there.
    """
    order = list(hcrm().registry.infos)
    scope = current_scope()
    return {"user": current_user, "hospital": g.hcrm_hospital,
            "data_scope": scope.level if scope else None,
            "plugins": [name for name in order if name in g.hcrm_live],
            "permissions": sorted(g.hcrm_permissions)}


@api_route(bp, "/plugins", permission="core.plugins.read", response=PluginListSchema, tags=("plugins",))
def list_plugins():
    """List plugins.

    Every installed plugin with its state for the caller's hospital, and the third-party
    plugins that failed to load.
    """
    rows = activation.overview(g.hcrm_hospital)
    api_state = {"live": "enabled", "disabled": "disabled", "never": "never"}
    plugins = [dict(name=r.name, title=r.title, version=r.version, summary=r.summary, depends=r.depends,
                    source=r.source, state=api_state[r.state], changed_at=r.changed_at)
               for r in sorted(rows, key=lambda r: r.name) if r.state != "broken"]
    return {"plugins": plugins, "broken": list(hcrm().registry.broken)}


def _change(name: str, enabled: bool):
    if not activation.is_known(name):
        abort(404, description=_("No plugin named “%(name)s” is installed.", name=name))
    try:
        report = activation.switch(g.hcrm_hospital, name, enabled, user_id=current_user.id)
    except activation.ActivationError as exc:
        return json_error(409, str(exc))
    return {"messages": [str(m) for m in report.messages], "changed": report.changed}


@api_route(bp, "/plugins/<name>/enable", methods=("POST",), permission="core.plugins.manage",
           response=ActivationResultSchema, errors=(409,), tags=("plugins",))
def enable_plugin(name):
    """Enable a plugin for my hospital.

    Also enables the plugins it depends on (listed in `messages`). 409 when the plugin
    failed to load; nothing is written then.
    """
    return _change(name, True)


@api_route(bp, "/plugins/<name>/disable", methods=("POST",), permission="core.plugins.manage",
           response=ActivationResultSchema, errors=(409,), tags=("plugins",))
def disable_plugin(name):
    """Disable a plugin for my hospital.

    Its data is kept. 409, writing nothing, while an enabled plugin depends on it.
    """
    return _change(name, False)


@api_route(bp, "/openapi.json", public=True, tags=("meta",))
def openapi_json():
    """The OpenAPI 3.0.3 document of this API.

    Covers the core and every installed plugin's endpoints (a plugin's endpoints answer 404
    for a hospital that has not enabled it).
    """
    return jsonify(document(current_app))
