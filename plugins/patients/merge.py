"""Merging duplicate patients."""
from flask import Blueprint

bp = Blueprint("patients_merge", __name__, url_prefix="/patients/merge")
