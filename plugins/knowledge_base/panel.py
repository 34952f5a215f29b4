"""The patient page's "Health education" tab: published articles for the patient's departments
and diagnoses, with "send by SMS" (the follow-up centre's compose page) for those with an SMS version."""
from __future__ import annotations

from flask import render_template
from markupsafe import Markup

from core.permissions import can
from plugins.followup.public import patient_context

from . import services


def render_patient_panel(patient):
    departments, diagnoses = patient_context(patient)
    articles = services.matching_patient(departments, diagnoses)
    return Markup(render_template("knowledge_base/_patient_panel.html", patient=patient, articles=articles,
                                  may_send=can("followup.sms"), departments=departments, diagnoses=diagnoses))
