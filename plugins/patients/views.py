"""Patient pages (owned by the UI work in progress)."""
from flask import Blueprint

bp = Blueprint("patients", __name__, url_prefix="/patients", template_folder="templates")
