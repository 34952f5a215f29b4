"""Thin views over core.activation, core.models and core.audit."""
from flask import render_template

from core.admin import bp
from core.permissions import require


@bp.route("/apps")
@require("core.plugins.read")
def apps():
    return render_template("core/error.html", code=200, title="Apps", message="")


@bp.route("/users")
@require("core.users.read")
def users():
    return render_template("core/error.html", code=200, title="Users", message="")


@bp.route("/roles")
@require("core.roles.read")
def roles():
    return render_template("core/error.html", code=200, title="Roles", message="")


@bp.route("/audit")
@require("core.audit.read")
def audit():
    return render_template("core/error.html", code=200, title="Audit", message="")
