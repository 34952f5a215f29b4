"""SMS gateways: the built-in outbox gateway and the ones other plugins publish through
``followup_sms_gateways``; which one delivers is chosen per hospital (SmsSettings)."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app

from core.activation import live_plugins
from core.extensions import db
from core.i18n import lazy_gettext as _l
from core.tenancy import current_scope, system_scope
from plugins.followup.models import SmsSettings

OUTBOX = "outbox"
DEFAULT_ATTEMPTS = 3
MAX_ATTEMPTS_LIMIT = 10


@dataclass(frozen=True)
class OutboxGateway:
    """Keeps every message in the outbox table and marks it sent: nothing leaves the machine.
    The default, so that sending works (and is testable) before a provider is contracted."""

    name: str = OUTBOX
    title: str = _l("Outbox only (messages are recorded, not sent)")

    def send(self, message) -> tuple[bool, str]:
        return True, f"outbox-{message.id}"


def available_gateways(hospital_id: int | None = None) -> dict:
    """name → gateway for the hospital (default: the current scope's): the outbox and those of
    the hospital's live plugins."""
    hospital_id = hospital_id or current_scope().hospital_id
    with system_scope():
        live = live_plugins(hospital_id)
    registry = current_app.extensions["hcrm"].registry
    gateways = {OUTBOX: OutboxGateway()}
    caller = getattr(registry.hooks_for(live), "followup_sms_gateways", None)
    for offered in (caller() if caller else []):
        for gateway in offered or []:
            name = str(getattr(gateway, "name", "") or "")[:64]
            if name and name != OUTBOX and callable(getattr(gateway, "send", None)):
                gateways.setdefault(name, gateway)
    return gateways


def gateway_title(gateway) -> str:
    return str(getattr(gateway, "title", None) or gateway.name)


def sms_settings() -> SmsSettings:
    """The current hospital's SMS settings row (not added to the session when missing)."""
    row = db.session.execute(sa.select(SmsSettings)).scalar_one_or_none()
    return row or SmsSettings(gateway=OUTBOX, max_attempts=DEFAULT_ATTEMPTS)


def chosen_gateway():
    """The gateway that delivers this hospital's messages, or None when the chosen one is gone
    (its plugin was disabled or uninstalled): messages then wait, nothing is lost."""
    return available_gateways().get(sms_settings().gateway)
