"""随访中心 — the follow-up centre: plans and rounds, rules (回访曲线) that plan from visits, the
work queue, phrases, SMS, satisfaction surveys and their statistics.

This module only wires hooks; the work is in the services modules.
"""
from core import hookimpl
from plugins.followup import models


@hookimpl
def hcrm_models():
    return models.MODELS
