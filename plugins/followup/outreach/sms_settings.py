"""The hospital's SMS settings: the gateway, attempts per message, the signature."""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import Settings, SmsSettings
from plugins.followup.outreach import gateways, validation
from plugins.followup.outreach.validation import OutreachInvalid

MAX_SIGNATURE = 32


def current() -> SmsSettings:
    return gateways.sms_settings()


def save_settings(data: dict) -> SmsSettings:
    """Validate and store gateway, max_attempts and signature. Raises OutreachInvalid."""
    errors: dict[str, str] = {}
    available = gateways.available_gateways()
    gateway = (data.get("gateway") or "").strip()
    if gateway not in available:
        errors["gateway"] = _("Unknown gateway “%(name)s” (available: %(names)s).", name=gateway[:64],
                              names=", ".join(available))
    try:
        attempts = int(data.get("max_attempts") or 0)
    except (TypeError, ValueError):
        attempts = 0
    if not 1 <= attempts <= gateways.MAX_ATTEMPTS_LIMIT:
        errors["max_attempts"] = _("Between 1 and %(n)d attempts.", n=gateways.MAX_ATTEMPTS_LIMIT)
    signature = validation.text(data.get("signature"), "signature", errors, limit=MAX_SIGNATURE)
    if errors:
        raise OutreachInvalid(errors)
    row = db.session.execute(sa.select(SmsSettings)).scalar_one_or_none() or SmsSettings()
    row.gateway, row.max_attempts = gateway, attempts
    db.session.add(row)
    # The signature lives on the follow-up settings row (one per hospital, created on enable).
    general = db.session.execute(sa.select(Settings)).scalar_one_or_none() or Settings(escalate_after_hours=24)
    general.sms_signature = signature or None
    db.session.add(general)
    db.session.commit()
    return row
