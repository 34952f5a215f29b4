"""Import and export of patients."""
from flask import Blueprint

bp = Blueprint("patients_transfer", __name__, url_prefix="/patients/transfer")
