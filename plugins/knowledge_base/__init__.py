"""医院知识库 — the hospital knowledge base: typed articles (health education, medication advice,
discharge and post-operative care, SMS texts, FAQ) with Chinese full-text search, versions and a
review flow, group-shared articles, import from spreadsheets, printable handouts, and a content
source for the follow-up centre's SMS and round forms (``followup_content_sources``).

This module only wires hooks; the work is in services.py, search.py, transfer.py and the views.
"""
from core import hookimpl
from core.declarations import MenuItem, Panel, Permission, Task
from core.i18n import lazy_gettext as _l

from . import models

EDITORS = ("super_admin", "director", "dept_manager", "supervisor", "staff")
REVIEWERS = ("super_admin", "director", "dept_manager")


@hookimpl
def hcrm_models():
    return models.MODELS


@hookimpl
def hcrm_permissions():
    return [
        Permission("knowledge_base.read", _l("Read knowledge base articles")),
        Permission("knowledge_base.edit", _l("Write knowledge base articles"), EDITORS),
        Permission("knowledge_base.publish", _l("Review and publish knowledge base articles"), REVIEWERS),
        Permission("knowledge_base.manage", _l("Manage article types and medical terms"), ("super_admin",)),
        Permission("knowledge_base.group_edit", _l("Write articles shared by the whole group"), ("super_admin",)),
        Permission("knowledge_base.import", _l("Import knowledge base articles")),
        Permission("knowledge_base.export", _l("Export knowledge base articles")),
    ]


@hookimpl
def hcrm_menus():
    return [
        MenuItem("knowledge_base", _l("Knowledge base"), parent="crm", order=60, icon="journal-medical"),
        MenuItem("knowledge_base.articles", _l("Articles"), endpoint="knowledge_base.index",
                 permission="knowledge_base.read", parent="knowledge_base", order=10, icon="journal-text"),
        MenuItem("knowledge_base.import", _l("Import articles"), endpoint="knowledge_base.import_upload",
                 permission="knowledge_base.import", parent="knowledge_base", order=20, icon="upload"),
        MenuItem("knowledge_base.types", _l("Article types"), endpoint="knowledge_base.types",
                 permission="knowledge_base.manage", parent="knowledge_base", order=30, icon="tags"),
        MenuItem("knowledge_base.terms", _l("Medical terms"), endpoint="knowledge_base.terms",
                 permission="knowledge_base.manage", parent="knowledge_base", order=40, icon="spellcheck"),
    ]


@hookimpl
def hcrm_blueprints():
    from . import api, views
    return [views.bp, api.bp]


@hookimpl
def hcrm_reports():
    from .reports import reports
    return reports()


@hookimpl
def hcrm_panels():
    from .panel import render_patient_panel
    return [Panel("knowledge_base.patient", target="patients.patient", title=_l("Health education"),
                  permission="knowledge_base.read", render=render_patient_panel, order=80)]


@hookimpl
def hcrm_jobs():
    from .transfer import import_task
    return [Task("knowledge_base.import", _l("Import knowledge base articles"), run=import_task)]


@hookimpl
def hcrm_enable(hospital):
    from .services import seed_types
    seed_types()


@hookimpl
def hcrm_demo_data(hospital):
    from .demo import demo_data
    demo_data(hospital)


@hookimpl
def followup_content_sources():
    from .content import KnowledgeBaseSource
    return [KnowledgeBaseSource()]
