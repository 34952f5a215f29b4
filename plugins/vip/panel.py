"""The "VIP & value" tab on the patient page and the churn dashboard card."""
from __future__ import annotations

import sqlalchemy as sa
from flask import render_template, url_for
from markupsafe import Markup

from core.declarations import WidgetData
from core.extensions import db
from core.i18n import gettext as _
from plugins.vip import tiering, value
from plugins.vip.forms import REASON_LABELS
from plugins.vip.models import Score


def patient_value(patient_id: int) -> dict:
    """A patient's tier, score with its explanation, RFM and churn flag (the panel and the API)."""
    score = value.score_of(patient_id)
    return {"patient_id": patient_id, "member": tiering.member_of(patient_id),
            "score": score.score if score else None, "explanation": value.explain(score) if score else [],
            "r": score.r if score else None, "f": score.f if score else None, "m": score.m if score else None,
            "segment": score.segment if score else None, "churn": bool(score and score.churn),
            "history": tiering.history_of(patient_id), "computed_at": value.settings().scored_at if score else None}


def render_patient_panel(patient):
    return Markup(render_template("vip/_patient_panel.html", patient=patient, info=patient_value(patient.id),
                                  SEGMENT_LABELS=value.SEGMENT_LABELS, REASON_LABELS=REASON_LABELS))


def churn_card() -> WidgetData:
    """Patients flagged by the last re-score, in the user's data scope (their own, their
    department's or the hospital's)."""
    count = db.session.execute(sa.select(sa.func.count()).select_from(Score).where(Score.churn == sa.true())).scalar_one()
    return WidgetData(title=_("Churn warnings"), value=count, icon="exclamation-triangle",
                      subtitle=_("Patients overdue for their usual visit"), url=url_for("vip.churn"))
