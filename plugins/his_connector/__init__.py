"""HIS接口 — the HIS connector: incremental, idempotent, streaming pulls of patients, visits and
charges from the hospital's HIS database into the patients plugin's tables.

This module only wires hooks; the work is in services.py (public API), source.py (reading the
HIS), mapping.py (columns → fields), sync.py (the batch loop) and plugins/patients/bulk.py.
"""
from core import hookimpl
from core.declarations import Permission
from core.i18n import lazy_gettext as _l
from plugins.his_connector import models

MANAGE = "his_connector.manage"
RUN = "his_connector.run"


@hookimpl
def hcrm_settings(settings, config):
    from plugins.his_connector.settings import validate
    return validate(settings, config)


@hookimpl
def hcrm_permissions():
    return [
        Permission(MANAGE, _l("Configure HIS connections and mappings"), ("super_admin",)),
        Permission(RUN, _l("Run HIS syncs and see the run log and quarantine"), ("super_admin", "director")),
    ]


@hookimpl
def hcrm_models():
    return models.MODELS


@hookimpl
def hcrm_dashboard_widgets():
    from plugins.his_connector.reports import widgets
    return widgets()


@hookimpl
def hcrm_jobs():
    from plugins.his_connector.jobs import jobs
    return jobs()


@hookimpl
def hcrm_cli_commands(cli):
    from plugins.his_connector.cli import register
    register(cli)


@hookimpl
def hcrm_blueprints():
    from plugins.his_connector import views, views_runs, views_setup  # noqa: F401  (they add routes to views.bp)
    return [views.bp]


@hookimpl
def hcrm_demo_data(hospital):
    from plugins.his_connector.demo import load
    load(hospital)


@hookimpl
def hcrm_menus():
    from plugins.his_connector.menus import menu_items
    return menu_items()
