"""Administration pages: Apps (plugins per hospital), departments, users, roles, audit log, jobs.

Templates live in core/templates/admin/ (the app's template folder)."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from core.admin import views, views_hospitals, views_jobs  # noqa: E402,F401  (routes register on import)
