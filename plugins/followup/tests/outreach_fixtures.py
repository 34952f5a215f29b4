"""Fixtures of the outreach tests: hospitals A and B with the followup plugin, C without it,
users, patients (with a mobile, a landline only, none), a visit, and helpers for plans/rounds."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.models import Hospital, User
from core.tenancy import hospital_scope, system_scope
from core.testing import make_department, make_hospital, make_user
from plugins.followup.models import Plan, Round
from plugins.patients import public as patient_services


def hospital(code: str) -> Hospital:
    with system_scope():
        return db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one()


def user(username: str) -> User:
    with system_scope():
        return db.session.execute(sa.select(User).where(User.username == username)).scalar_one()


def patient_in(code: str, name: str, **data):
    with hospital_scope(hospital(code)):
        return patient_services.create_patient({"name": name, **data}, allow_duplicate=True)


def plan_and_round(code: str, patient_id: int, *, reached=True, questionnaire_id=None, visit_id=None,
                   status="completed"):
    """A plan (with a questionnaire) and one round on it, as the planning part records them."""
    with hospital_scope(hospital(code)):
        agent = user(f"{code.lower()}_staff")
        plan = Plan(patient_id=patient_id, due_at=local_now() - timedelta(hours=1), status=status,
                    questionnaire_id=questionnaire_id, visit_id=visit_id, owner_id=agent.id,
                    department_id=agent.department_id)
        db.session.add(plan)
        db.session.flush()
        round_ = Round(plan_id=plan.id, patient_id=patient_id, user_id=agent.id, at=local_now().replace(microsecond=0),
                       reached=reached)
        db.session.add(round_)
        db.session.commit()
        return plan.id, round_.id


@pytest.fixture
def outreach(app):
    """A and B have followup (and patients); C has patients only. In A: 张三 (mobile, male),
    李四 (landline, second phone a mobile, female), 王五 (landline only), 赵六 (no phone)."""
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["followup"])
        b = make_hospital("B", "乙医院", plugins=["followup"])
        make_hospital("C", "丙医院", plugins=["patients"])
        ortho = make_department(a, "ORTH", "骨科")
        make_department(b, "ORTH", "骨科")
        make_user(a, "a_admin", ("super_admin",))
        make_user(a, "a_manager", ("dept_manager",), department=ortho)
        make_user(a, "a_staff", ("staff",), department=ortho)
        make_user(a, "a_analyst", ("analyst",))
        make_user(b, "b_admin", ("super_admin",))
        make_user(b, "b_staff", ("staff",))
        zhang = patient_in("A", "张三", gender="M", phone="13812345678", department_id=ortho.id)
        li = patient_in("A", "李四", gender="F", phone="0730-1234567", phone2="13900001111", department_id=ortho.id)
        wang = patient_in("A", "王五", phone="0730-7654321", department_id=ortho.id)
        zhao = patient_in("A", "赵六")
        other = patient_in("B", "钱七", phone="13700002222")
        with hospital_scope(a):
            doctor = user("a_manager")
            visit = patient_services.record_visit(
                zhang,
                {"kind": "inpatient", "visit_at": datetime(2026, 3, 2, 9, 0), "discharge_at": datetime(2026, 3, 9, 10, 0),
                 "department_id": ortho.id, "doctor_id": doctor.id})
        return {"a": a.id, "b": b.id, "ortho": ortho.id, "zhang": zhang.id, "li": li.id, "wang": wang.id,
                "zhao": zhao.id, "other": other.id, "visit": visit.id}
