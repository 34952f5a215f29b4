"""Permissions: plugins declare strings, roles (per hospital) hold them, views require them.

A user may do X when one of their roles holds X *and* the plugin that declared X is live for
their hospital (a disabled plugin's grants stay in the database but count for nothing).
Group administrators hold every permission of live plugins.
"""
from __future__ import annotations

import functools

from flask import abort, current_app, g
from flask_babel import gettext
from flask_login import current_user

from core.declarations import DEFAULT_ROLES, Permission

#: Default roles: code -> (name, data scope). Names are Chinese, the UI's default language.
ROLE_DEFAULTS = {
    "super_admin": ("超级管理员", "hospital"),
    "director": ("院长", "hospital"),
    "dept_manager": ("科室主任", "department"),
    "supervisor": ("主管", "department"),
    "staff": ("员工", "own"),
    "analyst": ("数据分析员", "hospital"),
}
assert tuple(ROLE_DEFAULTS) == DEFAULT_ROLES

_BY_OPERATION = {
    "read": DEFAULT_ROLES,
    "create": ("super_admin", "director", "dept_manager", "supervisor", "staff"),
    "edit": ("super_admin", "director", "dept_manager", "supervisor", "staff"),
    "delete": ("super_admin", "director", "dept_manager"),
    "import": ("super_admin", "dept_manager"),
    "export": ("super_admin", "director", "dept_manager", "supervisor", "analyst"),
    "print": ("super_admin", "director", "dept_manager", "supervisor", "staff", "analyst"),
}


#: Permissions over the whole group that only group administrators hold: roles belong to one
#: hospital, so the role page does not offer these and a grant stored anyway gives nothing.
GROUP_ONLY = frozenset({"core.hospitals.manage"})


def default_roles_for(perm: Permission) -> tuple[str, ...]:
    """Which default roles get ``perm`` when its plugin is enabled for a hospital."""
    if perm.default_roles is not None:
        return tuple(perm.default_roles)
    return _BY_OPERATION.get(perm.name.rsplit(".", 1)[-1], ("super_admin",))


def hcrm():
    """The app's HCRM state (registry, catalog, config)."""
    return current_app.extensions["hcrm"]


def granted_permissions(user) -> set[str]:
    """Permission strings the user's roles hold, before plugin liveness is considered."""
    if user.is_group_admin:
        return set(hcrm().catalog.permissions)
    return {p for role in user.roles for p in role.permissions} - GROUP_ONLY


def effective_permissions(user, live: set[str]) -> set[str]:
    catalog = hcrm().catalog
    return {p for p in granted_permissions(user)
            if catalog.plugin_of_permission(p) in live or catalog.plugin_of_permission(p) == "core"}


def can(permission: str) -> bool:
    """Whether the current request's user holds ``permission`` for the current hospital.

    Reads only the set ``core.web`` computed when the request began (empty unless a user
    signed in): list serialisers call this for every row, and the user proxy costs more."""
    return permission in g.get("hcrm_permissions", ())


def denied(permission: str) -> str:
    """The refusal a user reads: the permission's title in their language, and its name for the
    administrator they will ask."""
    perm = hcrm().catalog.permissions.get(permission)
    title = str(perm.title) if perm is not None else permission
    return gettext("You do not have the permission “%(title)s” (%(name)s).", title=title, name=permission)


def require(permission: str):
    """View decorator: login, then ``permission`` (403 without it). Recorded on the view so the
    generic plugin suite and the menu checks know what each route needs."""

    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not can(permission):
                abort(403, description=denied(permission))
            return view(*args, **kwargs)

        wrapped.hcrm_permission = permission
        return wrapped

    return decorator


def public(view):
    """View decorator for a page anyone may open without signing in (a plugin's public form,
    e.g. a complaint form reached by a QR code in a ward). The core then neither asks for a
    sign-in nor answers 404 by the signed-in user's hospital: the view names its hospital itself
    (from its URL), must check that its plugin is live there (``core.activation.live_plugins``)
    and works inside ``core.tenancy.hospital_scope`` of that hospital. Throttle what it accepts."""
    view.hcrm_public = True
    return view


def is_public(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint or "")
    return bool(getattr(view, "hcrm_public", False))


def required_permission(endpoint: str) -> str | None:
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "hcrm_permission", None)


def explain(user, permission: str, live: set[str]) -> list[str]:
    """Why ``user`` may or may not use ``permission``: the answer an administrator needs."""
    catalog = hcrm().catalog
    perm = catalog.permissions.get(permission)
    if perm is None:
        return [gettext("no plugin declares the permission '%(name)s'", name=permission)]
    reasons = []
    if perm.plugin != "core" and perm.plugin not in live:
        reasons.append(gettext("plugin '%(plugin)s' is not enabled for hospital %(hospital)s",
                               plugin=perm.plugin, hospital=user.hospital.code))
    if not user.active:
        reasons.append(gettext("the account is deactivated"))
    if user.is_group_admin:
        reasons.append(gettext("the user is a group administrator and holds every permission"))
    else:
        holders = [r.name for r in user.roles if permission in r.permissions]
        if holders:
            reasons.append(gettext("granted by role(s): %(roles)s", roles=", ".join(holders)))
        else:
            roles = ", ".join(r.name for r in user.roles) or gettext("none")
            reasons.append(gettext("none of the user's roles grants it (roles: %(roles)s)", roles=roles))
    return reasons
