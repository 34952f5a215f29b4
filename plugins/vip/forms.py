"""Flask-WTF forms of the vip pages. Fields only convert what the browser sends; the services
check the rules and their messages land on the fields (``patients.forms.map_errors``)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from core.i18n import lazy_gettext as _l
from plugins.vip.service_plans import KIND_LABELS, METHOD_LABELS, STATUS_LABELS


def options(pairs) -> list[SelectChoice]:
    """Choices whose labels translate when rendered (lazy strings kept as they are)."""
    return [SelectChoice(value, label) for value, label in pairs]


def map_errors(form, errors: dict) -> None:
    """Show a service's messages: on the field each names, else above the form."""
    for name, message in errors.items():
        field = form._fields.get(name) if name != "csrf_token" else None
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]


COMBINE_LABELS = {"or": _l("Either threshold (or)"), "and": _l("Both thresholds (and)")}
REASON_LABELS = {"rule": _l("By rule"), "manual": _l("Manual")}
DIRECTION_LABELS = {"join": _l("Joined"), "up": _l("Up"), "down": _l("Down"), "leave": _l("Left")}
NUMBER = {"inputmode": "numeric"}


class TierForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64, "required": True})
    code = StringField(_l("Code"), render_kw={"maxlength": 32, "required": True},
                       description=_l("Lower-case letters, digits, underscores; e.g. gold."))
    position = StringField(_l("Order"), render_kw=NUMBER, description=_l("Higher is a better tier."))
    colour = StringField(_l("Colour"), render_kw={"type": "color"}, default="#6c757d")
    active = BooleanField(_l("Active"), default=True)
    benefits = TextAreaField(_l("Benefits"), render_kw={"rows": 3, "maxlength": 4000})
    service_norms = TextAreaField(_l("Service norms (服务规范)"), render_kw={"rows": 3, "maxlength": 4000},
                                  description=_l("What staff owe a member: greeting methods, response times, care items."))
    has_rule = BooleanField(_l("Automatic tiering by a rule"), default=True)
    window_months = StringField(_l("Window (months)"), render_kw=NUMBER, default="12")
    min_spending = StringField(_l("Spending at least (¥)"), render_kw={"inputmode": "decimal"})
    min_visits = StringField(_l("Visits at least"), render_kw=NUMBER)
    combine = SelectField(_l("Combine"), choices=options(COMBINE_LABELS.items()), validate_choice=False)
    grace_days = StringField(_l("Grace period before a downgrade (days)"), render_kw=NUMBER, default="0")
    rule_active = BooleanField(_l("Rule active"), default=True)


class MemberTierForm(FlaskForm):
    tier_id = SelectField(_l("New tier"), choices=[], validate_choice=False)
    reason = StringField(_l("Reason"), render_kw={"maxlength": 255, "required": True},
                         description=_l("Required; kept in the tier history."))


class ActionForm(FlaskForm):
    """A button that POSTs (CSRF only)."""


class ValueSettingsForm(FlaskForm):
    churn_factor = StringField(_l("Churn factor"), render_kw={"inputmode": "decimal"}, description=_l(
        "A patient is flagged when the time since the last visit exceeds their usual interval times this."))
    churn_single_visit_days = StringField(_l("Days for one-visit patients"), render_kw=NUMBER)
    window_months = StringField(_l("Spending and frequency window (months)"), render_kw=NUMBER)


class ServicePlanForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 100, "required": True})
    tier_id = SelectField(_l("Tier"), choices=[], validate_choice=False)
    kind = SelectField(_l("What"), choices=options(KIND_LABELS.items()), validate_choice=False)
    days_after = StringField(_l("Days after the visit"), render_kw=NUMBER,
                             description=_l("For a staff call after a visit."))
    festival_dates = StringField(_l("Festival dates (MM-DD)"), render_kw={"maxlength": 200, "placeholder": "01-01, 10-01"},
                                 description=_l("For festival greetings, separated by commas."))
    method = SelectField(_l("Method"), choices=options(METHOD_LABELS.items()), validate_choice=False)
    content = TextAreaField(_l("Content"), render_kw={"rows": 3, "maxlength": 4000})
    active = BooleanField(_l("Active"), default=True)


class TaskStatusForm(FlaskForm):
    status = SelectField(_l("Status"), choices=options(STATUS_LABELS.items()), validate_choice=False)
    note = StringField(_l("Note"), render_kw={"maxlength": 255})
