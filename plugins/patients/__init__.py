"""患者档案 — the patient archive: patients, health records, visits, search, import/export.

This module only wires hooks; the work is in services.py, views.py and api.py.
"""
from core import hookimpl
from core.declarations import Permission
from core.i18n import lazy_gettext as _l
from plugins.patients import models, search_index  # noqa: F401  (search_index: its listeners keep the name index)


@hookimpl
def hcrm_jobs():
    from core.declarations import Task
    from plugins.patients.transfer_export import EXPORT_TASK, export_task
    from plugins.patients.transfer_services import IMPORT_TASK, import_task
    return [Task(IMPORT_TASK, _l("Patient import"), run=import_task),
            Task(EXPORT_TASK, _l("Patient export"), run=export_task, as_user="patients.export")]


@hookimpl
def hcrm_hookspecs():
    from plugins.patients.hooks import PatientsHooks
    return PatientsHooks


@hookimpl
def hcrm_permissions():
    return [
        Permission("patients.read", _l("View patients and visits")),
        Permission("patients.create", _l("Register patients and record visits")),
        Permission("patients.edit", _l("Edit patients, health records and visits")),
        Permission("patients.delete", _l("Delete patients without visits")),
        Permission("patients.delete_visits", _l("Delete visits recorded by mistake"),
                   ("super_admin", "director", "dept_manager")),
        Permission("patients.import", _l("Import patients from Excel/CSV")),
        Permission("patients.export", _l("Export the patient list")),
        Permission("patients.print", _l("Print patient records")),
        Permission("patients.view_sensitive", _l("See full phone and ID numbers (each view is logged)"),
                   ("super_admin", "director")),
        Permission("patients.merge", _l("Merge duplicate patients"), ("super_admin", "dept_manager")),
        Permission("patients.settings", _l("Manage sources, regions, referrers and the disease catalogue"),
                   ("super_admin",)),
    ]


@hookimpl
def hcrm_models():
    return models.MODELS


@hookimpl
def hcrm_blueprints():
    from plugins.patients import api, merge, transfer, views
    return [views.bp, api.bp, transfer.bp, merge.bp]


@hookimpl
def hcrm_menus():
    from plugins.patients.menus import menu_items
    return menu_items()


@hookimpl
def hcrm_reports():
    from plugins.patients.reports import reports
    return reports()


@hookimpl
def hcrm_dashboard_widgets():
    from plugins.patients.reports import widgets
    return widgets()


@hookimpl
def hcrm_panels():
    from core.declarations import PanelTarget
    from plugins.patients.public import PATIENT_PAGE
    from plugins.patients.testing import make_patient
    return [PanelTarget(PATIENT_PAGE, _l("Patient record"), record="plugins.patients.models.Patient",
                        example=make_patient)]


@hookimpl
def hcrm_cli_commands(cli):
    from plugins.patients.cli import register
    register(cli)


@hookimpl
def hcrm_demo_data(hospital):
    from plugins.patients.demo import load
    load(hospital)


@hookimpl
def hcrm_enable(hospital):
    from plugins.patients.setup import seed_defaults
    seed_defaults(hospital)
