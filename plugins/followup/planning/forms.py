"""Flask-WTF forms of the planning pages. Fields only convert what the browser sends; the rules
(choices of this hospital, times, offsets, transitions) are checked by the services, whose
messages land on the fields (``map_errors``)."""
from __future__ import annotations

import sqlalchemy as sa
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, StringField, TextAreaField

from core.extensions import db
from core.i18n import lazy_gettext as _l
from core.models import Role
from plugins.followup.models import Questionnaire
from plugins.followup.planning import settings_services
from plugins.patients.public import KIND_LABELS as VISIT_KIND_LABELS
from plugins.patients.public import NONE, department_choices, options, user_choices

TRIGGER_LABELS = {"discharged": _l("When the patient is discharged"), "recorded": _l("When the visit is recorded"),
                  "birthday": _l("On the patient's birthday (offset = time of day, e.g. 9h)")}
ASSIGN_LABELS = {"doctor": _l("The visit's doctor"), "owner": _l("The patient's owner"),
                 "role": _l("A member of a role"), "user": _l("A named user")}
OUTCOME_LABELS = {"completed": _l("Completed"), "in_progress": _l("In progress (keep trying)")}
DATETIME = {"type": "datetime-local"}


def _select(label, **kw):
    return SelectField(label, choices=[], validate_choice=False, coerce=str, **kw)


class PlanForm(FlaskForm):
    category_id = _select(_l("Category"))
    method_id = _select(_l("Method"))
    due_at = StringField(_l("Due"), render_kw=DATETIME | {"required": True})
    owner_id = _select(_l("Assigned to"))
    questionnaire_id = _select(_l("Questionnaire"))
    content = TextAreaField(_l("Content"), render_kw={"rows": 3, "maxlength": 4000},
                            description=_l("What to ask or tell the patient."))
    content_from = SelectField(_l("Or start from"), validate_choice=False, description=_l(
        "A phrase of the library or an SMS template filled for this patient; used when the content is empty."))


class RoundForm(FlaskForm):
    at = StringField(_l("When"), render_kw=DATETIME)
    method_id = _select(_l("Method"))
    reached = RadioField(_l("Patient reached"), choices=options([("1", _l("Yes")), ("0", _l("No"))]), default="1")
    result = StringField(_l("Result"), render_kw={"maxlength": 200})
    notes = TextAreaField(_l("Notes"), render_kw={"rows": 3, "maxlength": 4000})
    next_due_at = StringField(_l("Next follow-up due"), render_kw=DATETIME,
                              description=_l("Leave empty when no further follow-up is needed."))
    outcome = RadioField(_l("This plan is now"), choices=options(OUTCOME_LABELS.items()), default="completed")
    complaint = BooleanField(_l("The patient complained (open a complaint)"))


class RuleForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 100, "required": True})
    active = BooleanField(_l("Active"), default=True)
    trigger = SelectField(_l("Trigger"), choices=options(TRIGGER_LABELS.items()), validate_choice=False)
    visit_kind = SelectField(_l("Visit kind"), choices=options([("", _l("Any kind"))] + list(VISIT_KIND_LABELS.items())),
                             validate_choice=False)
    department_id = _select(_l("Department"), description=_l("Empty: every department."))
    disease_codes = StringField(_l("Diagnoses (ICD-10 code prefixes)"), render_kw={"placeholder": "I10, E11"},
                                description=_l("Only visits with a diagnosis starting with one of these; "
                                               "empty: every visit."))
    offsets = StringField(_l("Follow up after"), render_kw={"placeholder": "1d, 7d, 30d", "required": True},
                          description=_l("Offsets from the visit (or discharge): 24h, 7d, 30d…, up to 3 years. "
                                         "A birthday rule: the time of day on the birthday, e.g. 9h."))
    category_id = _select(_l("Category"))
    method_id = _select(_l("Method"))
    assign_to = SelectField(_l("Assign to"), choices=options(ASSIGN_LABELS.items()), validate_choice=False)
    assignee_role_id = _select(_l("Role"), description=_l("The role's member in the visit's department (lowest "
                                                           "id first), else any member."))
    assignee_user_id = _select(_l("User"))
    questionnaire_id = _select(_l("Questionnaire"))
    content = TextAreaField(_l("Content"), render_kw={"rows": 2, "maxlength": 4000})


class ApplySinceForm(FlaskForm):
    since = StringField(_l("Apply to visits since"), render_kw={"type": "date", "required": True})


class MethodForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64, "required": True})
    shared = BooleanField(_l("Shared with the hospital"), default=False,
                          description=_l("Unticked: only you see this method."))
    sends_sms = BooleanField(_l("Rounds by this method may send an SMS"), default=False)


class CategoryForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64, "required": True})


class EscalationForm(FlaskForm):
    escalate_after_hours = StringField(_l("Escalate overdue plans after (hours)"),
                                       render_kw={"inputmode": "numeric", "required": True})


# -- choices ------------------------------------------------------------------------------------
def questionnaire_choices(current_id=None):
    rows = db.session.execute(sa.select(Questionnaire).order_by(Questionnaire.name)).scalars()
    return options([NONE] + [(str(q.id), q.name) for q in rows if q.active or q.id == current_id])


def method_choices(user_id, current_id=None, *, shared_only=False):
    rows = settings_services.visible_methods(user_id, active_only=False)
    return options([(str(m.id), m.name) for m in rows
                    if (m.active and (m.shared or not shared_only)) or m.id == current_id])


def category_choices(current_id=None):
    return options([(str(c.id), c.name) for c in settings_services.categories(active_only=False)
                    if c.active or c.id == current_id])


def fill_plan_choices(form: PlanForm, user_id, plan=None) -> None:
    form.category_id.choices = category_choices(getattr(plan, "category_id", None))
    form.method_id.choices = method_choices(user_id, getattr(plan, "method_id", None))
    form.owner_id.choices = user_choices(getattr(plan, "owner_id", None))[1:]
    form.questionnaire_id.choices = questionnaire_choices(getattr(plan, "questionnaire_id", None))
    form.content_from.choices = content_choices(user_id)


def content_choices(user_id) -> list:
    """The phrases the user may use and the active SMS templates, as ``phrase:<id>`` /
    ``template:<id>`` choices labelled with their kind."""
    from core.models import User
    from plugins.followup.outreach.phrases import phrases_for
    from plugins.followup.outreach.sms_templates import active_templates
    user = db.session.get(User, user_id)
    phrases = [(f"phrase:{p.id}", f"{_l('Phrase')} · {p.text[:60]}") for p in phrases_for(user)] if user else []
    templates = [(f"template:{t.id}", f"{_l('SMS template')} · {t.name}") for t in active_templates()]
    return [("", "—"), *phrases, *templates]


def fill_round_choices(form: RoundForm, user_id, plan) -> None:
    form.method_id.choices = method_choices(user_id, plan.method_id)


def fill_rule_choices(form: RuleForm, user_id, rule=None) -> None:
    form.department_id.choices = department_choices(getattr(rule, "department_id", None))
    form.category_id.choices = category_choices(getattr(rule, "category_id", None))
    form.method_id.choices = method_choices(user_id, getattr(rule, "method_id", None), shared_only=True)
    roles = db.session.execute(sa.select(Role).order_by(Role.name)).scalars()
    form.assignee_role_id.choices = options([NONE] + [(str(r.id), r.name) for r in roles])
    form.assignee_user_id.choices = user_choices(getattr(rule, "assignee_user_id", None))
    form.questionnaire_id.choices = questionnaire_choices(getattr(rule, "questionnaire_id", None))
