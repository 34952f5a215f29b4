"""SMS templates (短信模板): named texts with placeholders, checked when saved."""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import SmsTemplate
from plugins.followup.outreach import validation
from plugins.followup.outreach.sms import MAX_BODY
from plugins.followup.outreach.templating import TemplateInvalid, check
from plugins.followup.outreach.validation import OutreachInvalid

MAX_NAME = 64


def active_templates() -> list[SmsTemplate]:
    return db.session.execute(sa.select(SmsTemplate).where(SmsTemplate.active.is_(True))
                              .order_by(SmsTemplate.name)).scalars().all()


def all_templates() -> list[SmsTemplate]:
    return db.session.execute(sa.select(SmsTemplate).order_by(SmsTemplate.active.desc(), SmsTemplate.name)).scalars().all()


def clean_template(data: dict, current: SmsTemplate | None = None) -> dict:
    errors: dict[str, str] = {}
    name = validation.text(data.get("name"), "name", errors, limit=MAX_NAME, required=_("Name the template."))
    if "name" not in errors:
        taken = sa.select(SmsTemplate.id).where(SmsTemplate.name == name)
        if current is not None:
            taken = taken.where(SmsTemplate.id != current.id)
        if db.session.execute(taken.limit(1)).first():
            errors["name"] = _("Another template has this name.")
    body = validation.text(data.get("body"), "body", errors, limit=MAX_BODY,
                           required=_("Write the text of the template."))
    if "body" not in errors:
        try:
            check(body)
        except TemplateInvalid as exc:
            errors["body"] = str(exc)
    category_id = validation.category_id(data.get("category_id"), errors)
    if errors:
        raise OutreachInvalid(errors)
    active = validation.flag(data.get("active", True))
    return dict(name=name, body=body, category_id=category_id, active=active)


def save_template(data: dict, template: SmsTemplate | None = None) -> SmsTemplate:
    values = clean_template(data, template)
    return validation.store(template or SmsTemplate(), values)
