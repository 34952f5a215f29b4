"""The followup plugin's `outreach` part: its declarations, gathered by plugins/followup/__init__.py.

Phrases (短语库), SMS templates, the SMS outbox with pluggable gateways (the plugin publishes
``followup_sms_gateways``), bulk SMS, satisfaction surveys (题库, 问卷, answers, statistics).
The work lives in the part's services modules (phrases, sms_templates, templating, sms, bulk,
gateways, survey_bank, surveys, survey_stats), which pages, jobs and the planning part share.
"""
from datetime import timedelta

from core.declarations import Job, MenuItem, Panel, Permission, Widget
from core.i18n import lazy_gettext as _l

MANAGERS = ("super_admin", "director", "dept_manager")


def permissions():
    return [
        Permission("followup.sms", _l("Send SMS to a patient"),
                   ("super_admin", "director", "dept_manager", "supervisor", "staff")),
        Permission("followup.sms_bulk", _l("Send bulk SMS to a patient list"), MANAGERS),
        Permission("followup.templates", _l("Manage the phrase library and SMS templates"),
                   MANAGERS + ("supervisor",)),
        Permission("followup.surveys", _l("Manage survey questions and questionnaires; survey statistics"),
                   MANAGERS + ("supervisor", "analyst")),
    ]


def menus():
    return [
        MenuItem("followup.phrases", _l("Phrase library"), endpoint="followup_phrases.index",
                 permission="followup.read", parent="followup", order=50, icon="chat-quote"),
        MenuItem("followup.sms_log", _l("SMS log"), endpoint="followup_sms.outbox", permission="followup.read",
                 parent="followup", order=55, icon="envelope"),
        MenuItem("followup.sms_bulk", _l("Bulk SMS"), endpoint="followup_sms.bulk", permission="followup.sms_bulk",
                 parent="followup", order=56, icon="send"),
        MenuItem("followup.sms_templates", _l("SMS templates"), endpoint="followup_sms.templates",
                 permission="followup.templates", parent="followup", order=57, icon="file-earmark-text"),
        MenuItem("followup.surveys", _l("Satisfaction surveys"), endpoint="followup_surveys.questionnaires",
                 permission="followup.surveys", parent="followup", order=60, icon="ui-checks"),
        MenuItem("followup.survey_stats", _l("Survey statistics"), endpoint="followup_surveys.stats",
                 permission="followup.surveys", parent="followup", order=61, icon="bar-chart"),
    ]


def blueprints():
    from plugins.followup.outreach import api, views_phrases, views_sms, views_surveys
    return [views_phrases.bp, views_sms.bp, views_surveys.bp, api.bp]


def reports():
    from plugins.followup.outreach import survey_stats
    return survey_stats.reports()


def widgets():
    from plugins.followup.outreach.cards import sms_month_card
    return [Widget("followup.sms_month", permission="followup.read", render=sms_month_card, order=45)]


def panels():
    from plugins.followup.outreach.patient_tabs import render_sms_panel, render_survey_panel
    return [
        Panel("followup.sms", target="patients.patient", title=_l("SMS"), permission="followup.read",
              render=render_sms_panel, order=42),
        Panel("followup.surveys", target="patients.patient", title=_l("Surveys"), permission="followup.read",
              render=render_survey_panel, order=44),
    ]


def jobs():
    from core.declarations import Task
    from plugins.followup.outreach.bulk import send_batch
    from plugins.followup.outreach.sms import BULK_TASK, deliver_due
    return [Job("followup.send_sms", _l("Send scheduled SMS (and retry failed ones)"), every=timedelta(minutes=1),
                run=deliver_due),
            Task(BULK_TASK, _l("Send a bulk SMS"), run=send_batch)]


def cli_commands(cli):
    """Add this part's commands to the hcrm CLI group (see core.hookspecs.hcrm_cli_commands)."""


def enable(hospital):
    """Seed this part's defaults for a hospital the plugin is enabled for (idempotent)."""
    from plugins.followup.outreach.setup import seed_defaults
    seed_defaults(hospital)


def demo_data(hospital):
    """Add demo rows for `hcrm init --demo`."""
    from plugins.followup.outreach.demo import load
    load(hospital)


def patient_merged(source, target):
    """Move this part's rows from the merged duplicate ``source`` to ``target``."""
    from plugins.followup.outreach.setup import move_patient_rows
    move_patient_rows(source, target)


def hookspecs():
    """The hooks this plugin publishes (the SMS gateway hook), or None."""
    from plugins.followup.outreach.hooks import FollowupHooks
    return FollowupHooks
