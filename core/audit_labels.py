"""What the audit log calls models and fields, in the reader's language.

An audit row names a model class (``Patient``) and column keys (``insurance_no``). They are shown
humanised ("Insurance no") and translated in the catalog of the plugin that owns the model, then
the core's: a plugin's own words win ("Kind": 题型 for a survey question), and :data:`WORDS`
gives the core's catalog the words models use most, so every plugin gets them. A model may name
itself with ``__hcrm_label__`` (a lazy string) and a column with ``info={"label": ...}``.
"""
from __future__ import annotations

import re

from flask import has_app_context


def N_(text: str) -> str:  # the extraction keyword (scripts/i18n.sh -k N_)
    """Marks a word for the catalog without translating it here."""
    return text


WORDS = (
    N_("Amount"), N_("Amount spent"), N_("Answered at"), N_("Api token"), N_("Applies from"), N_("Args"),
    N_("Article"), N_("Article stat"), N_("Article type"), N_("Article version"), N_("Assigned department"),
    N_("Assignee role"), N_("Assignee user"), N_("At"), N_("Attempts"), N_("Author name"), N_("Batch size"),
    N_("Below since"), N_("Body"), N_("Body tokens"), N_("Calendar day"), N_("Changed at"), N_("Changed by"),
    N_("Channel"), N_("Charge"), N_("Choices"), N_("Churn"), N_("Churn single visit days"), N_("Closed at"),
    N_("Complainant name"), N_("Complaint attachment"), N_("Complaint category"), N_("Complaint channel"),
    N_("Complaint comment"), N_("Complaint staff"), N_("Complaint transition"), N_("Completeness"),
    N_("Computed at"), N_("Content type"), N_("Created at"), N_("Created by"), N_("Cursor key"),
    N_("Cursor key type"), N_("Cursor type"), N_("Cursor value"), N_("Custom"), N_("Days after"),
    N_("Decided at"), N_("Decided by"), N_("Diagnosis"), N_("Direction"), N_("Discharge at"), N_("Disease"),
    N_("Disease origin"), N_("Doctor name"), N_("Done at"), N_("Done by"), N_("Due at"), N_("Due date"),
    N_("Due soon days"), N_("Enabled"), N_("Entity"), N_("Error"), N_("Errors"), N_("Escalate after hours"),
    N_("Escalated at"), N_("Event date"), N_("Expires at"), N_("Explicit"), N_("External"), N_("F"),
    N_("Festival dates"), N_("Filename"), N_("First visit at"), N_("From status"), N_("From tier"),
    N_("Full"), N_("Gateway"), N_("Gateway ref"), N_("Grace days"), N_("Heartbeat at"), N_("Held"),
    N_("Hospital plugin"), N_("Icd codes"), N_("Id"), N_("Id number"), N_("Import job"), N_("Imported"),
    N_("Insurance no"), N_("Is default"), N_("Is group admin"), N_("Job"), N_("Job run"), N_("Key"),
    N_("Key column"), N_("Last error"), N_("Last login at"), N_("Last started at"),
    N_("Last status"), N_("Last success at"), N_("Last test at"), N_("Last test message"),
    N_("Last test ok"), N_("Last test warning"), N_("Last used at"), N_("Last visit at"), N_("Legacy url"),
    N_("Locale"), N_("Login attempt"), N_("M"), N_("Max attempts"), N_("Member"), N_("Merged into"),
    N_("Message"), N_("Min patients"), N_("Min spending"), N_("Min visits"), N_("Moved down"),
    N_("Moved up"), N_("Multi reply days"), N_("Natural key"), N_("Next due at"), N_("Next plan"),
    N_("Number"), N_("Offset minutes"), N_("On time"), N_("Options"), N_("Owner"), N_("Owner user"),
    N_("Parent"), N_("Password changed at"), N_("Password env"), N_("Password hash"), N_("Past history"),
    N_("Path"), N_("Patient"), N_("Phone"), N_("Phone last4"), N_("Phone2"), N_("Pinyin"), N_("Plugin"),
    N_("Plugins version"), N_("Points frequency"), N_("Points profile"), N_("Points recency"),
    N_("Points referral spending"), N_("Points referrals"), N_("Points satisfaction"), N_("Points spending"),
    N_("Position"), N_("Positive"), N_("Previous plan"), N_("Proposed by"), N_("Public attempt"),
    N_("Public intake"), N_("Public max per hour"), N_("Published at"), N_("Query"),
    N_("Questionnaire item"), N_("R"), N_("Raw"), N_("Reason kind"), N_("Received at"),
    N_("Referral spending"), N_("Referrals"), N_("Referrer grade"), N_("Remote addr"), N_("Replied at"),
    N_("Reply days"), N_("Reply method"), N_("Reply text"), N_("Resolution"), N_("Resolved at"),
    N_("Resolved by"), N_("Response"), N_("Response time"), N_("Result"), N_("Retier move"),
    N_("Retier run"), N_("Reviewer name"), N_("Revoked at"), N_("Role permission"), N_("Round"), N_("Rows"),
    N_("Rows read"), N_("Rule disease"), N_("Rule step"), N_("Safety lag"), N_("Sanction"),
    N_("Satisfaction"), N_("Saved at"), N_("Saved by name"), N_("Scale max"), N_("Scale min"),
    N_("Schedule minutes"), N_("Scheduled at"), N_("Score"), N_("Scored at"), N_("Search key"),
    N_("Search vector"), N_("Seeded at"), N_("Seeded permission"), N_("Sends sms"), N_("Sent at"),
    N_("Service plan"), N_("Service task"), N_("Session epoch"), N_("Settings"), N_("Settled on spot"),
    N_("Size"), N_("Sms message"), N_("Sms signature"), N_("Sms template"), N_("Sms text"), N_("Source"),
    N_("Source note"), N_("Source round"), N_("Started at"), N_("Statement timeout"), N_("Stored name"),
    N_("Summary"), N_("Supervisor"), N_("Survey answer"), N_("Survey response"), N_("Survey threshold"),
    N_("Sync claimed at"), N_("Sync token"), N_("Task record"), N_("Tier change"), N_("Tier rule"),
    N_("Timezone"), N_("Title tokens"), N_("To status"), N_("To tier"), N_("Token hash"), N_("Total"),
    N_("Total visits"), N_("Type code"), N_("Unknown diagnoses"), N_("Updated at"), N_("Value item"),
    N_("Visit"), N_("Visit at"), N_("Visit external"), N_("Window months"), N_("Word"), N_("Worker"),
    N_("Working"),
)


def humanize(name: str) -> str:
    """``FollowupPlan`` -> "Followup plan", ``department_id`` -> "Department"."""
    if name.endswith("_id") and len(name) > 3:
        name = name[:-3]
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").strip().lower()
    return words[:1].upper() + words[1:]


def _models() -> dict[str, type]:
    from core.extensions import db
    return {m.class_.__name__: m.class_ for m in db.Model.registry.mappers}


def _domain(model: type | None):
    from core.i18n import _module_domain
    return _module_domain(model.__module__ if model is not None else None)


def model_label(name: str) -> str:
    """The model ``name`` (an audit row's ``model``) as its readers call it."""
    if not has_app_context() or not name:
        return name or ""
    model = _models().get(name)
    own = getattr(model, "__hcrm_label__", None)
    return str(own) if own else _domain(model).gettext(humanize(name))


def field_label(model_name: str, key: str) -> str:
    """A column key of ``model_name`` as its readers call it."""
    if not has_app_context() or not key:
        return key or ""
    model = _models().get(model_name)
    column = getattr(getattr(model, "__table__", None), "c", {}).get(key) if model is not None else None
    own = column.info.get("label") if column is not None else None
    return str(own) if own else _domain(model).gettext(humanize(key))


def init_app(app) -> None:
    app.add_template_global(model_label, "model_label")
    app.add_template_global(field_label, "field_label")
