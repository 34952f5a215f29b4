"""Reports registry pages."""
from flask import Blueprint, render_template

from core.permissions import require

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.route("/")
@require("core.reports.read")
def index():
    return render_template("core/error.html", code=200, title="Reports", message="")
