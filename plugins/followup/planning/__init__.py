"""The followup plugin's `planning` part: its declarations, gathered by plugins/followup/__init__.py.

Plans and rounds, rules that plan from visits, the work queue, escalation, methods, categories
and settings, plan statistics. Each function returns this part's share (lists of
core.declarations objects); the work lives in the part's services modules (plan_services,
rules, generation, queue, escalation, settings_services), which pages, API and jobs share.
"""
from datetime import timedelta

from core.declarations import Job, MenuItem, Panel, Permission
from core.i18n import lazy_gettext as _l

SUPERVISORS = ("super_admin", "director", "dept_manager", "supervisor")


def permissions():
    return [
        Permission("followup.read", _l("View follow-up plans and the work queue")),
        Permission("followup.create", _l("Plan follow-ups and record rounds")),
        Permission("followup.edit", _l("Change, cancel and reopen follow-up plans")),
        Permission("followup.supervise", _l("See the department's follow-up queue, reassign plans, escalations"),
                   SUPERVISORS),
        Permission("followup.rules", _l("Manage follow-up rules (回访曲线)"), ("super_admin", "director", "dept_manager")),
        Permission("followup.settings", _l("Manage follow-up methods, categories and escalation"), ("super_admin",)),
        Permission("followup.reports", _l("Follow-up statistics"), SUPERVISORS + ("analyst",)),
    ]


def menus():
    return [
        MenuItem("followup", _l("Follow-up centre"), parent="crm", order=30, icon="telephone-outbound"),
        MenuItem("followup.queue", _l("My follow-up queue"), endpoint="followup.queue", permission="followup.read",
                 parent="followup", order=10, icon="list-check"),
        MenuItem("followup.rules", _l("Follow-up rules"), endpoint="followup_rules.index",
                 permission="followup.rules", parent="followup", order=40, icon="diagram-3"),
        MenuItem("followup.methods", _l("Follow-up methods"), endpoint="followup_settings.methods",
                 permission="followup.create", parent="followup", order=80, icon="telephone"),
        MenuItem("followup.settings", _l("Follow-up settings"), endpoint="followup_settings.categories",
                 permission="followup.settings", parent="followup", order=90, icon="sliders"),
    ]


def blueprints():
    from plugins.followup.planning import api, views, views_rules, views_settings
    return [views.bp, views_rules.bp, views_settings.bp, api.bp]


def reports():
    from plugins.followup.planning.statistics import reports as declared
    return declared()


def widgets():
    from plugins.followup.planning.cards import widgets as declared
    return declared()


def panels():
    from plugins.followup.planning.panel import render_patient_panel
    return [Panel("followup.plans", target="patients.patient", title=_l("Follow-up"), permission="followup.read",
                  render=render_patient_panel, order=40)]


def jobs():
    from plugins.followup.planning import birthdays, escalation
    return [Job("followup.escalate", _l("Escalate overdue follow-ups to supervisors"), every=timedelta(minutes=15),
                run=escalation.run_escalation),
            Job("followup.birthdays", _l("Plan birthday greetings for the coming week"), every=timedelta(days=1),
                run=birthdays.run_birthdays)]


def cli_commands(cli):
    """Add this part's commands to the hcrm CLI group (see core.hookspecs.hcrm_cli_commands)."""
    from plugins.followup.planning.cli import register
    register(cli)


def enable(hospital):
    """Seed this part's defaults for a hospital the plugin is enabled for (idempotent)."""
    from plugins.followup.planning.setup import seed_defaults
    seed_defaults(hospital)


def demo_data(hospital):
    """Add demo rows for `hcrm init --demo`."""
    from plugins.followup.planning.demo import load
    load(hospital)


def patient_merged(source, target):
    """Move this part's rows from the merged duplicate ``source`` to ``target``."""
    from plugins.followup.planning.plan_services import move_patient_rows
    move_patient_rows(source, target)


def visits_backfill(hospital_id, since, report):
    """Apply every active rule to the visits since ``since`` too (an importer loaded history)."""
    import sqlalchemy as sa

    from core.extensions import db
    from core.i18n import gettext
    from plugins.followup.models import Rule
    from plugins.followup.planning.rules import apply_since
    active = db.session.execute(sa.select(Rule).where(Rule.active.is_(True))  # the hospital's scope
                                .order_by(Rule.id)).scalars().all()
    made = sum(apply_since(rule, since) for rule in active)
    report.append(gettext("Follow-up: %(rules)d active rules applied, %(plans)d plans made.", rules=len(active),
                          plans=made))


def visits_recorded(hospital_id, visit_ids):
    """Plan follow-ups for these visits by the hospital's active rules (set-based, idempotent)."""
    from plugins.followup.planning.generation import plan_visits
    plan_visits(hospital_id, visit_ids)
