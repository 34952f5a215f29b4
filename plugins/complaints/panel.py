"""The patient page's tab: the patient's complaints and their state (医疗事件投诉). The
complaint query goes through the ORM, so the hospital, the data scope and "not about me" apply."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from markupsafe import Markup

from core.extensions import db

from . import services
from .models import Complaint

PANEL_ROWS = 20


def render_patient_panel(patient):
    rows = db.session.execute(sa.select(Complaint).where(Complaint.patient_id == patient.id)
                              .order_by(Complaint.received_at.desc()).limit(PANEL_ROWS + 1)).scalars().all()
    return Markup(render_template("complaints/_patient_panel.html", patient=patient, complaints=rows[:PANEL_ROWS],
                                  more=len(rows) > PANEL_ROWS, STATUS_LABELS=services.STATUS_LABELS,
                                  is_overdue=services.is_overdue))
