"""Bulk SMS to a filtered patient list (the patients plugin's search filters).

The recipients, their facts for the placeholders (department, doctor, latest visit) and the
counts are read in a few set-based statements; the texts are filled in Python and written with
one multi-row INSERT, in one transaction: 10,000 patients take about a second, not minutes.
A batch for now is then handed to the gateway by a task of the core's queue (``hcrm worker``,
its progress shown on the page that started it); a scheduled batch goes with the delivery job
when its time comes. Each message is claimed before it is sent (sms.py), so neither a retried
task nor the delivery job running beside it ever sends one twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from core import queue
from core.clock import local_today
from core.extensions import db
from core.i18n import gettext as _
from core.models import Department, Hospital, User
from core.tenancy import current_scope
from plugins.followup.models import SmsMessage
from plugins.followup.outreach import sms
from plugins.followup.outreach.templating import Facts, TemplateInvalid, check, fill, parse
from plugins.patients import services as patient_services
from plugins.patients.models import Patient, Visit

SEND_SLICE = 200    # messages read and handed over per round of the bulk task
MAX_BULK = 50_000  # messages per batch: a larger list is refused with a message, never cut short
SAMPLE_SIZE = 3


def _mobile():
    """The number a text goes to, in SQL: the phone if it is a mobile, else the second phone.
    Phones are stored normalised: a mobile is 11 digits starting with 1, a landline starts with 0."""
    return sa.case((Patient.phone.like("1%"), Patient.phone), (Patient.phone2.like("1%"), Patient.phone2),
                   else_=None)


@dataclass(frozen=True)
class Reach:
    """What a bulk SMS adds to the patient list's filters: its purpose and a birthday month.

    A marketing message goes only to patients who agreed to marketing SMS; any other bulk
    message (a care notice, a clinic change) to everyone but those who opted out. Nobody who
    opted out ever receives a bulk SMS (Patient.sms_consent)."""

    marketing: bool = False
    birth_month: int | None = None  # 1–12: patients born in that month


def _matching(query, reach: Reach):
    """The ids of the patients the list's filters and the reach's birthday month select."""
    stmt = patient_services.search(query).with_only_columns(Patient.id).order_by(None)
    if reach.birth_month:
        stmt = stmt.where(sa.extract("month", Patient.birth_date) == reach.birth_month)
    return stmt


def _allowed(reach: Reach):
    """The consent a patient needs for this purpose, in SQL (``= true``, not ``IS true``)."""
    if reach.marketing:
        return Patient.sms_consent == sa.true()
    return sa.or_(Patient.sms_consent.is_(None), Patient.sms_consent == sa.true())


def _patient_ids(query, reach: Reach):
    return _matching(query, reach).where(_allowed(reach))


@dataclass
class Audience:
    """Who a bulk message would reach: the matching patients, those whose consent allows it,
    those of them with a mobile, a sample."""

    matched: int
    allowed: int
    with_mobile: int
    sample: list = field(default_factory=list)  # (patient, phone, text) for the preview

    @property
    def without_consent(self) -> int:
        return self.matched - self.allowed

    @property
    def without_mobile(self) -> int:
        return self.allowed - self.with_mobile


def count_audience(query, reach: Reach = Reach()) -> Audience:
    mobile, allowed = _mobile(), _allowed(reach)
    row = db.session.execute(
        sa.select(sa.func.count(), sa.func.count(sa.case((allowed, 1))), sa.func.count(sa.case((allowed, mobile))))
        .select_from(Patient).where(Patient.id.in_(_matching(query, reach)))).one()
    return Audience(matched=row[0], allowed=row[1], with_mobile=row[2])


def _facts_rows(query, reach: Reach, limit: int | None = None):
    """One row per matching patient with a mobile: the patient's fields and their latest visit's."""
    ranked = (sa.select(Visit.patient_id, Visit.department_id, Visit.doctor_id, Visit.doctor_name, Visit.visit_at,
                        Visit.discharge_at,
                        sa.func.row_number().over(partition_by=Visit.patient_id,
                                                  order_by=(Visit.visit_at.desc(), Visit.id.desc())).label("rank"))
              .where(Visit.status != "cancelled", Visit.patient_id.in_(_patient_ids(query, reach))).subquery())
    doctor, owner = aliased(User), aliased(User)
    mobile = _mobile()
    stmt = (sa.select(Patient.id, Patient.name, Patient.gender, mobile.label("mobile"), Department.name.label("department"),
                      sa.func.coalesce(ranked.c.doctor_name, doctor.display_name, owner.display_name).label("doctor"),
                      ranked.c.visit_at, ranked.c.discharge_at)
            .select_from(Patient)
            .outerjoin(ranked, sa.and_(ranked.c.patient_id == Patient.id, ranked.c.rank == 1))
            .outerjoin(Department, Department.id == sa.func.coalesce(ranked.c.department_id, Patient.department_id))
            .outerjoin(doctor, doctor.id == ranked.c.doctor_id)
            .outerjoin(owner, owner.id == Patient.owner_id)
            .where(Patient.id.in_(_patient_ids(query, reach)), mobile.is_not(None))
            .order_by(Patient.id))
    if limit:
        stmt = stmt.limit(limit)
    return db.session.execute(stmt).all()


def _texts(pieces, rows, hospital_name: str, sign: str):
    today = local_today()
    for row in rows:
        facts = Facts(name=row.name, gender=row.gender, hospital=hospital_name, department=row.department,
                      doctor=row.doctor, visit_at=row.visit_at, discharge_at=row.discharge_at)
        yield row, sms.signed(fill(pieces, facts.values(today)), sign)


def _checked(text: str, errors: dict):
    try:
        check(text, with_plan=False)
        return parse(text)
    except TemplateInvalid as exc:
        errors["body"] = str(exc)
        return None


def _hospital_name() -> str:
    hospital = db.session.get(Hospital, current_scope().hospital_id)
    return hospital.name if hospital else ""


def preview(query, text: str, reach: Reach = Reach()) -> Audience:
    """The counts and a few filled messages, for the page before sending. Raises SmsInvalid."""
    errors: dict[str, str] = {}
    sms.check_body(text, errors)
    pieces = _checked(text, errors) if not errors else None
    if errors:
        raise sms.SmsInvalid(errors)
    audience = count_audience(query, reach)
    rows = _facts_rows(query, reach, limit=SAMPLE_SIZE)
    patients = {p.id: p for p in db.session.execute(sa.select(Patient).where(Patient.id.in_([r.id for r in rows])))
                .scalars()}
    audience.sample = [(patients[row.id], row.mobile, body)
                       for row, body in _texts(pieces, rows, _hospital_name(), sms.signature())]
    return audience


@dataclass(frozen=True)
class BulkResult:
    queued: int
    skipped: int  # matching patients without a mobile number
    scheduled_at: datetime | None
    task_id: int | None = None  # the delivery task of a batch for now (its progress: core.queue)
    without_consent: int = 0  # matching patients whose consent does not allow this message


def queue_bulk(query, text: str, *, reach: Reach = Reach(), template=None, scheduled_at: datetime | None = None,
               author_id: int | None = None) -> BulkResult:
    """Queue one message per matching patient whose consent allows it and who has a mobile, in
    one transaction (committed). Raises SmsInvalid: bad text or time, nobody to send to, more
    than MAX_BULK recipients."""
    errors: dict[str, str] = {}
    sms.check_body(text, errors)
    pieces = _checked(text, errors) if not errors else None
    when = sms.check_schedule(scheduled_at, errors)
    if errors:
        raise sms.SmsInvalid(errors)
    audience = count_audience(query, reach)
    with_mobile = audience.with_mobile
    if with_mobile == 0:
        raise sms.SmsInvalid({"recipients": _(
            "Nobody of this list may receive it (%(n)d matched, %(consent)d without consent for it, %(mobile)d "
            "without a mobile number): nothing was sent.",
            n=audience.matched, consent=audience.without_consent, mobile=audience.without_mobile)})
    if with_mobile > MAX_BULK:
        raise sms.SmsInvalid({"recipients": _("%(n)d patients would receive this message; one batch sends at most "
                                              "%(max)d. Narrow the list (department, dates, tag…).",
                                              n=with_mobile, max=MAX_BULK)})
    hospital_id = current_scope().hospital_id
    rows, too_long = [], 0
    for row, body in _texts(pieces, _facts_rows(query, reach), _hospital_name(), sms.signature()):
        if len(body) > sms.MAX_BODY:
            too_long += 1
        rows.append(dict(hospital_id=hospital_id, patient_id=row.id, template_id=getattr(template, "id", None),
                         phone=row.mobile, body=body, status="queued", scheduled_at=when, attempts=0,
                         created_by_id=author_id))
    if too_long:
        raise sms.SmsInvalid({"body": _("Filled in, the message is longer than %(max)d characters for %(n)d "
                                        "patient(s): shorten it.", max=sms.MAX_BODY, n=too_long)})
    ids = db.session.execute(sa.insert(SmsMessage).returning(SmsMessage.id), rows).scalars().all()
    task_id = None
    if when is None:
        task_id = _send_soon(hospital_id, author_id, min(ids), max(ids), len(ids))
    db.session.commit()
    return BulkResult(queued=len(rows), skipped=audience.allowed - len(rows), scheduled_at=when, task_id=task_id,
                      without_consent=audience.without_consent)


def _send_soon(hospital_id: int, author_id: int | None, first_id: int, last_id: int, count: int) -> int:
    """Queue the batch's delivery task (this commits the messages with it). When the queue is not
    reachable, the messages are removed again: nothing half-done, the user is told."""
    try:
        return queue.enqueue(sms.BULK_TASK, hospital_id, user=author_id, summary=f"{count} SMS",
                             first_id=first_id, last_id=last_id).id
    except queue.QueueError as exc:
        db.session.rollback()
        db.session.execute(sa.delete(SmsMessage).where(SmsMessage.id.between(first_id, last_id),
                                                       SmsMessage.status == "queued",
                                                       SmsMessage.created_by_id == author_id))
        db.session.commit()
        raise sms.SmsInvalid({"recipients": exc.message.translated()}) from None


def send_batch(hospital, first_id: int, last_id: int) -> None:
    """The bulk task: deliver the batch's pending messages, a slice at a time, with progress."""
    total = db.session.execute(sa.select(sa.func.count(SmsMessage.id))
                               .where(SmsMessage.id.between(first_id, last_id))).scalar_one()
    done, after = 0, first_id - 1
    while True:
        messages = db.session.execute(sa.select(SmsMessage).where(SmsMessage.id.between(after + 1, last_id))
                                      .order_by(SmsMessage.id).limit(SEND_SLICE)).scalars().all()
        if not messages:
            break
        after = messages[-1].id
        sms.deliver(messages)
        done += len(messages)
        queue.progress(done, total)
