"""Fixtures: hospitals A and B with patients + complaints; A has two departments, a complaint
office clerk, a department manager, a doctor and a user without roles; B an administrator."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import Hospital, User
from core.tenancy import hospital_scope, system_scope
from core.testing import make_department, make_hospital, make_user


def _one(model, column, value):
    with system_scope():
        return db.session.execute(sa.select(model).where(column == value)).scalar_one()


def hospital(code: str) -> Hospital:
    return _one(Hospital, Hospital.code, code)


def user(username: str) -> User:
    return _one(User, User.username, username)


def ids_of(model, code: str) -> dict:
    """code → id of a choice list (channels, categories) in hospital ``code``."""
    with hospital_scope(hospital(code)):
        return dict(db.session.execute(sa.select(model.code, model.id)).all())


@pytest.fixture
def centre(app):
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["patients", "complaints"])
        b = make_hospital("B", "乙医院", plugins=["patients", "complaints"])
        surgery, im = make_department(a, "SURG", "外科"), make_department(a, "IM", "内科")
        b_dept = make_department(b, "SURG", "外科")
        ids = {"a": a.id, "b": b.id, "surgery": surgery.id, "im": im.id, "b_dept": b_dept.id}
        for name, roles, dept in (("a_admin", ("super_admin",), None), ("a_office", ("complaint_office",), None),
                                  ("a_manager", ("dept_manager",), surgery), ("a_doc", ("staff",), surgery),
                                  ("a_nobody", (), None)):
            ids[name] = make_user(a, name, roles, department=dept).id
        ids["b_admin"] = make_user(b, "b_admin", ("super_admin",)).id
        ids["b_doc"] = make_user(b, "b_doc", ("staff",), department=b_dept).id
        from plugins.complaints.models import ComplaintCategory, ComplaintChannel
        ids["channels"], ids["categories"] = ids_of(ComplaintChannel, "A"), ids_of(ComplaintCategory, "A")
    return ids
