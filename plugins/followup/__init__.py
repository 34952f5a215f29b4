"""随访中心 — the follow-up centre.

Two parts share the plugin's tables (models.py):
- ``planning``: plans and rounds, rules (回访曲线) that plan from visits, the work queue,
  escalation, methods/categories/settings, plan statistics;
- ``outreach``: phrases, SMS templates and the SMS outbox/gateways, satisfaction surveys and
  their statistics.
Each part exposes the same declaration functions; this module only gathers them into hooks.
"""
from core import hookimpl
from plugins.followup import models, outreach, planning

PARTS = (planning, outreach)


def _gather(name: str) -> list:
    return [item for part in PARTS for item in getattr(part, name)()]


@hookimpl
def hcrm_hookspecs():
    return outreach.hookspecs()


@hookimpl
def hcrm_models():
    return models.MODELS


@hookimpl
def hcrm_permissions():
    return _gather("permissions")


@hookimpl
def hcrm_menus():
    return _gather("menus")


@hookimpl
def hcrm_blueprints():
    return _gather("blueprints")


@hookimpl
def hcrm_reports():
    return _gather("reports")


@hookimpl
def hcrm_dashboard_widgets():
    return _gather("widgets")


@hookimpl
def hcrm_panels():
    return _gather("panels")


@hookimpl
def hcrm_jobs():
    return _gather("jobs")


@hookimpl
def hcrm_cli_commands(cli):
    for part in PARTS:
        part.cli_commands(cli)


@hookimpl
def hcrm_enable(hospital):
    for part in PARTS:
        part.enable(hospital)


@hookimpl
def hcrm_demo_data(hospital):
    for part in PARTS:
        part.demo_data(hospital)


@hookimpl
def patients_visits_recorded(hospital_id, visit_ids):
    planning.visits_recorded(hospital_id, visit_ids)


@hookimpl
def patients_visit_deleted(hospital_id, visit_id, patient_id):
    planning.visit_deleted(visit_id)


@hookimpl
def patients_visits_backfill(hospital_id, since, report):
    planning.visits_backfill(hospital_id, since, report)


@hookimpl
def patients_patient_merged(source, target):
    for part in PARTS:
        part.patient_merged(source, target)


@hookimpl
def followup_plans_requested(hospital_id, requests):
    from plugins.followup.planning.requests import plan_requests
    plan_requests(hospital_id, requests)


@hookimpl
def followup_satisfaction(hospital_id):
    from plugins.followup.outreach.satisfaction import by_patient
    return by_patient(hospital_id)
