"""Forms of the patient pages, their choices, and the patient list's query arguments.

The forms carry no validators of their own: the services (clean_patient, clean_visit,
settings_services) decide, and the views map their per-field messages onto these fields.
"""
from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice

from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.i18n import lazy_pgettext
from core.models import Department, User
from plugins.patients import services
from plugins.patients.models import Disease, Patient, Referrer, Tag
from plugins.patients.query_args import filters_of, query_from_args
from plugins.patients.settings_services import ordered_sources, region_tree

GENDER_LABELS = {"M": _l("Male"), "F": _l("Female"), "U": _l("Unknown")}
# The form's value for Patient.sms_consent (True / False / None).
CONSENT_LABELS = {"": _l("Not asked (care messages only)"), "yes": _l("Agreed to marketing SMS"),
                  "no": _l("Opted out of all bulk SMS")}
CONSENT_FORM_VALUE = {None: "", True: "yes", False: "no"}
KIND_LABELS = {"outpatient": _l("Outpatient"), "inpatient": _l("Inpatient"), "emergency": _l("Emergency")}
STATUS_LABELS = {"open": _l("Open"), "admitted": _l("Admitted"), "discharged": _l("Discharged"),
                 "completed": _l("Completed"), "cancelled": _l("Cancelled")}
NONE = ("", _l("— none —"))
SENSITIVE_FIELDS = ("phone", "phone2", "id_number", "insurance_no")
LIST_SEPARATORS = re.compile(r"[,，;；、]+")
CODE_SEPARATORS = re.compile(r"[\s,，;；、]+")


def options(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms options (plain tuples are deprecated in WTForms 3.3)."""
    return [SelectChoice(value, label) for value, label in pairs]


def _select(label, **kw):
    # validate_choice=False: an unknown value reaches the service, which says what is wrong.
    return SelectField(label, choices=[], validate_choice=False, coerce=str, **kw)


class PatientForm(FlaskForm):
    name = StringField(lazy_pgettext("person", "Name"),
                       render_kw={"maxlength": 64, "required": True, "autocomplete": "off"})
    gender = SelectField(_l("Gender"), choices=options(GENDER_LABELS.items()), default="U",
                         validate_choice=False)
    birth_date = StringField(_l("Birth date"), render_kw={"type": "date"},
                             description=_l("Filled in from the ID number when left empty."))
    id_number = StringField(_l("ID number"), render_kw={"maxlength": 18, "autocomplete": "off"})
    phone = StringField(_l("Phone"), render_kw={"type": "tel", "maxlength": 32, "autocomplete": "off"})
    phone2 = StringField(_l("Second phone"), render_kw={"type": "tel", "maxlength": 32, "autocomplete": "off"})
    insurance_no = StringField(_l("Medical insurance number"), render_kw={"maxlength": 32})
    region_id = _select(_l("Region"))
    address = StringField(_l("Address"), render_kw={"maxlength": 200})
    occupation = StringField(_l("Occupation"), render_kw={"maxlength": 64})
    source_id = _select(_l("Source"))
    referrer_id = _select(_l("Referrer"))
    tags = StringField(_l("Tags"), render_kw={"list": "patient-tags", "autocomplete": "off"},
                       description=_l("Separate tags with commas."))
    owner_id = _select(_l("Staff in charge"))
    department_id = _select(_l("Department"))
    key_patient = BooleanField(_l("Key patient"))
    sms_consent = SelectField(_l("Marketing SMS"), choices=options(CONSENT_LABELS.items()), default="",
                              validate_choice=False,
                              description=_l("Bulk marketing SMS go only to patients who agreed; an opted-out "
                                             "patient receives no bulk SMS at all."))
    notes = TextAreaField(_l("Notes"), render_kw={"rows": 3})
    allow_duplicate = BooleanField(_l("Register anyway: this is a different person"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.name.flags.required = True  # the asterisk; the service says what is missing

    FIELDS = ("name", "gender", "birth_date", "id_number", "phone", "phone2", "insurance_no", "region_id",
              "address", "occupation", "source_id", "referrer_id", "owner_id", "department_id", "key_patient", "sms_consent",
              "notes")

    def data_for_service(self, *, keep_blank_sensitive: bool = False) -> dict:
        """The values as services.create_patient/update_patient take them. With
        ``keep_blank_sensitive`` an empty phone or ID number means "keep the stored one" (the
        user could not see it, so an empty box is not a wish to erase it)."""
        data = {f: self[f].data for f in self.FIELDS}
        data["tags"] = [t.strip() for t in LIST_SEPARATORS.split(self.tags.data or "") if t.strip()]
        if keep_blank_sensitive:
            for field in SENSITIVE_FIELDS:
                if not (data[field] or "").strip():
                    del data[field]
        return data


class HealthForm(FlaskForm):
    allergies = TextAreaField(_l("Allergies"), render_kw={"rows": 2})
    past_history = TextAreaField(_l("Past medical history"), render_kw={"rows": 3})
    family_history = TextAreaField(_l("Family history"), render_kw={"rows": 2})
    smoking = StringField(_l("Smoking"), render_kw={"maxlength": 64, "list": "health-smoking"})
    drinking = StringField(_l("Drinking"), render_kw={"maxlength": 64, "list": "health-drinking"})
    diet = StringField(_l("Diet"), render_kw={"maxlength": 200})
    exercise = StringField(_l("Exercise"), render_kw={"maxlength": 200})


class VisitForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=options(KIND_LABELS.items()), validate_choice=False)
    status = SelectField(_l("Status"), choices=options([("", _l("Automatic"))] + list(STATUS_LABELS.items())),
                         validate_choice=False)
    visit_at = StringField(_l("Visit / admission time"), render_kw={"type": "datetime-local", "required": True})
    discharge_at = StringField(_l("Discharge time"), render_kw={"type": "datetime-local"})
    department_id = _select(_l("Department"))
    doctor_id = _select(_l("Doctor"))
    doctor_name = StringField(_l("Doctor's name (if not a user)"), render_kw={"maxlength": 64})
    diagnoses = StringField(_l("Diagnoses (ICD-10 codes)"), render_kw={"list": "disease-codes", "autocomplete": "off",
                                                                        "placeholder": "M51.2, I10"},
                            description=_l("Codes from the disease catalogue, separated by commas or spaces; "
                                           "the first is the primary diagnosis."))
    treatment_plan = TextAreaField(_l("Treatment plan"), render_kw={"rows": 2})
    orders = TextAreaField(_l("Orders"), render_kw={"rows": 2})
    spending = StringField(_l("Spending (yuan)"), render_kw={"inputmode": "decimal"}, default="0")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.visit_at.flags.required = True

    def data_for_service(self) -> dict:
        data = {f.name: f.data for f in self if f.name != "csrf_token"}
        data["diagnoses"] = [c for c in CODE_SEPARATORS.split(self.diagnoses.data or "") if c]
        return data


class DiseaseForm(FlaskForm):
    code = StringField(_l("Code"), render_kw={"maxlength": 16, "placeholder": "M51.2", "autocomplete": "off"})
    name = StringField(_l("Name"), render_kw={"maxlength": 128})


class DiseaseImportForm(FlaskForm):
    file = FileField(_l("CSV file"), render_kw={"accept": ".csv,text/csv"},
                     description=_l("Columns code,name with a header line; UTF-8 or GBK; at most 2 MB."))


class NameForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64})


class SourceForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64})
    code = StringField(_l("Code"), render_kw={"maxlength": 32},
                       description=_l("Optional; made from the name's pinyin when empty."))


class RegionForm(FlaskForm):
    name = StringField(_l("Name"), render_kw={"maxlength": 64})
    parent_id = _select(_l("County"))


class ReferrerForm(FlaskForm):
    name = StringField(lazy_pgettext("person", "Name"), render_kw={"maxlength": 64})
    phone = StringField(_l("Phone"), render_kw={"type": "tel", "maxlength": 32})
    user_id = _select(_l("Staff member"), description=_l("When the referrer works in this hospital."))
    notes = StringField(_l("Notes"), render_kw={"maxlength": 255})


def map_errors(form, errors: dict) -> None:
    """Put a service's per-field messages on the form's fields; the others above the form."""
    for field, message in errors.items():
        target = getattr(form, field, None)
        if target is not None and hasattr(target, "errors") and field != "csrf_token":
            target.errors = list(target.errors) + [message]
        else:
            form.form_errors.append(message)


# -- choices ------------------------------------------------------------------------------------
def department_choices(current_id=None) -> list[SelectChoice]:
    rows = db.session.execute(sa.select(Department).order_by(Department.name)).scalars()
    return options([NONE] + [(str(d.id), d.name) for d in rows if d.active or d.id == current_id])


def user_choices(current_id=None) -> list[SelectChoice]:
    rows = db.session.execute(sa.select(User).order_by(User.display_name)).scalars()
    return options([NONE] + [(str(u.id), u.display_name) for u in rows if u.active or u.id == current_id])


def fill_patient_choices(form: PatientForm, patient: Patient | None = None) -> None:
    def current(attr):  # the patient's own value stays choosable even when deactivated
        return getattr(patient, attr, None)

    form.source_id.choices = options([NONE] + [(str(s.id), s.name) for s in ordered_sources()
                                               if s.active or s.id == current("source_id")])
    regions = [NONE]
    for county, streets in region_tree():
        if county.active or county.id == current("region_id"):
            regions.append((str(county.id), county.name))
        regions += [(str(s.id), f"{county.name} / {s.name}") for s in streets
                    if s.active or s.id == current("region_id")]
    form.region_id.choices = options(regions)
    referrers = db.session.execute(sa.select(Referrer).order_by(Referrer.name)).scalars()
    form.referrer_id.choices = options([NONE] + [(str(r.id), r.name) for r in referrers
                                                 if r.active or r.id == current("referrer_id")])
    form.owner_id.choices = user_choices(current("owner_id"))
    form.department_id.choices = department_choices(current("department_id"))


def fill_visit_choices(form: VisitForm) -> None:
    form.department_id.choices = department_choices()
    form.doctor_id.choices = user_choices()


def tag_names() -> list[str]:
    return list(db.session.execute(sa.select(Tag.name).order_by(Tag.name).limit(300)).scalars())


def active_diseases() -> list[Disease]:
    return db.session.execute(sa.select(Disease).where(Disease.active.is_(True)).order_by(Disease.code)).scalars().all()


# -- the patient list's query arguments ---------------------------------------------------------
PER_PAGE_CHOICES = (10, 25, 50, 100)


def parse_list_args(args) -> tuple[services.PatientQuery, dict, int, int, list[str]]:
    """The list's query, its filters (to carry over to the export link), page and page size.

    The filters are read by query_args, the parser the export and the API share; the page adds
    ``disease`` (a code typed in the box, turned into ``disease_id``) and the paging arguments.
    A value that cannot be read is reported, never guessed at.
    """
    values = {k: v for k, v in args.items()}
    errors: list[str] = []
    code = (values.pop("disease", "") or "").strip().upper().split(" ")[0]
    if code:
        disease_id = db.session.execute(sa.select(Disease.id).where(Disease.code == code)).scalar()
        if disease_id is None:
            errors.append(_("The disease code “%(code)s” is not in the catalogue.", code=code[:20]))
        else:
            values["disease_id"] = str(disease_id)
    try:
        query = query_from_args(values)
    except ValueError as exc:
        errors.append(str(exc))
        query = services.PatientQuery(q=(values.get("q") or "").strip()[:100])

    def positive(name: str, default: int) -> int:
        value = (values.get(name) or "").strip()
        if not value:
            return default
        if not value.isdigit() or int(value) < 1 or len(value) > 9:
            errors.append(_("“%(value)s” is not a valid value for “%(name)s”.", value=value[:40], name=name))
            return default
        return int(value)

    page, per_page = positive("page", 1), positive("per_page", 25)
    if per_page not in PER_PAGE_CHOICES:
        errors.append(_("Rows per page is one of %(choices)s.", choices=", ".join(map(str, PER_PAGE_CHOICES))))
        per_page = 25
    return query, filters_of(values), page, per_page, errors


def local_input(value: datetime | None) -> str:
    """A datetime as a datetime-local input's value."""
    return value.strftime("%Y-%m-%dT%H:%M") if value else ""
