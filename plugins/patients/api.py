"""Patients API (/api/v1/patients)."""
from flask import Blueprint

bp = Blueprint("patients_api", __name__, url_prefix="/api/v1/patients")
