"""投诉中心 — the complaint centre: intake from every channel (and a public form), working-day
deadlines on the Chinese calendar, the workflow, findings and improvement actions, rewards and
penalties (赏罚), statistics. This module only wires the hooks; the work is in the services."""
from datetime import timedelta

from core import hookimpl
from core.declarations import Job, MenuItem, Panel, Permission
from core.i18n import lazy_gettext as _l
from plugins.complaints import models, visibility  # noqa: F401  (visibility registers its query criterion)

OFFICE = ("super_admin", "director")
HANDLERS = ("super_admin", "director", "dept_manager", "supervisor")


@hookimpl
def hcrm_models():
    return models.MODELS


@hookimpl
def hcrm_permissions():
    return [
        Permission("complaints.read", _l("View complaints")),
        Permission("complaints.create", _l("Take in complaints")),
        Permission("complaints.handle", _l("Handle complaints (accept, assign, investigate, reply)"), HANDLERS),
        Permission("complaints.close", _l("Close complaints"), OFFICE),
        Permission("complaints.reopen", _l("Reopen closed complaints"), OFFICE),
        Permission("complaints.supervise", _l("Be notified of complaints due soon or overdue (complaint office)"),
                   OFFICE),
        Permission("complaints.manage_settings", _l("Manage complaint settings"), ("super_admin",)),
        Permission("complaints.decide_rewards", _l("Approve rewards and penalties"), OFFICE),
        Permission("complaints.view_about_me", _l("See complaints about oneself (complaint office)"), OFFICE),
        Permission("complaints.export", _l("Export complaints")),
    ]


@hookimpl
def hcrm_menus():
    return [
        MenuItem("complaints", _l("Complaints"), parent="crm", icon="megaphone", order=40),
        MenuItem("complaints.list", _l("Complaints"), endpoint="complaints.index", permission="complaints.read",
                 parent="complaints", order=10, icon="list-ul"),
        MenuItem("complaints.new", _l("Take in a complaint"), endpoint="complaints.new",
                 permission="complaints.create", parent="complaints", order=20, icon="plus-circle"),
        MenuItem("complaints.sanctions", _l("Rewards and penalties"), endpoint="complaints.sanctions",
                 permission="complaints.read", parent="complaints", order=30, icon="award"),
        MenuItem("complaints.settings", _l("Complaint settings"), endpoint="complaints.settings",
                 permission="complaints.manage_settings", parent="complaints", order=90, icon="gear"),
    ]


@hookimpl
def hcrm_blueprints():
    from plugins.complaints import api, public, views
    return [views.bp, public.bp, api.bp]


@hookimpl
def hcrm_reports():
    from plugins.complaints import statistics
    return statistics.reports()


@hookimpl
def hcrm_dashboard_widgets():
    from plugins.complaints import cards
    return cards.widgets()


@hookimpl
def hcrm_panels():
    from plugins.complaints.panel import render_patient_panel
    return [Panel("complaints.patient", target="patients.patient", title=_l("Complaints"),
                  permission="complaints.read", render=render_patient_panel, order=50)]


@hookimpl
def hcrm_demo_data(hospital):
    from plugins.complaints.demo import load
    load(hospital)


@hookimpl
def hcrm_jobs():
    from plugins.complaints.escalation import run_escalation
    return [Job("complaints.escalate", _l("Escalate overdue complaints to the complaint office"),
                every=timedelta(hours=1), run=run_escalation)]


@hookimpl
def hcrm_enable(hospital):
    from plugins.complaints.setup import seed_defaults
    seed_defaults(hospital)


@hookimpl
def hcrm_event(event):
    """The satisfaction loop: followup's survey and round events (no import of followup)."""
    if event.name.startswith("followup."):
        from plugins.complaints.satisfaction import handle
        handle(event)


@hookimpl
def patients_patient_merged(source, target):
    from plugins.complaints.services import patient_merged
    patient_merged(source, target)
