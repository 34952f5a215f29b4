"""The SMS outbox: every message is written to followup_sms_message first, then delivered by the
hospital's gateway. ``deliver`` is the one way a message is handed to a gateway: the "send now"
button and the delivery job both use it, and it records each attempt (status, error, provider
reference) as soon as the gateway answers.

Statuses: ``queued`` (waiting for its time), ``sending`` (claimed by one sender, being handed
to the gateway), ``sent``, ``failed`` (tried again by the next delivery run while attempts
remain), ``cancelled`` (by a person, or expired: not sent within three days).

Never twice: a sender claims each message with a committed conditional UPDATE (queued/failed →
sending) before the gateway sees it, so two senders (two consumers, a retried task, "send now"
beside the job) cannot both hand it over. A message left ``sending`` by a sender that died may
or may not have reached the gateway: it becomes ``failed`` without attempts left, for a person to
check and send again, rather than risk a second text. Phones are stored normalised (mobiles only: a landline cannot receive a text) and
shown masked unless the user holds patients.view_sensitive.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_login import current_user

from core.clock import local_now, local_to_utc
from core.extensions import db
from core.i18n import gettext as _
from core.models import utcnow
from plugins.followup.models import Settings, SmsMessage
from plugins.followup.outreach import gateways
from plugins.followup.outreach.templating import TemplateInvalid, render_template_for
from plugins.followup.outreach.validation import OutreachInvalid
from plugins.patients.public import MOBILE_RE

MAX_BODY = 500          # characters: a long text is split by the network into up to 8 parts
DELIVERY_BATCH = 2000   # messages handed to the gateway per delivery run and hospital
EXPIRE_AFTER = timedelta(days=3)  # a message this late (e.g. the plugin was off) is not sent any more
SENDING_TIMEOUT = timedelta(minutes=10)  # a claim older than this belongs to a sender that died
BULK_TASK = "followup.send_bulk"


class SmsInvalid(OutreachInvalid):
    """A message refused; ``errors`` maps each field to its message. Nothing was written."""


def mobile_of(patient) -> str | None:
    """The number a text goes to: the patient's phone, or their second phone, if it is a mobile."""
    for number in (patient.phone, patient.phone2):
        if number and MOBILE_RE.match(number):
            return number
    return None


def signature() -> str:
    """The hospital's SMS signature (e.g. 【第一人民医院】), set in the follow-up settings."""
    return db.session.execute(sa.select(Settings.sms_signature)).scalar() or ""


def signed(body: str, sign: str) -> str:
    return body if not sign or sign in body else body + sign


def check_body(body: str, errors: dict, field: str = "body") -> str:
    text = (body or "").strip()
    if not text:
        errors[field] = _("Write the message (or choose a template).")
    elif len(text) > MAX_BODY:
        errors[field] = _("The message has %(n)d characters; at most %(max)d are sent.", n=len(text), max=MAX_BODY)
    return text


def check_schedule(scheduled_at: datetime | None, errors: dict) -> datetime | None:
    """A send time in the hospital's local time; None (or a time already past) means now."""
    if scheduled_at is None:
        return None
    scheduled_at = scheduled_at.replace(tzinfo=None, second=0, microsecond=0)
    if scheduled_at < local_now() - timedelta(minutes=5):
        errors["scheduled_at"] = _("The send time is in the past: leave it empty to send now.")
    elif scheduled_at > local_now() + timedelta(days=366):
        errors["scheduled_at"] = _("The send time is more than a year away.")
    return scheduled_at if scheduled_at > local_now() else None


def _author_id():
    return current_user.id if getattr(current_user, "is_authenticated", False) else None


def queue_message(patient, body, *, plan=None, template=None, scheduled_at=None) -> SmsMessage:
    """Write one message to the outbox for ``patient``. ``body`` is the text (placeholders are
    NOT filled: see render_template_for); when it is empty and ``template`` is given, the
    template is rendered for the patient (and ``plan``). The hospital's signature is appended.
    Raises SmsInvalid (no mobile number, empty or too long text, time in the past); does not
    commit, so the caller's transaction decides."""
    errors: dict[str, str] = {}
    if not (body or "").strip() and template is not None:
        try:
            body = render_template_for(template, patient, plan=plan)
        except TemplateInvalid as exc:
            errors["body"] = str(exc)
    phone = mobile_of(patient)
    if phone is None:
        errors["phone"] = _("%(name)s has no mobile number: a text cannot be sent.", name=patient.name)
    text = check_body(body, errors) if "body" not in errors else ""
    when = check_schedule(scheduled_at, errors)
    sign = signature()
    if not errors and len(signed(text, sign)) > MAX_BODY:
        errors["body"] = _("With the signature the message has more than %(max)d characters.", max=MAX_BODY)
    if errors:
        raise SmsInvalid(errors)
    message = SmsMessage(patient_id=patient.id, plan_id=plan.id if plan is not None else None,
                         template_id=getattr(template, "id", None), phone=phone, body=signed(text, sign),
                         status="queued", scheduled_at=when, created_by_id=_author_id())
    db.session.add(message)
    db.session.flush()
    return message


# -- delivery -----------------------------------------------------------------------------------
def _claim(message, gateway) -> bool:
    """Take the message for this sender (committed); False when another sender has it or it is
    no longer pending."""
    claimed = db.session.execute(
        sa.update(SmsMessage).where(SmsMessage.id == message.id, SmsMessage.status.in_(("queued", "failed")))
        .values(status="sending", attempts=SmsMessage.attempts + 1, gateway=gateway.name, sent_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    db.session.refresh(message)
    return bool(claimed)


def _attempt(gateway, message) -> None:
    """Hand a claimed message to the gateway and record its answer."""
    try:
        ok, detail = gateway.send(message)
    except Exception as exc:  # a provider's outage must not lose the message: it is retried
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    if ok:
        message.status, message.sent_at, message.error = "sent", utcnow(), None
        message.gateway_ref = str(detail or "")[:128] or None
    else:
        message.status, message.sent_at = "failed", None
        message.error = (str(detail or "") or _("The gateway refused the message."))[:500]


def deliver(messages) -> dict[str, int]:
    """Hand ``messages`` to the hospital's gateway, one by one, committing after each answer so
    that a crash can never send a message twice. Returns counts of sent and failed."""
    from core import queue
    counts = {"sent": 0, "failed": 0, "waiting": 0}
    gateway = gateways.chosen_gateway()
    messages = list(messages)
    for done, message in enumerate(messages, 1):
        if message.status not in ("queued", "failed"):
            continue
        if gateway is None:
            message.error = _("The chosen SMS gateway “%(name)s” is not available: the message waits.",
                              name=gateways.sms_settings().gateway)[:500]
            counts["waiting"] += 1
        elif _claim(message, gateway):
            _attempt(gateway, message)
            counts[message.status] += 1
        db.session.commit()
        queue.progress(done, len(messages))
    return counts


def _pending():
    """Queued messages, and failed ones with attempts left."""
    retry = sa.and_(SmsMessage.status == "failed", SmsMessage.attempts < gateways.sms_settings().max_attempts)
    return sa.or_(SmsMessage.status == "queued", retry)


def due_messages(now: datetime | None = None, limit: int = DELIVERY_BATCH):
    """The select of messages to deliver now: pending ones whose time has come, oldest first."""
    now = now or local_now()
    return (sa.select(SmsMessage)
            .where(_pending(),
                   sa.or_(SmsMessage.scheduled_at.is_(None), SmsMessage.scheduled_at <= now))
            .order_by(SmsMessage.id).limit(limit))


def expire_stale(now: datetime | None = None) -> int:
    """Messages that should have gone out long ago (the plugin was off, the gateway missing)
    are cancelled rather than sent days late, with the reason as their error. Returns how many."""
    now = now or local_now()
    stale = sa.or_(SmsMessage.scheduled_at < now - EXPIRE_AFTER,
                   sa.and_(SmsMessage.scheduled_at.is_(None), SmsMessage.created_at < utcnow() - EXPIRE_AFTER))
    result = db.session.execute(sa.update(SmsMessage).where(_pending(), stale)
                                .values(status="cancelled", error=_("Not sent in time: expired."))
                                .execution_options(synchronize_session=False))
    return result.rowcount or 0


def release_abandoned(now: datetime | None = None) -> int:
    """Messages a dead sender left ``sending``: failed, not retried automatically (see module doc)."""
    claimed_before = (now or utcnow()) - SENDING_TIMEOUT
    spent = gateways.sms_settings().max_attempts  # no automatic retry: a person decides
    result = db.session.execute(
        sa.update(SmsMessage).where(SmsMessage.status == "sending", SmsMessage.sent_at < claimed_before)
        .values(status="failed", sent_at=None,
                attempts=sa.case((SmsMessage.attempts < spent, spent), else_=SmsMessage.attempts),
                error=_("The sender stopped while handing this message to the gateway: it may have been "
                        "delivered. Check with the patient before sending it again."))
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def deliver_due(hospital=None, now: datetime | None = None) -> dict[str, int]:
    """The delivery job: expire stale messages, then deliver what is due (one batch)."""
    expired = expire_stale(now)
    release_abandoned()
    db.session.commit()
    messages = db.session.execute(due_messages(now)).scalars().all()
    counts = deliver(messages)
    counts["expired"] = expired
    return counts


def send_now(message: SmsMessage) -> SmsMessage:
    """Deliver a message queued for now straight away (the compose page's "send now")."""
    if message.scheduled_at is None:
        deliver([message])
    return message


def cancel(message: SmsMessage) -> None:
    if message.status not in ("queued", "failed"):
        raise SmsInvalid({"status": _("Only a queued or failed message can be cancelled.")})
    message.status = "cancelled"
    db.session.commit()


def retry(message: SmsMessage) -> None:
    """Queue a failed message again (after its attempts ran out, or it expired)."""
    if message.status != "failed":
        raise SmsInvalid({"status": _("Only a failed message can be sent again.")})
    # A fresh send time: the message is due now, and not "expired" by its old creation time.
    message.status, message.scheduled_at = "queued", local_now().replace(second=0)
    db.session.commit()


# -- the outbox / log -----------------------------------------------------------------------------
def outbox_select(*, status: str | None = None, since: date | None = None, until: date | None = None,
                  patient_id: int | None = None):
    """The SMS log the outbox page and the API list, newest first. Days are the hospital's local
    days (``created_at`` is UTC). The ORM adds the hospital and the caller's data scope: a
    message is seen by whoever may see its patient (SmsMessage is ScopedThrough its patient)."""
    stmt = sa.select(SmsMessage).order_by(SmsMessage.id.desc())
    if status:
        stmt = stmt.where(SmsMessage.status == status)
    if since:
        stmt = stmt.where(SmsMessage.created_at >= local_to_utc(datetime.combine(since, time())))
    if until:
        stmt = stmt.where(SmsMessage.created_at < local_to_utc(datetime.combine(until, time()) + timedelta(days=1)))
    if patient_id:
        stmt = stmt.where(SmsMessage.patient_id == patient_id)
    return stmt
