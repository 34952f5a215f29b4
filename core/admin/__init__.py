"""Administration pages: Apps (plugins per hospital), users, roles, audit log."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")

from core.admin import views  # noqa: E402,F401  (routes register on import)
