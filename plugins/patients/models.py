"""The patient archive's tables. Every table is hospital-owned; patients and visits also carry
an owner and a department, so the own/department data scopes apply to them."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from core.choices import ChoiceList
from core.extensions import db
from core.models import utcnow
from core.tenancy import DataScoped, HospitalOwned

GENDERS = ("M", "F", "U")  # male, female, unknown (as the ID number and HIS records allow)
VISIT_KINDS = ("outpatient", "inpatient", "emergency")
VISIT_STATUSES = ("open", "admitted", "discharged", "completed", "cancelled")

patient_tags = sa.Table(
    "patients_patient_tag", db.metadata,
    sa.Column("patient_id", sa.Integer, sa.ForeignKey("patients_patient.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.Integer, sa.ForeignKey("patients_tag.id", ondelete="CASCADE"), primary_key=True),
)


class Source(ChoiceList, db.Model):
    """Where patients come from (来源渠道): hospital-configurable."""

    __tablename__ = "patients_source"


class Region(HospitalOwned, db.Model):
    """County (区县) → street office / community (街道办事处/社区), hospital-configurable."""

    __tablename__ = "patients_region"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(64), nullable=False)
    parent_id = sa.Column(sa.Integer, sa.ForeignKey("patients_region.id"), nullable=True)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    parent = relationship("Region", remote_side=[id])

    def __str__(self) -> str:
        return f"{self.parent.name} / {self.name}" if self.parent else self.name


class Referrer(HospitalOwned, db.Model):
    """Who referred a patient (客情人/介绍人): a staff member or an outside person; one per patient."""

    __tablename__ = "patients_referrer"
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(64), nullable=False)
    phone = sa.Column(sa.String(32), nullable=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    notes = sa.Column(sa.String(255), nullable=True)
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    def __str__(self) -> str:
        return self.name


class Tag(HospitalOwned, db.Model):
    __tablename__ = "patients_tag"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "name"),)
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(32), nullable=False)

    def __str__(self) -> str:
        return self.name


class Patient(DataScoped, db.Model):
    """患者档案. ``owner_id`` is the staff member in charge, ``department_id`` the department."""

    __tablename__ = "patients_patient"
    __table_args__ = (
        # The HIS's patient id: a sync upserts on it.
        sa.UniqueConstraint("hospital_id", "external_id"),
        # Pattern ops: a name prefix (LIKE '张伟%') can use the index under any collation.
        sa.Index("ix_patients_patient_hospital_name", "hospital_id", "name",
                 postgresql_ops={"name": "varchar_pattern_ops"}),
        sa.Index("ix_patients_patient_hospital_phone", "hospital_id", "phone"),
        sa.Index("ix_patients_patient_hospital_phone2", "hospital_id", "phone2"),
        sa.Index("ix_patients_patient_hospital_phone_last4", "hospital_id", "phone_last4"),
        sa.Index("ix_patients_patient_hospital_id_number", "hospital_id", "id_number"),
        sa.Index("ix_patients_patient_hospital_insurance", "hospital_id", "insurance_no"),
        # Lists show live (unmerged) records newest first and count them up to a cap: these
        # indexes give the page in order and the count without reading the table — all, key
        # patients (few, hence partial), a department's.
        sa.Index("ix_patients_patient_hospital_created", "hospital_id", "created_at", "id",
                 postgresql_where=sa.text("merged_into_id IS NULL"), sqlite_where=sa.text("merged_into_id IS NULL")),
        sa.Index("ix_patients_patient_key", "hospital_id", "created_at", "id",
                 postgresql_where=sa.text("key_patient AND merged_into_id IS NULL"),
                 sqlite_where=sa.text("key_patient AND merged_into_id IS NULL")),
        sa.Index("ix_patients_patient_department_created", "hospital_id", "department_id", "created_at", "id",
                 postgresql_where=sa.text("merged_into_id IS NULL"), sqlite_where=sa.text("merged_into_id IS NULL")),
    )
    __hcrm_audit_exclude__ = ("phone_last4",)

    id = sa.Column(sa.Integer, primary_key=True)
    # Without the mixins' single-column indexes: the composite ones above lead with them.
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False)
    department_id = sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=True)
    name = sa.Column(sa.String(64), nullable=False)
    gender = sa.Column(sa.String(1), nullable=False, default="U")
    birth_date = sa.Column(sa.Date, nullable=True)
    id_number = sa.Column(sa.String(18), nullable=True)
    phone = sa.Column(sa.String(32), nullable=True)
    phone_last4 = sa.Column(sa.String(4), nullable=True)
    phone2 = sa.Column(sa.String(32), nullable=True)
    insurance_no = sa.Column(sa.String(32), nullable=True)
    region_id = sa.Column(sa.Integer, sa.ForeignKey("patients_region.id"), nullable=True)
    address = sa.Column(sa.String(200), nullable=True)
    occupation = sa.Column(sa.String(64), nullable=True)
    source_id = sa.Column(sa.Integer, sa.ForeignKey("patients_source.id"), nullable=True, index=True)
    referrer_id = sa.Column(sa.Integer, sa.ForeignKey("patients_referrer.id"), nullable=True, index=True)
    key_patient = sa.Column(sa.Boolean, nullable=False, default=False)
    # Marketing SMS consent: True agreed, False opted out (never sent bulk SMS), None not asked
    # (care messages yes, marketing no). See plugins.patients.services.CONSENT_VALUES.
    sms_consent = sa.Column(sa.Boolean, nullable=True)
    notes = sa.Column(sa.Text, nullable=True)
    external_id = sa.Column(sa.String(64), nullable=True)  # the HIS's patient id
    merged_into_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    source = relationship("Source")
    region = relationship("Region")
    referrer = relationship("Referrer")
    department = relationship("Department")
    owner = relationship("User", foreign_keys="Patient.owner_id")
    tags = relationship("Tag", secondary=patient_tags, lazy="selectin", order_by="Tag.name")

    def __str__(self) -> str:
        return self.name


class SearchKey(DataScoped, db.Model):
    """The name index: a patient's name and its pinyin, full and initials (every reading of
    polyphonic characters), one key per row, matched by prefix: ``zs``, ``zhangs`` and ``张``
    find 张三. Kept by plugins.patients.search_index.

    The patient's owner, department and registration time are copied here, so the data scope
    applies to this table as to the patients, and a name search finds, orders (newest first)
    and counts its matches from one index, reading only the page's patients."""

    __tablename__ = "patients_search_key"
    __table_args__ = (
        sa.Index("ix_patients_search_key_lookup", "hospital_id", "key", "created_at", "patient_id", "owner_id",
                 "department_id", postgresql_ops={"key": "varchar_pattern_ops"}),
    )
    __hcrm_audit__ = False  # derived from the patient, which is audited

    id = sa.Column(sa.Integer, primary_key=True)
    # Copies without indexes or foreign keys of their own: the lookup index leads with the
    # hospital and covers the rest; the patient's row holds the references.
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False)
    owner_id = sa.Column(sa.Integer, nullable=True)
    department_id = sa.Column(sa.Integer, nullable=True)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id", ondelete="CASCADE"),
                           nullable=False, index=True)
    key = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(sa.DateTime, nullable=False)  # the patient's


class HealthRecord(HospitalOwned, db.Model):
    """健康档案: one per patient; its history is the audit log's."""

    __tablename__ = "patients_health_record"
    id = sa.Column(sa.Integer, primary_key=True)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id", ondelete="CASCADE"),
                           nullable=False, unique=True)
    allergies = sa.Column(sa.Text, nullable=True)
    past_history = sa.Column(sa.Text, nullable=True)
    family_history = sa.Column(sa.Text, nullable=True)
    smoking = sa.Column(sa.String(64), nullable=True)
    drinking = sa.Column(sa.String(64), nullable=True)
    diet = sa.Column(sa.String(200), nullable=True)
    exercise = sa.Column(sa.String(200), nullable=True)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)


class Disease(HospitalOwned, db.Model):
    """The disease catalogue: the shipped ICD-10 starter list plus the hospital's own entries."""

    __tablename__ = "patients_disease"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)
    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(16), nullable=False)
    name = sa.Column(sa.String(128), nullable=False)
    custom = sa.Column(sa.Boolean, nullable=False, default=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Visit(DataScoped, db.Model):
    """就诊记录: an outpatient, inpatient or emergency visit. ``department_id`` is the visit's
    department; ``owner_id`` the staff member who recorded it."""

    __tablename__ = "patients_visit"
    __table_args__ = (
        sa.UniqueConstraint("hospital_id", "external_id"),
        sa.Index("ix_patients_visit_hospital_visit_at", "hospital_id", "visit_at"),
        sa.Index("ix_patients_visit_patient_visit_at", "patient_id", "visit_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    # HIS syncs write visits by the million, and every index and foreign-key check is paid per
    # row (measured on PostgreSQL: each foreign key ~5 µs, a third of a row's cost, ~1 µs even
    # when NULL). So the patient reference is the only foreign key here: hospitals, departments
    # and users are never deleted (departments and users are deactivated) and the tenancy layer
    # guards the hospital.
    # No single-column indexes either: (hospital_id, visit_at) and the unique (hospital_id,
    # external_id) lead with the hospital; visits are read by patient or by time, then scoped.
    hospital_id = sa.Column(sa.Integer, nullable=False)
    owner_id = sa.Column(sa.Integer, nullable=True)
    department_id = sa.Column(sa.Integer, nullable=True)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False, default="outpatient")
    status = sa.Column(sa.String(16), nullable=False, default="completed")
    visit_at = sa.Column(sa.DateTime, nullable=False)
    discharge_at = sa.Column(sa.DateTime, nullable=True)
    doctor_id = sa.Column(sa.Integer, nullable=True)
    doctor_name = sa.Column(sa.String(64), nullable=True)  # as the HIS names the doctor
    treatment_plan = sa.Column(sa.Text, nullable=True)
    orders = sa.Column(sa.Text, nullable=True)
    spending = sa.Column(sa.Numeric(12, 2), nullable=False, default=0)
    external_id = sa.Column(sa.String(64), nullable=True)  # the HIS's visit id: syncs stay idempotent
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    patient = relationship("Patient", backref="visits")
    department = relationship("Department", primaryjoin="Department.id == foreign(Visit.department_id)")
    doctor = relationship("User", primaryjoin="User.id == foreign(Visit.doctor_id)")
    diagnoses = relationship("Diagnosis", cascade="all, delete-orphan", lazy="selectin",
                             order_by="Diagnosis.position")


class Diagnosis(HospitalOwned, db.Model):
    """A visit's diagnosis. ``patient_id`` and ``visit_at`` repeat the visit's so that "patients
    with disease D seen between two dates" is one index range scan at a million patients."""

    __tablename__ = "patients_diagnosis"
    __table_args__ = (
        sa.Index("ix_patients_diagnosis_disease_time", "hospital_id", "disease_id", "visit_at", "patient_id"),
    )
    id = sa.Column(sa.Integer, primary_key=True)
    visit_id = sa.Column(sa.Integer, sa.ForeignKey("patients_visit.id", ondelete="CASCADE"), nullable=False, index=True)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id"), nullable=False)
    visit_at = sa.Column(sa.DateTime, nullable=False)
    disease_id = sa.Column(sa.Integer, sa.ForeignKey("patients_disease.id"), nullable=True)
    code = sa.Column(sa.String(16), nullable=False)
    name = sa.Column(sa.String(128), nullable=False)
    position = sa.Column(sa.Integer, nullable=False, default=0)  # 0 = the primary diagnosis


MODELS = [Source, Region, Referrer, Tag, Patient, SearchKey, HealthRecord, Disease, Visit, Diagnosis]
