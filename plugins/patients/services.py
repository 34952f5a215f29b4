"""Patient archive services shared by the pages, the API, the importer and the HIS connector."""
from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from core import audit, events
from core.clock import EARLIEST, local_now, local_today
from core.extensions import db
from core.i18n import gettext as _
from core.integers import bounded_int
from core.models import Department, User
from core.permissions import can
from plugins.patients.identity import IdentityError, last4, normalize_phone, parse_id_number
from plugins.patients.models import (
    GENDERS,
    VISIT_KINDS,
    VISIT_STATUSES,
    Diagnosis,
    Disease,
    HealthRecord,
    Patient,
    Referrer,
    Region,
    SearchKey,
    Source,
    Tag,
    Visit,
    patient_tags,
)
from plugins.patients.search_index import name_key

SENSITIVE_PERMISSION = "patients.view_sensitive"
PATIENT_FIELDS = ("name", "gender", "birth_date", "id_number", "phone", "phone2", "insurance_no", "region_id",
                  "address", "occupation", "source_id", "referrer_id", "owner_id", "department_id",
                  "key_patient", "sms_consent", "notes", "external_id")
HEALTH_FIELDS = ("allergies", "past_history", "family_history", "smoking", "drinking", "diet", "exercise")
TEXT_LIMITS = {"name": 64, "id_number": 18, "phone": 32, "phone2": 32, "insurance_no": 32, "address": 200,
               "occupation": 64, "notes": 4000, "external_id": 64, "treatment_plan": 8000, "orders": 8000}
LIST_COUNT_CAP = 10_000  # lists count up to this many matches, then say "10,000+"


class PatientInvalid(ValueError):
    """Input refused; ``errors`` maps each field to its message. Nothing was written."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class PossibleDuplicate(Exception):
    """Creating this patient would duplicate ``matches`` (same ID number, or name and phone)."""

    def __init__(self, matches: list[Patient]):
        super().__init__(", ".join(f"#{p.id} {p.name}" for p in matches))
        self.matches = matches


# -- reading and checking input -----------------------------------------------------------------
def _text(value, field: str, errors: dict) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if len(text) > TEXT_LIMITS.get(field, 255):
        errors[field] = _("At most %(n)d characters.", n=TEXT_LIMITS.get(field, 255))
    return text or None


def _date(value, field: str, errors: dict) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = _("Enter a real date as YYYY-MM-DD.")
        return None


def _reference(model, value, field: str, errors: dict):
    """A row of this hospital by id (the tenancy scope hides other hospitals' rows)."""
    if value in (None, "", 0, "0"):
        return None
    try:
        ident = bounded_int(value)
    except (TypeError, ValueError):
        errors[field] = _("Choose a value from the list.")
        return None
    row = db.session.execute(sa.select(model).where(model.id == ident)).scalar_one_or_none()
    if row is None:
        errors[field] = _("Unknown choice: it does not exist in this hospital.")
    return row


# What a form, an import or the API may send for ``sms_consent``; empty means "not asked".
CONSENT_VALUES = {"yes": True, "true": True, "1": True, "是": True, "同意": True,
                  "no": False, "false": False, "0": False, "否": False, "拒绝": False, "退订": False}


def parse_consent(value) -> bool | None:
    """``sms_consent`` from a form, a spreadsheet cell or JSON; ValueError when unreadable."""
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if not text:
        return None
    if text not in CONSENT_VALUES:
        raise ValueError(text)
    return CONSENT_VALUES[text]


def _consent(value, field: str, errors: dict) -> bool | None:
    try:
        return parse_consent(value)
    except ValueError:
        errors[field] = _("Say yes (agreed), no (opted out) or leave it empty (not asked).")
        return None


def clean_patient(data: dict, current: Patient | None = None) -> dict:
    """Validate patient input (only the keys present when ``current`` is given: a partial update)
    and return the values to store. Raises PatientInvalid with a message per field."""
    errors: dict[str, str] = {}
    clean: dict = {}
    present = [f for f in PATIENT_FIELDS if f in data] if current is not None else list(PATIENT_FIELDS)
    for field in present:
        value = data.get(field)
        if field in ("name", "id_number", "insurance_no", "address", "occupation", "notes", "external_id"):
            clean[field] = _text(value, field, errors)
        elif field in ("phone", "phone2"):
            text = _text(value, field, errors)
            try:
                clean[field] = normalize_phone(text) if text else None
            except IdentityError as exc:
                errors[field] = str(exc)
        elif field == "gender":
            clean[field] = value or "U"
            if clean[field] not in GENDERS:
                errors[field] = _("Gender is M (male), F (female) or U (unknown).")
        elif field == "birth_date":
            clean[field] = _date(value, field, errors)
        elif field == "key_patient":
            clean[field] = value in (True, "1", "true", "on", "yes", 1)
        elif field == "sms_consent":
            clean[field] = _consent(value, field, errors)
        elif field == "region_id":
            clean[field] = getattr(_reference(Region, value, field, errors), "id", None)
        elif field == "source_id":
            clean[field] = getattr(_reference(Source, value, field, errors), "id", None)
        elif field == "referrer_id":
            clean[field] = getattr(_reference(Referrer, value, field, errors), "id", None)
        elif field == "department_id":
            clean[field] = getattr(_reference(Department, value, field, errors), "id", None)
        elif field == "owner_id":
            clean[field] = getattr(_reference(User, value, field, errors), "id", None)
    merged = {f: getattr(current, f) for f in PATIENT_FIELDS} if current is not None else {}
    merged.update(clean)
    if not merged.get("name"):
        errors["name"] = _("Enter the patient's name.")
    if merged.get("id_number") and "id_number" not in errors:
        try:
            number, birth, gender = parse_id_number(merged["id_number"])
        except IdentityError as exc:
            errors["id_number"] = str(exc)
        else:
            clean["id_number"] = number
            if merged.get("birth_date") and merged["birth_date"] != birth:
                errors["birth_date"] = _("The birth date differs from the ID number's (%(date)s).", date=birth.isoformat())
            if not merged.get("birth_date"):
                clean["birth_date"] = birth
            if merged.get("gender") in ("M", "F") and merged["gender"] != gender:
                errors["gender"] = _("The gender differs from the ID number's.")
            if merged.get("gender") in (None, "U"):
                clean["gender"] = gender
    if clean.get("external_id") and "external_id" not in errors:
        taken = sa.select(Patient.id).where(Patient.external_id == clean["external_id"])
        if current is not None:
            taken = taken.where(Patient.id != current.id)
        if db.session.execute(taken.limit(1)).first():
            errors["external_id"] = _("Another patient already has this HIS patient ID.")
    birth = clean.get("birth_date") or merged.get("birth_date")
    if birth and "birth_date" not in errors and (birth > local_today() or birth.year < 1890):
        errors["birth_date"] = _("The birth date cannot be in the future or before 1890.")
    if errors:
        raise PatientInvalid(errors)
    return clean


def find_duplicates(*, id_number=None, name=None, phone=None, exclude_id=None) -> list[Patient]:
    """Patients of this hospital with the same ID number, or the same name and phone."""
    conditions = []
    if id_number:
        conditions.append(Patient.id_number == id_number)
    if name and phone:
        conditions.append(sa.and_(Patient.name == name, sa.or_(Patient.phone == phone, Patient.phone2 == phone)))
    if not conditions:
        return []
    query = sa.select(Patient).where(sa.or_(*conditions), Patient.merged_into_id.is_(None))
    if exclude_id:
        query = query.where(Patient.id != exclude_id)
    return db.session.execute(query.order_by(Patient.id).limit(10)).scalars().all()


# -- writing ------------------------------------------------------------------------------------
def _apply(patient: Patient, values: dict, tag_names=None) -> None:
    for field, value in values.items():
        setattr(patient, field, value)
    patient.phone_last4 = last4(patient.phone)
    if tag_names is not None:
        patient.tags = tags_named(tag_names)


def tags_named(names) -> list[Tag]:
    """The hospital's tags of these names, creating the missing ones."""
    wanted = list(dict.fromkeys(n.strip()[:32] for n in names if n and n.strip()))
    if not wanted:
        return []
    found = {t.name: t for t in db.session.execute(sa.select(Tag).where(Tag.name.in_(wanted))).scalars()}
    for name in wanted:
        if name not in found:
            found[name] = Tag(name=name)
            db.session.add(found[name])
    return [found[n] for n in wanted]


def create_patient(data: dict, *, allow_duplicate: bool = False, commit: bool = True) -> Patient:
    values = clean_patient(data)
    if not allow_duplicate:
        matches = find_duplicates(id_number=values.get("id_number"), name=values.get("name"),
                                  phone=values.get("phone"))
        if matches:
            raise PossibleDuplicate(matches)
    patient = Patient()
    _apply(patient, values, data.get("tags"))
    db.session.add(patient)
    db.session.flush()
    events.emit("patients.patient_created", payload={"patient_id": patient.id}, patient=patient)
    if commit:
        db.session.commit()
    return patient


def update_patient(patient: Patient, data: dict, *, commit: bool = True) -> Patient:
    values = clean_patient(data, current=patient)
    _apply(patient, values, data.get("tags") if "tags" in data else None)
    db.session.flush()
    events.emit("patients.patient_updated", payload={"patient_id": patient.id, "fields": sorted(values)},
                patient=patient, fields=sorted(values))
    if commit:
        db.session.commit()
    return patient


def delete_patient(patient: Patient) -> None:
    """Delete a patient without visits; one with visits is kept (merge duplicates instead)."""
    has_visits = db.session.execute(sa.select(Visit.id).where(Visit.patient_id == patient.id).limit(1)).first()
    if has_visits:
        raise PatientInvalid({"patient": _("This patient has visits: clinical records are kept. "
                                           "Merge a duplicate into the right patient instead.")})
    db.session.delete(patient)
    db.session.commit()


def health_record(patient: Patient) -> HealthRecord:
    record = db.session.execute(sa.select(HealthRecord).where(HealthRecord.patient_id == patient.id)).scalar_one_or_none()
    return record or HealthRecord(patient_id=patient.id, hospital_id=patient.hospital_id)


def save_health_record(patient: Patient, data: dict) -> HealthRecord:
    record = health_record(patient)
    errors: dict[str, str] = {}
    for field in HEALTH_FIELDS:
        if field in data:
            text = (data.get(field) or "").strip()
            limit = 64 if field in ("smoking", "drinking") else (200 if field in ("diet", "exercise") else 4000)
            if len(text) > limit:
                errors[field] = _("At most %(n)d characters.", n=limit)
            setattr(record, field, text or None)
    if errors:
        db.session.rollback()
        raise PatientInvalid(errors)
    db.session.add(record)
    db.session.commit()
    return record


# -- visits -------------------------------------------------------------------------------------
def _datetime(value, field: str, errors: dict) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        value = value.replace(tzinfo=None)
    elif isinstance(value, date):
        value = datetime.combine(value, time())
    else:
        try:
            value = datetime.fromisoformat(str(value).strip().replace("Z", "")).replace(tzinfo=None)
        except ValueError:
            errors[field] = _("Enter a real date and time as YYYY-MM-DD HH:MM.")
            return None
    if value < EARLIEST:
        errors[field] = _("Enter a date from %(year)d on.", year=EARLIEST.year)
        return None
    return value


def clean_visit(data: dict) -> tuple[dict, list[Disease]]:
    errors: dict[str, str] = {}
    kind = data.get("kind") or "outpatient"
    if kind not in VISIT_KINDS:
        errors["kind"] = _("The visit kind is outpatient, inpatient or emergency.")
    status = data.get("status") or ("admitted" if kind == "inpatient" and not data.get("discharge_at") else "completed")
    if status not in VISIT_STATUSES:
        errors["status"] = _("Unknown visit status.")
    visit_at = _datetime(data.get("visit_at"), "visit_at", errors)
    if visit_at is None and "visit_at" not in errors:
        errors["visit_at"] = _("Enter the visit time.")
    discharge_at = _datetime(data.get("discharge_at"), "discharge_at", errors)
    if visit_at and discharge_at and discharge_at < visit_at:
        errors["discharge_at"] = _("Discharge cannot come before admission.")
    if visit_at and visit_at > local_now() + timedelta(days=1):
        errors["visit_at"] = _("The visit time is in the future.")
    department = _reference(Department, data.get("department_id"), "department_id", errors)
    doctor = _reference(User, data.get("doctor_id"), "doctor_id", errors)
    try:
        spending = Decimal(str(data.get("spending") or 0)).quantize(Decimal("0.01"))
        if spending < 0 or spending >= Decimal("10000000000"):
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["spending"] = _("Spending is an amount of yuan, zero or more.")
        spending = Decimal(0)
    codes = [c.strip().upper() for c in (data.get("diagnoses") or []) if c and str(c).strip()]
    diseases = []
    if codes:
        found = {d.code: d for d in db.session.execute(sa.select(Disease).where(Disease.code.in_(codes))).scalars()}
        unknown = [c for c in codes if c not in found]
        retired = [c for c in codes if c in found and not found[c].active]
        if unknown:
            errors["diagnoses"] = _("Unknown diagnosis code(s) %(codes)s: add them to the disease catalogue first.",
                                    codes=", ".join(unknown))
        elif retired:
            errors["diagnoses"] = _("Diagnosis code(s) %(codes)s are deactivated in the disease catalogue.",
                                    codes=", ".join(retired))
        diseases = [found[c] for c in codes if c in found]
    text = {f: _text(data.get(f), f, errors) for f in ("treatment_plan", "orders", "doctor_name", "external_id")}
    if errors:
        raise PatientInvalid(errors)
    values = dict(kind=kind, status=status, visit_at=visit_at, discharge_at=discharge_at,
                  department_id=department.id if department else None, doctor_id=doctor.id if doctor else None,
                  doctor_name=text["doctor_name"] or (doctor.display_name if doctor else None),
                  treatment_plan=text["treatment_plan"], orders=text["orders"], spending=spending,
                  external_id=text["external_id"])
    return values, diseases


def _diagnoses(patient_id: int, visit_at: datetime, diseases: list[Disease]) -> list[Diagnosis]:
    # Patient and time are copied so "disease X between two dates" needs no join through visits.
    return [Diagnosis(disease_id=d.id, code=d.code, name=d.name, position=i, patient_id=patient_id,
                      visit_at=visit_at) for i, d in enumerate(diseases)]


def record_visit(patient: Patient, data: dict, *, commit: bool = True) -> Visit:
    """Record a visit and tell the hospital's plugins (the follow-up plugin plans from it)."""
    values, diseases = clean_visit(data)
    # A visit belongs to whoever is in charge of the patient, so "own records" staff see the
    # visits of their patients, whoever recorded them (the recorder is in the audit log).
    visit = Visit(patient_id=patient.id, owner_id=patient.owner_id, **values)
    visit.diagnoses = _diagnoses(patient.id, visit.visit_at, diseases)
    db.session.add(visit)
    db.session.flush()
    announce_visits([visit.id])
    if commit:
        db.session.commit()
    return visit


def update_visit(visit: Visit, data: dict, *, commit: bool = True) -> Visit:
    """Change a visit (typically: an inpatient's discharge). ``data`` holds only the fields to
    change; the rest keep their values. The hospital's plugins hear of it again."""
    current = {f: getattr(visit, f) for f in ("kind", "status", "visit_at", "discharge_at", "department_id",
                                               "doctor_id", "doctor_name", "treatment_plan", "orders",
                                               "spending", "external_id")}
    current["diagnoses"] = [d.code for d in visit.diagnoses]
    if "status" not in data and data.get("discharge_at") and current["status"] == "admitted":
        current["status"] = "discharged"  # recording the discharge time is the discharge
    values, diseases = clean_visit({**current, **data})
    for field, value in values.items():
        setattr(visit, field, value)
    if "diagnoses" in data:
        visit.diagnoses = _diagnoses(visit.patient_id, visit.visit_at, diseases)
    else:
        for diagnosis in visit.diagnoses:
            diagnosis.visit_at = visit.visit_at
    db.session.flush()
    announce_visits([visit.id])
    if commit:
        db.session.commit()
    return visit


def announce_visits(visit_ids: list[int], hospital_id: int | None = None) -> None:
    """Tell the hospital's live plugins that these (flushed) visits were recorded or changed."""
    events.emit("patients.visits_recorded", hospital_id=hospital_id, payload={"visit_ids": list(visit_ids)},
                visit_ids=list(visit_ids))


# -- search -------------------------------------------------------------------------------------
SORTS = {"name": Patient.name, "created": Patient.created_at, "birth": Patient.birth_date, "id": Patient.id}


@dataclass
class PatientQuery:
    q: str = ""
    department_id: int | None = None
    source_id: int | None = None
    tag_id: int | None = None
    disease_id: int | None = None
    visit_from: date | None = None
    visit_to: date | None = None
    key_patient: bool | None = None
    sort: str = "created"
    descending: bool = True
    extra: dict = dataclasses.field(default_factory=dict)  # other plugins' list filters: name → chosen value


def _text_condition(q: str):
    """One box for everything front-desk staff type: name, pinyin, phone or its last 4 digits,
    ID number, insurance number. A name or pinyin gives the prefix to look up in the name index
    (a str); anything else a condition on the patients."""
    q = q.strip()
    compact = re.sub(r"[\s-]", "", q)
    if re.fullmatch(r"\d{4}", compact):
        return Patient.phone_last4 == compact
    if re.fullmatch(r"1\d{10}", compact):
        return sa.or_(Patient.phone == compact, Patient.phone2 == compact)
    if re.fullmatch(r"\d{17}[\dXx]|\d{15}", compact):
        return Patient.id_number == compact.upper()
    if re.fullmatch(r"[\d()+\-\s]{5,}", q):
        try:
            number = normalize_phone(q)
        except IdentityError:
            return Patient.insurance_no == compact
        return sa.or_(Patient.phone == number, Patient.phone2 == number, Patient.insurance_no == compact)
    if re.fullmatch(r"[A-Za-z0-9]+", compact) and not compact.isalpha():
        return Patient.insurance_no == compact
    return name_key(q) or sa.false()


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _name_matches(prefix: str, department_id: int | None):
    """The name index's rows for a typed name or pinyin (scoped like the patients, see
    search_index), with the department filter, which the index carries too."""
    stmt = sa.select(SearchKey.patient_id).where(SearchKey.key.like(_like_prefix(prefix)))
    return stmt.where(SearchKey.department_id == department_id) if department_id else stmt


def search(query: PatientQuery):
    """The select for a patient list: filters, sorting; scoped by the tenancy layer.

    A name or pinyin search joins its matches from the name index as a subquery of (patient,
    registration time), distinct and ordered as the list is: PostgreSQL then reads the patients
    of the page only, instead of walking every patient newest first and probing each (left to
    itself, it misjudges how many match: a second per search at a million patients)."""
    def directed(*columns):
        return [c.desc() if query.descending else c.asc() for c in columns]

    stmt = sa.select(Patient).where(Patient.merged_into_id.is_(None))
    condition = _text_condition(query.q) if query.q and query.q.strip() else None
    column = SORTS.get(query.sort, Patient.created_at)
    order = directed(column, Patient.id)
    if isinstance(condition, str):
        matches = _name_matches(condition, query.department_id).add_columns(SearchKey.created_at).distinct()
        newest = column is Patient.created_at  # the list's order is the index's: keep it
        if newest:
            matches = matches.order_by(*directed(SearchKey.created_at, SearchKey.patient_id))
        matches = matches.subquery("name_matches")
        stmt = stmt.join(matches, matches.c.patient_id == Patient.id)
        if newest:
            order = directed(matches.c.created_at, matches.c.patient_id)
    elif condition is not None:
        stmt = stmt.where(condition)
    if query.department_id:
        stmt = stmt.where(Patient.department_id == query.department_id)
    if query.source_id:
        stmt = stmt.where(Patient.source_id == query.source_id)
    if query.key_patient is not None:  # "= true", which the partial index's predicate matches
        stmt = stmt.where(Patient.key_patient == (sa.true() if query.key_patient else sa.false()))
    if query.tag_id:
        stmt = stmt.where(Patient.id.in_(sa.select(patient_tags.c.patient_id).where(patient_tags.c.tag_id == query.tag_id)))
    if query.disease_id or query.visit_from or query.visit_to:
        # With a disease, the diagnoses (which carry patient and time) answer alone.
        source = Diagnosis if query.disease_id else Visit
        visits = sa.select(source.patient_id)
        if query.disease_id:
            visits = visits.where(Diagnosis.disease_id == query.disease_id)
        if query.visit_from:
            visits = visits.where(source.visit_at >= datetime.combine(query.visit_from, time()))
        if query.visit_to:
            visits = visits.where(source.visit_at < datetime.combine(query.visit_to, time()) + timedelta(days=1))
        stmt = stmt.where(Patient.id.in_(visits))
    if query.extra:
        from plugins.patients.list_filters import live_filters
        for offered in live_filters():
            if offered.name in query.extra:
                stmt = offered.apply(stmt, query.extra[offered.name])
    return stmt.order_by(*order)


def counted(query: PatientQuery):
    """A statement with one row per patient ``search(query)`` lists, cheaper to count, or None
    when the list's own statement is the one to count: a name search filtered at most by
    department is counted in the name index alone."""
    others = (query.source_id, query.tag_id, query.disease_id, query.visit_from, query.visit_to)
    if not query.q or not query.q.strip() or query.key_patient is not None or any(others) or query.extra:
        return None
    condition = _text_condition(query.q)
    return _name_matches(condition, query.department_id).distinct() if isinstance(condition, str) else None


def by_phone(phone: str) -> list[Patient]:
    """Patients whose phone (either number) is this caller's number: the screen pop."""
    try:
        number = normalize_phone(phone)
    except IdentityError:
        number = re.sub(r"\D", "", phone or "")
    if not number:
        return []
    stmt = (sa.select(Patient).where(Patient.merged_into_id.is_(None),
                                     sa.or_(Patient.phone == number, Patient.phone2 == number))
            .order_by(Patient.id).limit(20))
    return db.session.execute(stmt).scalars().all()


# -- privacy ------------------------------------------------------------------------------------
def may_see_sensitive() -> bool:
    return can(SENSITIVE_PERMISSION)


def log_sensitive_view(patients, where: str) -> None:
    """Each unmasked view of phones, ID and insurance numbers is written to the audit log."""
    ids = [p.id for p in patients]
    if ids and may_see_sensitive():
        audit.log_event("view", "Patient", ids[0] if len(ids) == 1 else None,
                        note=f"{where}: unmasked phone/ID/insurance no. of patient(s) {', '.join(map(str, ids))}"[:255])


def shown_phone(patient: Patient, reveal: bool, field: str = "phone") -> str | None:
    """The phone as this user may see it: masked unless they hold patients.view_sensitive."""
    from plugins.patients.identity import mask_phone
    value = getattr(patient, field)
    return value if reveal else mask_phone(value)


def shown_insurance_no(patient: Patient, reveal: bool) -> str | None:
    from plugins.patients.identity import mask_insurance_no
    return patient.insurance_no if reveal else mask_insurance_no(patient.insurance_no)


def shown_id_number(patient: Patient, reveal: bool) -> str | None:
    from plugins.patients.identity import mask_id_number
    return patient.id_number if reveal else mask_id_number(patient.id_number)
