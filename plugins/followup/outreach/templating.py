"""SMS texts with placeholders: checking a template when it is saved, filling it for a patient.

A placeholder is a name in braces, ``{name}``; ``{{`` and ``}}`` write a literal brace. The set
is fixed (PLACEHOLDERS) so that a typo is refused when the template is saved, not discovered by
a patient reading "{nmae}". Values come from the patient, the follow-up plan (when the message
is about one) and the visit (the plan's, or else the patient's latest one).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from core.clock import local_today
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import Hospital
from plugins.patients.public import Visit

#: name → what it is replaced with (shown in the template editor and the docs).
PLACEHOLDERS = {
    "name": _l("Patient's name (张三)"),
    "surname": _l("Patient's surname (张)"),
    "gender_title": _l("先生 or 女士 from the patient's gender (empty when unknown)"),
    "hospital": _l("Hospital name"),
    "department": _l("Department of the visit (else of the plan, else of the patient)"),
    "doctor": _l("Doctor of the visit (else the plan's assignee, else the patient's owner)"),
    "visit_date": _l("Date of the visit (the plan's, else the latest)"),
    "discharge_date": _l("Discharge date of that visit"),
    "due_date": _l("Due date of the follow-up plan (messages about a plan only)"),
    "due_time": _l("Due time of the follow-up plan, HH:MM (messages about a plan only)"),
    "date": _l("Today's date"),
}
PLAN_ONLY = ("due_date", "due_time")
GENDER_TITLES = {"M": "先生", "F": "女士"}


class TemplateInvalid(ValueError):
    """A template that cannot be filled: unknown placeholder, unbalanced brace, a plan-only
    placeholder without a plan. The message names the problem (and the valid placeholders)."""


def cn_date(value) -> str:
    """``2026年5月1日``: how an SMS to a patient writes a date."""
    if value is None:
        return ""
    return f"{value.year}年{value.month}月{value.day}日"


def _valid_list() -> str:
    return ", ".join("{" + name + "}" for name in PLACEHOLDERS)


def parse(text: str) -> list[tuple[str, str | None]]:
    """The template as (literal text, placeholder name or None) pieces. Raises TemplateInvalid."""
    try:
        pieces = list(string.Formatter().parse(text or ""))
    except ValueError:
        raise TemplateInvalid(_("Unbalanced brace: a placeholder is written {name}, and a literal brace "
                                "is doubled ({{ or }}).")) from None
    unknown, parsed = [], []
    for literal, field, spec, conversion in pieces:
        if field is None:
            parsed.append((literal, None))
            continue
        if field not in PLACEHOLDERS or spec or conversion:
            unknown.append("{" + field + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}")
        parsed.append((literal, field))
    if unknown:
        raise TemplateInvalid(_("Unknown placeholder %(names)s. Valid placeholders: %(valid)s.",
                                names=", ".join(dict.fromkeys(unknown)), valid=_valid_list()))
    return parsed


def placeholders_in(text: str) -> set[str]:
    return {field for _literal, field in parse(text) if field}


def check(text: str, *, with_plan: bool = True) -> set[str]:
    """Validate a template's text; ``with_plan=False`` also refuses the plan-only placeholders
    (a bulk message is about no plan). Returns the placeholders it uses."""
    used = placeholders_in(text)
    missing = sorted(used & set(PLAN_ONLY))
    if not with_plan and missing:
        raise TemplateInvalid(_("%(names)s can only be filled in a message about a follow-up plan.",
                                names=", ".join("{" + m + "}" for m in missing)))
    return used


def fill(pieces: list[tuple[str, str | None]], values: dict) -> str:
    return "".join(literal + (str(values.get(field) or "") if field else "") for literal, field in pieces)


@dataclass
class Facts:
    """What a message may say about one patient; built per patient, or per row in bulk."""

    name: str
    gender: str | None = None
    hospital: str = ""
    department: str | None = None
    doctor: str | None = None
    visit_at: datetime | None = None
    discharge_at: datetime | None = None
    due_at: datetime | None = None

    def values(self, today: date | None = None) -> dict:
        return {
            "name": self.name, "surname": (self.name or "")[:1], "gender_title": GENDER_TITLES.get(self.gender, ""),
            "hospital": self.hospital, "department": self.department, "doctor": self.doctor,
            "visit_date": cn_date(self.visit_at), "discharge_date": cn_date(self.discharge_at),
            "due_date": cn_date(self.due_at), "due_time": self.due_at.strftime("%H:%M") if self.due_at else "",
            "date": cn_date(today or local_today()),
        }


def latest_visit(patient) -> Visit | None:
    return db.session.execute(sa.select(Visit).where(Visit.patient_id == patient.id, Visit.status != "cancelled")
                              .order_by(Visit.visit_at.desc(), Visit.id.desc()).limit(1)).scalar_one_or_none()


def facts_for(patient, *, plan=None, visit=None) -> Facts:
    visit = visit or (plan.visit if plan is not None and plan.visit_id else None) or latest_visit(patient)
    hospital = db.session.get(Hospital, patient.hospital_id)
    department = (visit.department if visit is not None and visit.department_id else None) \
        or (plan.department if plan is not None and plan.department_id else None) or patient.department
    doctor = None
    if visit is not None:
        doctor = visit.doctor_name or (visit.doctor.display_name if visit.doctor_id else None)
    if not doctor and plan is not None and plan.owner_id:
        doctor = plan.owner.display_name
    if not doctor and patient.owner_id:
        doctor = patient.owner.display_name
    return Facts(name=patient.name, gender=patient.gender, hospital=hospital.name if hospital else "",
                 department=department.name if department else None, doctor=doctor,
                 visit_at=visit.visit_at if visit else None, discharge_at=visit.discharge_at if visit else None,
                 due_at=plan.due_at if plan is not None else None)


def render_template_for(template_or_text, patient, *, plan=None, visit=None) -> str:
    """The text of ``template_or_text`` (an SmsTemplate or a str) filled for ``patient`` (and
    the plan/visit the message is about). Raises TemplateInvalid on an unknown placeholder or
    a plan-only placeholder without a plan."""
    text = getattr(template_or_text, "body", template_or_text)
    pieces = parse(text)
    check(text, with_plan=plan is not None)
    return fill(pieces, facts_for(patient, plan=plan, visit=visit).values())
