"""Fixtures for the followup plugin's tests: two hospitals with the plugin (and patients), their
departments and users, and helpers that record patients, visits and rules through the real
services (so the visit hook fires as it does for the pages, the API and the HIS sync)."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.models import Hospital, User
from core.tenancy import hospital_scope
from core.testing import make_department, make_hospital, make_user


def hospital(code: str) -> Hospital:
    return db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one()


def user(username: str) -> User:
    from core.tenancy import system_scope
    with system_scope():
        return db.session.execute(sa.select(User).where(User.username == username)).scalar_one()


def new_patient(code: str, name: str = "张三", **fields):
    """A patient of hospital ``code`` (created inside its scope); returns its id."""
    from plugins.patients import public as services
    with hospital_scope(hospital(code), user=user(fields.pop("as_user", f"{code.lower()}_admin"))):
        patient = services.create_patient({"name": name, **fields}, allow_duplicate=True)
        return patient.id


def new_visit(code: str, patient_id: int, **fields) -> int:
    """Record a visit through patients' services (fires the bulk visit hook); returns its id."""
    from plugins.patients import public as services
    from plugins.patients.public import Patient
    with hospital_scope(hospital(code), user=user(fields.pop("as_user", f"{code.lower()}_admin"))):
        patient = db.session.execute(sa.select(Patient).where(Patient.id == patient_id)).scalar_one()
        data = {"kind": "inpatient", "visit_at": local_now() - timedelta(days=3), **fields}
        return services.record_visit(patient, data).id


def catalogue_ids(code: str) -> dict:
    """Ids of the hospital's default methods and categories by code."""
    from plugins.followup.models import Category, Method
    with hospital_scope(hospital(code)):
        ids = {f"method_{m.code}": m.id for m in db.session.execute(sa.select(Method)).scalars()}
        ids |= {f"category_{c.code}": c.id for c in db.session.execute(sa.select(Category)).scalars()}
    return ids


def new_rule(code: str, *, applies_from=None, **fields) -> int:
    """A rule of hospital ``code`` through the rules service; defaults: phone, post-discharge,
    discharged inpatients, 1d/7d/30d, the visit's doctor. ``applies_from`` back-dates it."""
    from plugins.followup.planning import rules
    ids = catalogue_ids(code)
    data = {"name": "出院随访", "trigger": "discharged", "visit_kind": "inpatient", "offsets": "1d, 7d, 30d",
            "method_id": ids["method_phone"], "category_id": ids["category_post_discharge"], "assign_to": "doctor",
            **fields}
    with hospital_scope(hospital(code), user=user(f"{code.lower()}_admin")):
        rule = rules.create_rule(data)
        if applies_from is not None:
            rule.applies_from = applies_from
        db.session.commit()
        return rule.id


def plans_of(code: str, **where):
    """The hospital's plans (hospital-wide scope), ordered by due time, as plain tuples."""
    from plugins.followup.models import Plan
    with hospital_scope(hospital(code)):
        stmt = sa.select(Plan).filter_by(**where).order_by(Plan.due_at, Plan.id)
        return [(p.id, p.visit_id, p.rule_step_id, p.due_at, p.owner_id, p.department_id, p.status)
                for p in db.session.execute(stmt).scalars()]


@pytest.fixture
def centre(app):
    """Hospitals A and B with patients + followup live; A has ORTH and IM, a supervisor in ORTH,
    two doctors (staff), an analyst; B has an admin. Returns ids by name."""
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["patients", "followup"])
        b = make_hospital("B", "乙医院", plugins=["patients", "followup"])
        ortho, im = make_department(a, "ORTH", "骨科"), make_department(a, "IM", "内科")
        b_ortho = make_department(b, "ORTH", "骨科")
        ids = {"a": a.id, "b": b.id, "ortho": ortho.id, "im": im.id, "b_ortho": b_ortho.id}
        for name, roles, dept in (("a_admin", ("super_admin",), None), ("a_super", ("supervisor",), ortho),
                                  ("a_doc", ("staff",), ortho), ("a_doc2", ("staff",), im),
                                  ("a_analyst", ("analyst",), None), ("a_nobody", (), None)):
            ids[name] = make_user(a, name, roles, department=dept).id
        ids["b_admin"] = make_user(b, "b_admin", ("super_admin",)).id
    return ids


# -- the outreach part's fixtures (defined in outreach_fixtures.py) ---------------------------
from plugins.followup.tests.outreach_fixtures import outreach  # noqa: E402,F401
