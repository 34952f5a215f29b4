"""营销管理 — VIP tiers and customer value.

Tiers with their rules, service norms and members (tiering.py; retier.py evaluates the rules
set-based in SQL over the whole hospital), customer value scoring with RFM segments and churn
warnings (value.py), referrer grading (referrers.py). This module only wires the declarations
(declare.py) into hooks.
"""
from core import hookimpl
from plugins.vip import declare, models


@hookimpl
def hcrm_models():
    return models.MODELS


@hookimpl
def hcrm_permissions():
    return declare.permissions()


@hookimpl
def hcrm_menus():
    return declare.menus()


@hookimpl
def hcrm_blueprints():
    return declare.blueprints()


@hookimpl
def hcrm_jobs():
    return declare.jobs()


@hookimpl
def hcrm_reports():
    return declare.reports()


@hookimpl
def hcrm_panels():
    return declare.panels()


@hookimpl
def hcrm_dashboard_widgets():
    return declare.widgets()


@hookimpl
def hcrm_enable(hospital):
    from plugins.vip.setup import seed_defaults
    seed_defaults(hospital)


@hookimpl
def hcrm_demo_data(hospital):
    from plugins.vip.demo import load
    load(hospital)


@hookimpl
def patients_patient_merged(source, target):
    from plugins.vip.setup import move_patient_rows
    move_patient_rows(source, target)


@hookimpl
def patients_list_filters():
    from plugins.vip.list_filters import filters
    return filters()
