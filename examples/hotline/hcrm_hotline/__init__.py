"""热线 Hotline — calls to the hospital hotline: the example plugin of docs/plugins.md.

This module only wires hooks; the work is in services.py (shared by the pages, the API, the CLI
and the jobs), views.py, api.py, reports.py and jobs.py.
"""
from datetime import timedelta

from core import hookimpl
from core.declarations import Chart, Job, MenuItem, Panel, PanelTarget, Permission, Report, ReportParam, Task, Widget
from core.i18n import lazy_gettext as _l
from hcrm_hotline import api, demo, jobs, models, reports, services, views
from hcrm_hotline.cli import hotline_cli
from plugins.patients.public import PATIENT_PAGE


@hookimpl
def hcrm_hookspecs():
    from hcrm_hotline import hookspecs
    return hookspecs


@hookimpl
def hcrm_settings(settings, config):
    numbers = settings.group.get("numbers", [])
    if not isinstance(numbers, list):
        raise settings.error(("numbers",), "must be a list of phone numbers")
    per_hospital = {code: s.get("numbers", []) for code, s in settings.hospitals.items()}
    for code, listed in per_hospital.items():
        if not isinstance(listed, list):
            raise settings.error((code, "numbers"), "must be a list of phone numbers", hospital=code)
    return {"numbers": numbers, "per_hospital": per_hospital}


@hookimpl
def hcrm_permissions():
    return [
        Permission("hotline.read", _l("View hotline calls")),        # every default role
        Permission("hotline.create", _l("Record hotline calls")),    # staff and above
        Permission("hotline.edit", _l("Tag hotline calls"), default_roles=("super_admin", "supervisor")),
    ]


@hookimpl
def hcrm_menus():
    return [MenuItem("hotline.calls", _l("Hotline"), endpoint="hotline.index",
                     permission="hotline.read", parent="crm", icon="telephone", order=50)]


@hookimpl
def hcrm_models():
    return [models.Call]


@hookimpl
def hcrm_blueprints():
    return [views.bp, api.bp]


@hookimpl
def hcrm_reports():
    return [Report("hotline.calls_per_day", _l("Hotline calls per day"), "hotline.read",
                   query=reports.calls_per_day, chart=Chart("bar", x="day", y=("calls",)),
                   params=[ReportParam("since", _l("Since"), "date", default=reports.since_a_month_ago,
                                       required=True)])]


@hookimpl
def hcrm_dashboard_widgets():
    return [Widget("hotline.today", permission="hotline.read", render=reports.calls_today_card, order=50)]


@hookimpl
def hcrm_panels():
    return [PanelTarget("hotline.call", _l("Call"), record="hcrm_hotline.models.Call"),   # our call page
            Panel("hotline.calls", target=PATIENT_PAGE, title=_l("Hotline"),            # a tab on the patient's
                  permission="hotline.read", render=views.render_patient_panel)]


@hookimpl
def hcrm_jobs():
    return [Job("hotline.link_calls", _l("Link hotline calls to patients"), every=timedelta(hours=1),
                run=jobs.link_unlinked_calls),
            Task(services.RETAG_TASK, _l("Re-tag calls"), run=jobs.retag_calls, retries=2)]


@hookimpl
def hcrm_event(event):
    if event.name == "patients.patient_created":
        services.link_calls(event.payload["patient_id"])


@hookimpl
def hcrm_cli_commands(cli):
    cli.add_command(hotline_cli)


@hookimpl
def hcrm_demo_data(hospital):
    demo.load(hospital)
