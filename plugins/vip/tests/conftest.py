"""Fixtures for the vip plugin's tests: hospitals A and B with patients + vip live, their users,
and helpers writing patients and visits directly (bulk rows, as a HIS sync would)."""
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.models import Hospital
from core.tenancy import hospital_scope
from core.testing import make_department, make_hospital, make_user


def hospital(code: str) -> Hospital:
    return db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one()


def add_patient(code: str, name: str = "张三", *, visits=(), **fields) -> int:
    """A patient of hospital ``code`` with ``visits`` as (days ago, spending) pairs; returns its id."""
    from plugins.patients.public import Patient, Visit
    with hospital_scope(hospital(code)):
        patient = Patient(name=name, **fields)
        db.session.add(patient)
        db.session.flush()
        now = local_now()
        for days_ago, spending in visits:
            db.session.add(Visit(patient_id=patient.id, owner_id=patient.owner_id, department_id=patient.department_id,
                                 hospital_id=patient.hospital_id, visit_at=now - timedelta(days=days_ago),
                                 spending=Decimal(str(spending))))
        db.session.commit()
        return patient.id


def add_visits(code: str, patient_id: int, visits) -> None:
    from plugins.patients.public import Visit
    with hospital_scope(hospital(code)):
        now = local_now()
        for days_ago, spending in visits:
            db.session.add(Visit(patient_id=patient_id, hospital_id=hospital(code).id,
                                 visit_at=now - timedelta(days=days_ago), spending=Decimal(str(spending))))
        db.session.commit()


def apply_rules(code: str) -> None:
    """Re-tier hospital ``code`` now (what the queued task does) and commit."""
    from plugins.vip import retier
    with hospital_scope(hospital(code)) as scope:
        retier.apply(scope.hospital_id)
        db.session.commit()


def tier_ids(code: str) -> dict[str, int]:
    from plugins.vip.models import Tier
    with hospital_scope(hospital(code)):
        return {t.code: t.id for t in db.session.execute(sa.select(Tier)).scalars()}


def members(code: str) -> dict[int, str]:
    """patient id → tier code of the hospital's members."""
    from plugins.vip.models import Member, Tier
    with hospital_scope(hospital(code)):
        rows = db.session.execute(sa.select(Member.patient_id, Tier.code).join(Tier, Tier.id == Member.tier_id)).all()
        return dict(rows)


@pytest.fixture
def vip(app):
    """Hospitals A and B with patients + vip; A: an admin, a director-less supervisor, a staff
    member in ORTH, an analyst and a user without roles; B: an admin. Returns ids by name."""
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["patients", "vip"])
        b = make_hospital("B", "乙医院", plugins=["patients", "vip"])
        ortho = make_department(a, "ORTH", "骨科")
        ids = {"a": a.id, "b": b.id, "ortho": ortho.id}
        for name, roles, dept in (("a_admin", ("super_admin",), None), ("a_super", ("supervisor",), ortho),
                                  ("a_staff", ("staff",), ortho), ("a_analyst", ("analyst",), None),
                                  ("a_nobody", (), None)):
            ids[name] = make_user(a, name, roles, department=dept).id
        ids["b_admin"] = make_user(b, "b_admin", ("super_admin",)).id
    return ids
