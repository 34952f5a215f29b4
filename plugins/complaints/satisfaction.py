"""The satisfaction loop: a follow-up survey answer at or below the hospital's threshold, or a
follow-up round marked "the patient complained", opens a complaint linked to the patient, the
round and the answers. Heard through the followup plugin's events (``hcrm_event`` and their JSON
payloads): this plugin never imports followup and works without it.

The listener runs inside the follow-up's transaction, in a savepoint: a complaint that cannot be
opened is logged and never undoes the agent's round.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app

from core.extensions import db
from core.models import User
from core.tenancy import hospital_scope

from . import services
from .errors import ComplaintInvalid
from .models import Complaint, ComplaintCategory, ComplaintChannel
from .settings_services import settings

SURVEY_EVENT = "followup.survey_recorded"
ROUND_EVENT = "followup.round_marked_complaint"
DESCRIPTION_LIMIT = 4000


def handle(event) -> Complaint | None:
    if event.name not in (SURVEY_EVENT, ROUND_EVENT):
        return None
    with hospital_scope(event.hospital_id):
        try:
            with db.session.begin_nested():
                return survey_recorded(event.payload) if event.name == SURVEY_EVENT else \
                    round_marked(event.payload)
        except (ComplaintInvalid, ValueError, sa.exc.SQLAlchemyError) as exc:
            current_app.logger.warning("complaints: no complaint opened for %s %r: %s", event.name,
                                       event.payload.get("round_id"), exc)
            return None


def _channel_id() -> int:
    channel = db.session.execute(sa.select(ComplaintChannel).where(ComplaintChannel.code == "survey")
                                 ).scalar_one_or_none()
    if channel is None:
        channel = ComplaintChannel(code="survey", name="满意度调查", position=98, active=True)
        db.session.add(channel)
        db.session.flush()
    return channel.id


def _category_id() -> int:
    rows = dict(db.session.execute(sa.select(ComplaintCategory.code, ComplaintCategory.id)
                                   .where(ComplaintCategory.active.is_(True))).all())
    for code in ("attitude", "other"):
        if code in rows:
            return rows[code]
    if rows:
        return next(iter(rows.values()))
    raise ValueError("the hospital has no active complaint category")


def _already(**source) -> bool:
    key, value = next(iter(source.items()))
    return value is not None and db.session.execute(
        sa.select(Complaint.id).where(getattr(Complaint, key) == value)).first() is not None


def _staff(payload) -> dict:
    doctor_id = payload.get("doctor_id")
    if doctor_id and db.session.execute(sa.select(User.id).where(User.id == doctor_id)).first():
        return {"staff_ids": [doctor_id]}
    return {"staff_names": [payload["doctor_name"]]} if payload.get("doctor_name") else {}


def _open(payload: dict, description: str, note: str) -> Complaint:
    data = {"channel_id": _channel_id(), "category_id": _category_id(), "severity": "normal",
            "patient_id": payload.get("patient_id"), "department_id": payload.get("department_id"),
            "description": description[:DESCRIPTION_LIMIT], **_staff(payload)}
    return services.create_complaint(data, user_id=payload.get("user_id"), source={
        "source_round_id": payload.get("round_id"), "source_response_id": payload.get("response_id"),
        "source_note": note[:DESCRIPTION_LIMIT]})


def survey_recorded(payload: dict) -> Complaint | None:
    threshold = settings().survey_threshold
    if threshold is None or _already(source_response_id=payload.get("response_id")):
        return None
    answers = payload.get("answers") or []
    low = [a for a in answers if a.get("kind") == "scale" and isinstance(a.get("score"), int)
           and a["score"] <= threshold]
    if not low:
        return None
    lines = [f"{a.get('question') or '?'}: {a['score']}/{a.get('scale_max') or '?'}" for a in low]
    remarks = [a["text"] for a in answers if a.get("kind") == "text" and a.get("text")]
    description = "满意度调查低分 / Low survey score:\n" + "\n".join(lines)
    if remarks:
        description += "\n" + "\n".join(remarks)
    note = (f"{payload.get('questionnaire') or ''} · round #{payload.get('round_id')} · "
            f"response #{payload.get('response_id')}\n" + "\n".join(
                f"{a.get('question')}: {a.get('score') if a.get('score') is not None else a.get('text') or a.get('choices')}"
                for a in answers))
    return _open(payload, description, note)


def round_marked(payload: dict) -> Complaint | None:
    if _already(source_round_id=payload.get("round_id")):
        return None
    text = "\n".join(t for t in (payload.get("result"), payload.get("notes")) if t) or "随访中患者提出投诉"
    return _open(payload, text, f"follow-up round #{payload.get('round_id')}")
