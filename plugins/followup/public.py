"""What other plugins may use of the follow-up plugin: import from here, nothing else.

A plugin that lists ``followup`` in its manifest's ``depends`` may rely on these names; the rest
of ``plugins.followup`` is private (``tests/test_import_rule.py`` fails on importing it).

* models -- plans, their categories and methods, questionnaires and survey answers, to
  reference and to read;
* ``create_rule(data)`` -- a rule that plans follow-ups for matching visits (the rules page's
  service);
* ``patient_context(patient)`` -- the patient's department names and diagnosis codes, as the
  content picker matches texts to a patient (a knowledge base's articles do).
"""
from __future__ import annotations

from plugins.followup.models import (
    Category,
    Method,
    Plan,
    Question,
    Questionnaire,
    QuestionnaireItem,
    SurveyAnswer,
    SurveyResponse,
)
from plugins.followup.outreach.content import patient_context
from plugins.followup.planning.rules import create_rule

__all__ = ["Category", "Method", "Plan", "Question", "Questionnaire", "QuestionnaireItem", "SurveyAnswer",
           "SurveyResponse", "create_rule", "patient_context"]
