"""The vip plugin's declarations (permissions, menus, jobs, panels, cards, reports), gathered
into hooks by plugins/vip/__init__.py; the work lives in the services modules."""
from __future__ import annotations

from datetime import timedelta

from core.declarations import Job, MenuItem, Panel, Permission, Task, Widget
from core.i18n import lazy_gettext as _l

MANAGERS = ("super_admin", "director")
RETIER_TASK = "vip.retier"
RESCORE_TASK = "vip.rescore"
SERVICE_TASK = "vip.service_tasks"


def permissions():
    return [
        Permission("vip.read", _l("View VIP tiers, members, customer value and churn warnings")),
        Permission("vip.manage", _l("Manage VIP tiers, tier rules, value rules and referrer grades"), MANAGERS),
        Permission("vip.members", _l("Change a member's VIP tier"), MANAGERS + ("dept_manager", "supervisor")),
        Permission("vip.rescore", _l("Apply re-tiering and re-score customer value"), MANAGERS + ("dept_manager",)),
        Permission("vip.tasks", _l("Work VIP service tasks"), MANAGERS + ("dept_manager", "supervisor", "staff")),
    ]


def menus():
    return [
        MenuItem("vip", _l("Marketing"), parent="crm", order=40, icon="gem"),
        MenuItem("vip.members", _l("VIP members"), endpoint="vip.members", permission="vip.read", parent="vip",
                 order=10, icon="people"),
        MenuItem("vip.churn", _l("Churn warnings"), endpoint="vip.churn", permission="vip.read", parent="vip",
                 order=20, icon="exclamation-triangle"),
        MenuItem("vip.value", _l("Customer value"), endpoint="vip.value", permission="vip.read", parent="vip",
                 order=30, icon="graph-up"),
        MenuItem("vip.referrers", _l("Referrer grades"), endpoint="vip.referrers", permission="vip.read",
                 parent="vip", order=40, icon="award"),
        MenuItem("vip.tasks", _l("VIP service tasks"), endpoint="vip.tasks", permission="vip.tasks",
                 parent="vip", order=15, icon="check2-square"),
        MenuItem("vip.plans", _l("VIP service plans"), endpoint="vip.plans", permission="vip.manage",
                 parent="vip", order=62, icon="calendar-heart"),
        MenuItem("vip.tiers", _l("VIP tiers and rules"), endpoint="vip.tiers", permission="vip.manage",
                 parent="vip", order=60, icon="sliders"),
        MenuItem("vip.retier", _l("Re-tier members"), endpoint="vip.retier", permission="vip.rescore",
                 parent="vip", order=65, icon="arrow-down-up"),
        MenuItem("vip.value_rules", _l("Value rules"), endpoint="vip.value_rules", permission="vip.manage",
                 parent="vip", order=70, icon="list-ol"),
    ]


def blueprints():
    from plugins.vip import api, views
    return [views.bp, api.bp]


def jobs():
    from plugins.vip import retier, service_plans, value
    return [Task(RETIER_TASK, _l("Re-tier VIP members"), run=retier.run_task),
            Task(RESCORE_TASK, _l("Re-score customer value"), run=value.run_task),
            Task(SERVICE_TASK, _l("Generate VIP service tasks"), run=service_plans.run_task),
            Job("vip.daily_service_tasks", _l("Generate VIP service tasks (daily)"), every=timedelta(days=1),
                run=service_plans.run_task),
            Job("vip.nightly_retier", _l("Re-tier VIP members (nightly)"), every=timedelta(days=1),
                run=retier.run_task),
            Job("vip.nightly_rescore", _l("Re-score customer value (nightly)"), every=timedelta(days=1),
                run=value.run_task)]


def panels():
    from plugins.vip.panel import render_patient_panel
    return [Panel("vip.patient", target="patients.patient", title=_l("VIP & value"), permission="vip.read",
                  render=render_patient_panel, order=50)]


def widgets():
    from plugins.vip.panel import churn_card
    return [Widget("vip.churn", permission="vip.read", render=churn_card, order=60)]


def reports():
    from plugins.vip.statistics import reports as declared
    return declared()
