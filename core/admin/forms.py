"""Forms of the administration pages. Services re-check everything; forms give early, per-field errors."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, RadioField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, ValidationError

from core.admin.services import CODE_RE, ROLE_CODE_RE, USERNAME_RE
from core.auth import MIN_PASSWORD_LENGTH

SCOPE_LABELS = {
    "own": _l("Own records"),
    "department": _l("Own department and its sub-departments"),
    "hospital": _l("Whole hospital"),
    "group": _l("All hospitals of the group"),
}


def _int_or_zero(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


class DepartmentForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Regexp(
        CODE_RE.pattern, message=_l("Codes are 1 to 32 letters, digits, '_' or '-'."))])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    parent = SelectField(_l("Parent department"), coerce=_int_or_zero, default=0)
    active = BooleanField(_l("Active"), default=True)


class UserCreateForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Regexp(
        USERNAME_RE.pattern, message=_l("Usernames are 3 to 64 characters: letters, digits, '_', '.' or '-'."))],
        description=_l("Used to sign in; unique across all hospitals."),
        render_kw={"autocomplete": "off"})
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=100)])
    department = SelectField(_l("Department"), coerce=_int_or_zero, default=0)
    roles = SelectMultipleField(lazy_pgettext("field", "Roles"), coerce=int)  # not the menu title
    is_group_admin = BooleanField(_l("Group administrator (every permission in every hospital)"))
    password = PasswordField(_l("Initial password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=256,
                               message=_l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))],
        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(), EqualTo("password", _l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"})


class UserEditForm(FlaskForm):
    display_name = StringField(_l("Display name"), validators=[DataRequired(), Length(max=100)])
    department = SelectField(_l("Department"), coerce=_int_or_zero, default=0)
    roles = SelectMultipleField(lazy_pgettext("field", "Roles"), coerce=int)  # not the menu title
    active = BooleanField(_l("Active (may sign in)"))
    is_group_admin = BooleanField(_l("Group administrator (every permission in every hospital)"))


class ResetPasswordForm(FlaskForm):
    new_password = PasswordField(_l("New password"), validators=[
        DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=256,
                               message=_l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))],
        render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(), EqualTo("new_password", _l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"})


class RoleForm(FlaskForm):
    """Permissions are posted as checkboxes named ``permissions`` and checked by the service."""

    code = StringField(_l("Code"), validators=[DataRequired(), Regexp(
        ROLE_CODE_RE.pattern, message=_l("Role codes are 2 to 40 lowercase letters, digits or '_', starting with a letter."))],
        description=_l("A short technical name, e.g. call_centre; cannot be changed later."))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100)])
    data_scope = RadioField(_l("Data scope"), description=_l("Which records the role's holders see."))


class AuditFilterForm(FlaskForm):
    """GET form: every bad value becomes a field error and the page answers 400."""

    class Meta:
        csrf = False

    user = StringField(_l("User"), validators=[Optional(), Length(max=64)], render_kw={"placeholder": _l("username")})
    model = StringField(_l("Model"), validators=[Optional(), Length(max=64)], render_kw={"list": "hcrm-audit-models"})
    action = StringField(_l("Action"), validators=[Optional(), Length(max=16)], render_kw={"list": "hcrm-audit-actions"})
    record_id = StringField(_l("Record ID"), validators=[Optional(), Length(max=64)])
    date_from = DateField(_l("From"), validators=[Optional()],
                          render_kw={"placeholder": "YYYY-MM-DD"})
    date_to = DateField(_l("To"), validators=[Optional()], render_kw={"placeholder": "YYYY-MM-DD"})

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("The end date is before the start date."))


class HospitalForm(FlaskForm):
    """The apps are posted as checkboxes (``plugins``); the code is fixed once the hospital exists
    (config.yaml, the API's X-HCRM-Hospital header and exports name hospitals by it)."""

    code = StringField(_l("Code"), validators=[DataRequired(), Regexp(
        CODE_RE.pattern, message=_l("Codes are 1 to 32 letters, digits, '_' or '-'."))],
        description=_l("A short technical name, e.g. DEMO1; cannot be changed later."))
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    timezone = StringField(_l("Time zone"), validators=[DataRequired(), Length(max=64)],
                           description=_l("Visit, due and report times of this hospital are on this clock."),
                           render_kw={"list": "hcrm-zones", "autocomplete": "off"})
    plugins = SelectMultipleField(_l("Enabled apps"), default=[])
