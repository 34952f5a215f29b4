"""The core's own pages: dashboard, language and hospital switches; registration of blueprints."""
from __future__ import annotations

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from core import notifications, tenancy
from core.dashboard import widgets_for_current_user
from core.extensions import db
from core.models import Hospital
from core.permissions import hcrm

bp = Blueprint("core", __name__, static_folder="static", static_url_path="/static/core",
               template_folder="templates")


def _back(default_endpoint: str = "core.dashboard") -> str:
    target = request.form.get("next") or request.referrer or ""
    from core.auth import _safe_next
    if target.startswith(request.host_url):
        target = "/" + target[len(request.host_url):]
    return _safe_next(target) if target else url_for(default_endpoint)


@bp.route("/")
@login_required
def dashboard():
    return render_template("core/dashboard.html", widgets=widgets_for_current_user())


@bp.route("/language", methods=["POST"])
def set_language():
    locale = request.form.get("locale", "")
    if locale not in hcrm().config.locales:
        abort(400, description=_("Unknown language “%(locale)s”.", locale=locale))
    session["locale"] = locale
    return redirect(_back())


@bp.route("/hospital", methods=["POST"])
@login_required
def switch_hospital():
    """Group administrators work in one hospital at a time; others cannot switch."""
    if not current_user.is_group_admin:
        abort(403, description=_("Only group administrators can switch hospitals."))
    try:
        hospital_id = int(request.form.get("hospital_id", ""))
    except ValueError:
        abort(400, description=_("Choose a hospital."))
    with tenancy.system_scope():
        hospital = db.session.get(Hospital, hospital_id)
    if hospital is None or not hospital.active:
        abort(404)
    session["hospital_id"] = hospital.id
    return redirect(url_for("core.dashboard"))


@bp.route("/api/v1/docs")
@login_required
def api_docs():
    """The API reference: Swagger UI (vendored) over the app's own OpenAPI document."""
    return render_template("core/api_docs.html")


@bp.route("/notifications")
@login_required
def notifications_page():
    """The signed-in user's own notifications, in the hospital they work in (tenancy)."""
    unread_only = request.args.get("unread") == "1"
    rows = notifications.listing(current_user.id, unread_only=unread_only)
    return render_template("core/notifications.html", rows=rows, unread_only=unread_only)


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def notification_read(notification_id: int):
    """Mark one's own notification read; with ``open=1`` go on to what it links to. Another
    user's (or hospital's) notification is a 404, as if it did not exist."""
    row = notifications.own_or_none(current_user.id, notification_id)
    if row is None:
        abort(404)
    notifications.mark_read(row)
    db.session.commit()
    from core.auth import _safe_next
    if request.form.get("open") == "1" and row.link:
        return redirect(_safe_next(row.link) or url_for("core.notifications_page"))
    return redirect(_back("core.notifications_page"))


@bp.route("/notifications/read-all", methods=["POST"])
@login_required
def notifications_read_all():
    count = notifications.mark_all_read(current_user.id)
    db.session.commit()
    flash(ngettext("%(num)d notification marked read.", "%(num)d notifications marked read.", count), "success")
    return redirect(url_for("core.notifications_page"))


def register_core_blueprints(app: Flask) -> None:
    from core.admin import bp as admin_bp
    from core.api import bp as api_bp
    from core.auth import bp as auth_bp
    from core.reports import bp as reports_bp

    for blueprint in (bp, auth_bp, admin_bp, reports_bp, api_bp):
        app.register_blueprint(blueprint)
