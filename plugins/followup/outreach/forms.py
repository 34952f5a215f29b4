"""Forms of the outreach pages. Like the patients plugin's, they carry no validators of their
own: the services decide, and the views put the services' per-field messages on the fields."""
from __future__ import annotations

from datetime import date, datetime

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField

from core import choices
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from plugins.followup.models import Category
from plugins.followup.outreach.templating import PLACEHOLDERS
from plugins.patients.public import NONE, map_errors, options  # noqa: F401  (map_errors re-exported for views)

KIND_LABELS = {"single": _l("Single choice"), "multiple": _l("Multiple choice"), "scale": _l("Scale"),
               "text": _l("Free text")}
STATUS_LABELS = {"queued": _l("Queued"), "sending": _l("Sending"), "sent": _l("Sent"), "failed": _l("Failed"), "cancelled": _l("Cancelled")}


def _select(label, **kw):
    return SelectField(label, choices=[], validate_choice=False, coerce=str, **kw)


def category_choices():
    return options([NONE] + [(str(c.id), c.name) for c in choices.ordered(Category, active_only=True)])


def placeholder_help() -> str:
    return _("Placeholders: %(list)s. Write {{ or }} for a literal brace.",
             list=", ".join("{" + name + "}" for name in PLACEHOLDERS))


class PhraseForm(FlaskForm):
    text = TextAreaField(_l("Phrase"), render_kw={"rows": 3, "maxlength": 1000, "required": True})
    category_id = _select(_l("Category"))
    shared = BooleanField(_l("Shared with the whole hospital"), default=True)


class TemplateForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64, "required": True})
    body = TextAreaField(_l("Text"), render_kw={"rows": 4, "maxlength": 500, "required": True})
    category_id = _select(_l("Category"))
    active = BooleanField(_l("Active"), default=True)


class ComposeForm(FlaskForm):
    template_id = _select(_l("Template"))
    body = TextAreaField(_l("Message"), render_kw={"rows": 4, "maxlength": 500},
                         description=_l("Leave empty to use the template; placeholders are filled for the patient."))
    scheduled_at = StringField(_l("Send at"), render_kw={"type": "datetime-local"},
                               description=_l("Leave empty to send now."))


class SmsSettingsForm(FlaskForm):
    gateway = _select(_l("SMS gateway"))
    max_attempts = IntegerField(_l("Attempts per message"), render_kw={"min": 1, "max": 10},
                                description=_l("A failed message is tried again by each delivery run until then."))
    signature = StringField(_l("Signature"), render_kw={"maxlength": 32, "placeholder": "【第一人民医院】"},
                            description=_l("Appended to every message (Chinese SMS rules require one)."))


class QuestionForm(FlaskForm):
    text = StringField(_l("Question"), render_kw={"maxlength": 500, "required": True})
    kind = SelectField(_l("Kind"), choices=options(KIND_LABELS.items()), validate_choice=False)
    options = TextAreaField(_l("Options (one per line)"), render_kw={"rows": 4},
                            description=_l("For single and multiple choice."))
    scale_min = IntegerField(_l("Scale from"), default=1, render_kw={"min": 0, "max": 100})
    scale_max = IntegerField(_l("Scale to"), default=5, render_kw={"min": 0, "max": 100},
                             description=_l("For a scale: the best mark is the higher number."))
    active = BooleanField(_l("Active"), default=True)


class QuestionnaireForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 100, "required": True})
    description = TextAreaField(_l("Description"), render_kw={"rows": 2})
    active = BooleanField(_l("Active"), default=True)


def day_arg(args, name: str, errors: list, default: date | None = None) -> date | None:
    """A YYYY-MM-DD query argument (empty: ``default``); a bad one adds a message to ``errors``."""
    text = (args.get(name) or "").strip()
    if not text:
        return default
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors.append(_("“%(value)s” is not a date (YYYY-MM-DD).", value=text[:20]))
        return default


def parse_local(value: str | None, field: str, errors: dict) -> datetime | None:
    """A datetime-local input's value (empty: None)."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        errors[field] = _("Enter a real date and time as YYYY-MM-DD HH:MM.")
        return None
