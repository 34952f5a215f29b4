"""The public complaint form (no login) and the status check by reference number + the phone's
last 4 digits, shared by the public pages and the public API endpoint.

Bot resistance without a CAPTCHA, as the core does for sign-in (core.auth): every attempt is a
row (address, time), counted over the last hour per hospital and address before anything else
is looked at; a hidden "website" field (a honeypot) that people never fill refuses the form.
"""
from __future__ import annotations

import math
from datetime import timedelta

import sqlalchemy as sa
from flask import abort

from core.activation import live_plugins
from core.extensions import db
from core.i18n import gettext as _
from core.models import Hospital, utcnow
from core.tenancy import system_scope

from . import services
from .errors import ComplaintInvalid
from .models import Complaint, ComplaintCategory, ComplaintChannel, PublicAttempt
from .settings_services import settings

WINDOW = timedelta(hours=1)
STATUS_LOOKUPS_PER_HOUR = 20
PUBLIC_STATUS = {"new": "received", "accepted": "in_progress", "assigned": "in_progress",
                 "investigating": "in_progress", "replied": "replied", "closed": "closed"}


class Throttled(Exception):
    def __init__(self, seconds: int):
        super().__init__(seconds)
        self.seconds = seconds
        self.message = _("Too many requests from your address: try again in %(minutes)d minutes.",
                         minutes=max(1, math.ceil(seconds / 60)))


def public_hospital(code: str) -> Hospital:
    """The active hospital with ``code`` where the plugin is live and its public form open; else 404."""
    hospital = None
    if code and len(code) <= 32:
        with system_scope():
            hospital = db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one_or_none()
            live = live_plugins(hospital.id) if hospital is not None else set()
    if hospital is None or not hospital.active or "complaints" not in live:
        abort(404)
    return hospital


def check_open() -> None:
    if not settings().public_intake:
        abort(404)


def throttle(remote_addr: str, kind: str) -> None:
    """Count this attempt; Throttled when the address used up its hour. The attempt is committed
    before the form is checked, so submissions refused for their content count too."""
    limit = settings().public_max_per_hour if kind == "submit" else STATUS_LOOKUPS_PER_HOUR
    since = utcnow() - WINDOW
    stmt = sa.select(sa.func.count(), sa.func.min(PublicAttempt.at)).where(
        PublicAttempt.remote_addr == remote_addr[:64], PublicAttempt.kind == kind, PublicAttempt.at >= since)
    count, oldest = db.session.execute(stmt).one()
    if count >= limit:
        raise Throttled(int(((oldest + WINDOW) - utcnow()).total_seconds()) + 1)
    db.session.add(PublicAttempt(kind=kind, remote_addr=remote_addr[:64], at=utcnow()))
    db.session.commit()


def public_categories() -> list[ComplaintCategory]:
    return db.session.execute(sa.select(ComplaintCategory).where(ComplaintCategory.active.is_(True))
                              .order_by(ComplaintCategory.position, ComplaintCategory.id)).scalars().all()


def _web_channel() -> ComplaintChannel:
    channel = db.session.execute(sa.select(ComplaintChannel).where(ComplaintChannel.code == "web")).scalar_one_or_none()
    if channel is None:
        channel = ComplaintChannel(code="web", name="网上表单", position=99, active=True)
        db.session.add(channel)
        db.session.flush()
    return channel


def submit(data: dict) -> Complaint:
    """A complaint from the public form (channel "web"); ComplaintInvalid names each problem."""
    if (data.get("website") or "").strip():
        raise ComplaintInvalid({"website": _("The form could not be accepted.")})
    errors: dict[str, str] = {}
    phone = str(data.get("phone") or "").strip()
    if not services.last4(phone):
        errors["phone"] = _("Enter your phone number: you need its last 4 digits to check the status.")
    category_id = services._id(data.get("category_id"))
    if category_id is None or category_id < 0 or category_id not in {c.id for c in public_categories()}:
        errors["category_id"] = _("Choose what your complaint is about.")
    intake = {"channel_id": _web_channel().id, "category_id": category_id, "severity": "normal",
              "complainant_name": data.get("name"), "contact_phone": phone, "description": data.get("description"),
              "event_date": data.get("event_date")}
    try:
        services.check_intake(intake, errors=errors)
    except ComplaintInvalid as exc:
        raise ComplaintInvalid({("phone" if k == "contact_phone" else "name" if k == "complainant_name" else k): v
                                for k, v in exc.errors.items()}) from None
    return services.create_complaint(intake, user_id=None)


def lookup(reference: str, last4: str) -> Complaint | None:
    reference = (reference or "").strip().upper()[:20]
    last4 = (last4 or "").strip()
    if not reference or not (last4.isdigit() and len(last4) == 4):
        return None
    return db.session.execute(sa.select(Complaint).where(Complaint.reference == reference,
                                                         Complaint.phone_last4 == last4)).scalar_one_or_none()
