"""The "Follow-up" tab on the patient page: the patient's plans with their rounds."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template
from markupsafe import Markup
from sqlalchemy.orm import selectinload

from core.extensions import db
from plugins.followup.models import Plan, Round
from plugins.followup.planning.plan_services import STATUS_LABELS, is_overdue, local_now

PANEL_PLANS = 30


def render_patient_panel(patient):
    plans = db.session.execute(
        sa.select(Plan).where(Plan.patient_id == patient.id)
        .options(selectinload(Plan.category), selectinload(Plan.method), selectinload(Plan.owner),
                 selectinload(Plan.rounds).selectinload(Round.user), selectinload(Plan.rounds).selectinload(Round.method))
        .order_by(Plan.due_at.desc(), Plan.id.desc()).limit(PANEL_PLANS)).scalars().all()
    return Markup(render_template("followup/planning/_patient_panel.html", patient=patient, plans=plans,
                                  now=local_now(), is_overdue=is_overdue, PLAN_STATUS_LABELS=STATUS_LABELS,
                                  limit=PANEL_PLANS))
