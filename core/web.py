"""Per-request wiring: who the user is, which hospital and scope apply, which plugins are live.

Everything hospital-specific is decided here once per request and kept on ``g``:
``g.hcrm_hospital``, ``g.hcrm_live`` (live plugin names), ``g.hcrm_permissions`` and the
tenancy scope. Requests to a plugin's blueprint are 404 when it is not live for the hospital.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, abort, g, jsonify, render_template, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, NotFound

from core import audit_labels, autocommit_reads, clock, tenancy
from core.activation import live_for
from core.extensions import db, login_manager
from core.menus import build_menu
from core.models import Department, Hospital, User
from core.permissions import effective_permissions, hcrm, is_public
from core.plugins import CORE

LEVEL_RANK = {level: i for i, level in enumerate(tenancy.LEVELS)}

# The error page's heading and default text: Werkzeug's names and stock descriptions are English.
ERROR_TITLES = {400: _l("Bad request"), 401: _l("Sign-in required"), 403: _l("Access denied"),
                404: _l("Page not found"), 405: _l("Method not allowed"), 409: _l("Conflict"),
                413: _l("Request too large"), 422: _l("Not saved"), 429: _l("Too many requests"), 500: _l("Server error")}
ERROR_MESSAGES = {
    400: _l("The request could not be understood; go back and try again."),
    403: _l("You may not open this page."),
    404: _l("The page does not exist, or it is not available in this hospital."),
    405: _l("This page does not accept that kind of request."),
    413: _l("The data sent is too large."),
    429: _l("Too many requests; wait a moment and try again."),
    500: _l("An unexpected error occurred; it has been logged. Nothing was saved."),
}


#: Pages for people that live under /api/ next to what they describe (the API reference): they
#: sign in with the session like every page, not with a bearer token, and answer errors in HTML.
API_PAGES = frozenset({"/api/v1/docs"})


def is_api_request() -> bool:
    return request.path.startswith("/api/") and request.path not in API_PAGES


@login_manager.user_loader
def load_user(session_id: str):
    """The user of a session or remember-me cookie (``User.get_id``: id.epoch.fingerprint), or
    None when the account ended its sessions since (core.auth.end_sessions) or is inactive. The
    epoch is a column of the row loaded anyway: the check costs no query."""
    parts = (session_id or "").split(".")
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() and len(p) < 16 for p in parts[:2]):
        return None  # tampered, or a cookie from before session epochs: sign in again
    ident, epoch, fingerprint = parts
    with tenancy.system_scope():
        user = db.session.get(User, int(ident))
        if user is None or not user.active or not user.hospital.active:
            return None
        if int(epoch) != user.session_epoch or fingerprint != user.session_fingerprint:
            return None
        return user


@login_manager.unauthorized_handler
def unauthorized():
    from flask import redirect, url_for
    if is_api_request():
        response = json_error(401, _("Authentication required: send 'Authorization: Bearer <token>'."))
        response.headers["WWW-Authenticate"] = 'Bearer realm="hcrm"'
        return response
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


#: The API's hospital choice: a group administrator's token acts in one hospital per request.
HOSPITAL_HEADER = "X-HCRM-Hospital"


def current_hospital_for(user) -> Hospital:
    """The hospital a request works in: the one a group admin switched to (pages) or names in
    the ``X-HCRM-Hospital`` header (API); everyone else's own."""
    if is_api_request():
        return api_hospital_for(user, request.headers.get(HOSPITAL_HEADER))
    if user.is_group_admin and session.get("hospital_id"):
        with tenancy.system_scope():
            chosen = db.session.get(Hospital, session["hospital_id"])
        if chosen is not None and chosen.active:
            return chosen
    return user.hospital


def api_hospital_for(user, code: str | None) -> Hospital:
    """The hospital an API request acts for: the token user's own unless the header names
    another by its code — which only a group administrator may, among the active hospitals.
    An unknown or inactive code is a 400, another hospital for anyone else a 403: the API never
    falls back silently to a hospital the caller did not ask for."""
    code = (code or "").strip()
    if not code or code == user.hospital.code:
        return user.hospital
    if not user.is_group_admin:  # checked first: no answer tells a hospital's users which codes exist
        abort(403, description=_("%(header)s: only group administrators may act for another hospital.",
                                 header=HOSPITAL_HEADER))
    chosen = None
    if len(code) <= 32:  # the column's length: a longer code names no hospital
        with tenancy.system_scope():
            chosen = db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one_or_none()
    if chosen is None or not chosen.active:
        abort(400, description=_("%(header)s: there is no active hospital with the code “%(code)s”.",
                                 header=HOSPITAL_HEADER, code=code[:40]))
    return chosen


def scope_for(user, hospital: Hospital) -> tenancy.Scope:
    """The request's scope: always the one hospital it works in. A group administrator keeps
    the level ``group`` (every record of that hospital, and the right to opt in to the whole
    group with :class:`core.tenancy.group_wide`), but lists, cards, reports and exports follow
    the hospital they chose, like everyone else's."""
    level = "group" if user.is_group_admin else max(
        (r.data_scope for r in user.roles if r.hospital_id == user.hospital_id),
        key=lambda lv: LEVEL_RANK.get(lv, 0), default="own")
    departments: frozenset[int] = frozenset()
    if level in ("own", "department") and user.department_id:
        departments = descendant_departments(hospital.id, user.department_id)
    return tenancy.Scope(hospital_id=hospital.id, hospital_ids=frozenset({hospital.id}),
                         level=level, user_id=user.id, department_ids=departments,
                         group_writer=level == "group")


def descendant_departments(hospital_id: int, root_id: int) -> frozenset[int]:
    """A department and every department under it (a manager sees the sub-units too)."""
    with tenancy.hospital_scope(hospital_id):
        pairs = db.session.execute(sa.select(Department.id, Department.parent_id)).all()
    children: dict[int | None, list[int]] = {}
    for dep_id, parent in pairs:
        children.setdefault(parent, []).append(dep_id)
    found, stack = set(), [root_id]
    while stack:
        dep = stack.pop()
        if dep not in found:
            found.add(dep)
            stack.extend(children.get(dep, ()))
    return frozenset(found)


def enter_request_scope() -> None:
    g.hcrm_live = set()
    g.hcrm_permissions = set()
    g.hcrm_hospital = None
    autocommit_reads.for_request(hcrm().autocommit_engine, is_api_request())
    if is_api_request():
        # The API is token-only: the bearer token decides, never a session or remember-me cookie
        # a browser also sends (so CSRF cannot apply, and a token is not shadowed by a cookie).
        from core.auth import load_user_from_bearer
        login_manager._update_request_context_with_user(load_user_from_bearer(request))
    user = current_user
    if user.is_authenticated:
        hospital = current_hospital_for(user)
        with tenancy.system_scope():
            g.hcrm_live = live_for(hospital)
        g.hcrm_hospital = hospital
        g.hcrm_permissions = effective_permissions(user, g.hcrm_live)
        g.hcrm_scope_token = tenancy._current.set(scope_for(user, hospital))
    plugin = hcrm().catalog.blueprint_plugin.get(request.blueprint or "")
    if plugin and plugin != CORE and not is_public(request.endpoint):
        if not user.is_authenticated:
            return login_manager.unauthorized()
        if plugin not in g.hcrm_live:
            raise NotFound()
    return None


def leave_request_scope(exc=None) -> None:
    autocommit_reads.for_request(None, False)  # an app context outliving the request (tests) is not one
    token = g.pop("hcrm_scope_token", None)
    if token is not None:
        try:
            tenancy._current.reset(token)
        except ValueError:  # reset from another context (streamed responses): just clear it
            tenancy._current.set(None)


def json_error(status: int, message: str, **extra):
    response = jsonify({"error": {"status": status, "message": message, **extra}})
    response.status_code = status
    return response


def _api_message(exc: HTTPException) -> str:
    """An API error's message in the client's language (Accept-Language) when Werkzeug would
    answer its stock English sentence; a view's own description is kept."""
    if exc.description != type(exc).description:
        return exc.description or exc.name
    if exc.code == 404:
        return _("Not found: no such endpoint, or no such record for your hospital.")
    if exc.code == 405:
        return _("This endpoint does not accept the method %(method)s; it accepts %(allowed)s.",
                 method=request.method, allowed=", ".join(sorted(getattr(exc, "valid_methods", None) or ())))
    return str(ERROR_TITLES.get(exc.code, exc.name))


def handle_http_error(exc: HTTPException):
    message = exc.description or exc.name
    if is_api_request():
        response = json_error(exc.code or 500, _api_message(exc))
        if getattr(exc, "valid_methods", None):  # 405 must say what is allowed
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response
    if isinstance(exc, CSRFError):
        # Flask-WTF's reason ("The CSRF token is missing.") stays as a detail for IT support.
        message = _("The form has expired; reload the page and try again (%(reason)s).", reason=exc.description)
    elif exc.description == type(exc).description:  # Werkzeug's stock English text
        message = str(ERROR_MESSAGES.get(exc.code, message))
    title = str(ERROR_TITLES.get(exc.code, exc.name))
    return render_template("core/error.html", code=exc.code, title=title, message=message), exc.code


def handle_write_refused(exc: tenancy.WriteRefused):
    """A write the tenancy layer refused (a row or a reference of another hospital): a crafted
    request or a plugin's missing check, answered with the reason; nothing was saved."""
    db.session.rollback()
    message = exc.message.translated() if hasattr(exc.message, "translated") else str(exc.message)
    if is_api_request():
        return json_error(exc.status, message)
    title = str(ERROR_TITLES.get(exc.status, ERROR_TITLES[400]))
    return render_template("core/error.html", code=exc.status, title=title, message=message), exc.status


def handle_unexpected(exc: Exception):
    db.session.rollback()
    from flask import current_app
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    message = _("An unexpected error occurred; it has been logged. Nothing was saved.")
    if is_api_request():
        return json_error(500, message)
    return render_template("core/error.html", code=500, title=_("Server error"), message=message), 500


def template_context() -> dict:
    from core.permissions import can
    hospital = g.get("hcrm_hospital")
    switchable = []
    if current_user.is_authenticated and current_user.is_group_admin:
        with tenancy.system_scope():
            switchable = db.session.execute(
                sa.select(Hospital).where(Hospital.active.is_(True)).order_by(Hospital.code)).scalars().all()
    config = hcrm().config
    labels = {"zh_CN": "中文", "en": "English"}
    return dict(
        hcrm_menu=build_menu(g.get("hcrm_permissions", set()), g.get("hcrm_live", set()), request.path)
        if current_user.is_authenticated else [],
        current_hospital=hospital,
        whole_group=tenancy.is_group_wide(),
        offers_whole_group=tenancy.may_widen(),
        switchable_hospitals=switchable,
        current_locale=str(session.get("locale") if session.get("locale") in config.locales else config.default_locale),
        available_locales=[(code, labels.get(code, code)) for code in config.locales],
        can=can,
        unread_notifications=_unread_notifications(hospital),
    )


def _unread_notifications(hospital) -> int:
    """The bell's count: one indexed count per page, in the hospital the user works in."""
    if hospital is None or not current_user.is_authenticated or tenancy.current_scope() is None:
        return 0
    from core.notifications import unread_count
    return unread_count(current_user.id)


# Every asset is HCRM's own: scripts only from its files (no inline script or handler, no eval;
# the templates ask for behaviour with data attributes, core/static/hcrm.js), style sheets only
# from its files. Inline style *attributes* stay allowed (a progress bar's width, a tree's
# indent); style-src-elem keeps <style> elements out where browsers know it. data: images are
# Bootstrap's inline SVG icons.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "style-src-elem 'self'",
    "img-src 'self' data:", "font-src 'self'", "connect-src 'self'", "object-src 'none'", "base-uri 'self'",
    "form-action 'self'", "frame-ancestors 'none'"))


def security_headers(response):
    """Patient data must not be framed, sniffed, cached by proxies or leaked through referrers,
    and an injected script must not run (Content-Security-Policy)."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    is_asset = (request.endpoint or "").endswith("static")
    if not is_asset and current_user and getattr(current_user, "is_authenticated", False):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "strong"
    app.before_request(enter_request_scope)
    app.teardown_request(leave_request_scope)
    app.after_request(security_headers)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(tenancy.WriteRefused, handle_write_refused)
    app.register_error_handler(Exception, handle_unexpected)
    app.context_processor(template_context)
    # One way to show a time (core.clock): ``stamp`` for UTC bookkeeping stamps, ``wall`` for
    # times already on the hospitals' clock; ``local_time`` converts without formatting.
    app.add_template_filter(clock.utc_to_local, "local_time")
    app.add_template_filter(clock.show_stamp, "stamp")
    app.add_template_filter(clock.show_wall, "wall")
    audit_labels.init_app(app)

    from core.views import register_core_blueprints
    register_core_blueprints(app)
