"""Forms of the knowledge base pages (Flask-WTF). Rules live in services.py; these only carry
what was typed, and show the services' errors on their fields."""
from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from core.i18n import lazy_gettext as _l

from .services import MAX_BODY


class ArticleForm(FlaskForm):
    type_code = SelectField(_l("Type"), choices=[])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=500)], render_kw={"rows": 2})
    body = TextAreaField(_l("Text (HTML: headings, lists, tables, images)"),
                         validators=[Optional(), Length(max=MAX_BODY)], render_kw={"rows": 14})
    sms_text = TextAreaField(_l("SMS version"), validators=[Optional(), Length(max=500)],
                             render_kw={"rows": 3, "maxlength": 500, "data-sms-counter": "70"},
                             description=_l("What a follow-up SMS quotes. One SMS segment holds 70 characters."))
    tags = StringField(_l("Tags"), validators=[Optional(), Length(max=400)], description=_l("Separated by commas."))
    departments = StringField(_l("Departments"), validators=[Optional(), Length(max=400)],
                              description=_l("Department names it applies to, separated by commas (e.g. 骨科)."))
    icd_codes = StringField(_l("ICD-10 codes"), validators=[Optional(), Length(max=400)],
                            description=_l("Diagnosis codes or their beginnings, separated by commas (e.g. S72)."))
    group = BooleanField(_l("Shared by the whole group"))

    def data_for_service(self) -> dict:
        return {k: getattr(self, k).data for k in ("type_code", "title", "summary", "body", "sms_text", "tags",
                                                    "departments", "icd_codes")}


class TypeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=64)])


class TermForm(FlaskForm):
    word = StringField(_l("Term"), validators=[DataRequired(), Length(max=32)])


class ImportForm(FlaskForm):
    file = FileField(_l("Spreadsheet (.xlsx or .csv)"))
