"""Forms of the hotline: early, per-field errors; services.py checks everything again."""
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from core.i18n import lazy_gettext as _l
from hcrm_hotline.services import TAG_MAX, TOPIC_MAX


class CallForm(FlaskForm):
    phone = StringField(_l("Caller's number"), validators=[DataRequired(message=_l("Enter the caller's number.")),
                                                           Length(max=32)])
    topic = StringField(_l("Topic"), validators=[DataRequired(message=_l("Enter the topic of the call.")),
                                                 Length(max=TOPIC_MAX)])
    patient_id = IntegerField(_l("Patient number"), validators=[Optional(), NumberRange(min=1, max=2**31 - 1)],
                              description=_l("Leave empty: a caller whose number is a patient's is linked to them."))


class RetagForm(FlaskForm):
    phone = StringField(validators=[DataRequired()])
    tag = StringField(_l("Tag"), validators=[DataRequired(message=_l("Enter a tag.")), Length(max=TAG_MAX)])
