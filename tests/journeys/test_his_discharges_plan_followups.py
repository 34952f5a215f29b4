"""A journey across built-in plugins: the HIS connector brings a discharge in, the follow-up
centre plans the calls its rule says — once, however often the sync runs or replays the visit.

Cross-plugin journeys live here (not in a plugin's tests) because no plugin depends on both.
They run against the SQLite HIS and, when available, the MariaDB one (fixtures of the HIS
connector's tests).
"""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import clock
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import make_department, make_hospital, make_user
from plugins.followup.models import Category, Method, Plan
from plugins.followup.planning import rules

# The HIS connector's test HIS (MariaDB and SQLite sources) and its helpers; the fixtures are
# imported so pytest finds them here too.
from plugins.his_connector.testing import connect, his, mariadb_his, sqlite_his, sync  # noqa: F401


@pytest.fixture
def hospital(app):
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["his_connector", "followup"])
        ortho = make_department(a, "ORTH", "骨科")
        make_department(a, "NEURO", "神经内科")
        owner = make_user(a, "a_nurse", ("staff",), department=ortho)
        with hospital_scope(a.id):
            phone = db.session.execute(sa.select(Method).where(Method.code == "phone")).scalar_one()
            post_discharge = db.session.execute(sa.select(Category).order_by(Category.position)).scalars().first()
            rules.create_rule({"name": "骨科出院随访", "trigger": "discharged", "visit_kind": "inpatient",
                               "department_id": ortho.id, "category_id": post_discharge.id, "method_id": phone.id,
                               "assign_to": "user", "assignee_user_id": owner.id, "offsets": "1d 7d 30d"})
            db.session.commit()
        return {"a": a.id, "ortho": ortho.id, "nurse": owner.id}


def plans(hospital_id):
    with hospital_scope(hospital_id):
        return db.session.execute(sa.select(Plan.due_at, Plan.owner_id, Plan.department_id)
                                  .order_by(Plan.due_at)).all()


def test_a_synced_discharge_plans_its_followups_once(app, hospital, his):  # noqa: F811 (the fixture)
    admitted = clock.local_now().replace(second=0) - timedelta(days=5)
    discharged = admitted + timedelta(days=3)
    his.patient("P1", "张三")
    his.visit(1, "P1", JZLX="2", JZZT="1", RYSJ=admitted, CYSJ=None, KSDM="0101")  # still in hospital
    his.visit(2, "P1", JZLX="1", JZZT="3", RYSJ=admitted, KSDM="0101")  # an outpatient visit: no rule
    his.tick(120)
    with app.app_context():
        connection = connect(his, hospital["a"], safety_lag=0)
        first = sync(hospital["a"], connection)
        assert [(r["entity"], r["inserted"]) for r in first] == [("patients", 1), ("visits", 2)]
        assert plans(hospital["a"]) == [], "an admitted patient has no discharge follow-up yet"

        his.tick(5)
        his.update("ZY_JZJL", "JZID", 1, JZZT="2", CYSJ=discharged, GXSJ=his.tick(5))
        his.tick(120)
        second = sync(hospital["a"], connection)
        assert [(r["entity"], r["updated"]) for r in second] == [("patients", 0), ("visits", 1)]
        expected = [(discharged + timedelta(days=d), hospital["nurse"], hospital["ortho"]) for d in (1, 7, 30)]
        assert plans(hospital["a"]) == expected

        third = sync(hospital["a"], connection)
        assert all(r["inserted"] == r["updated"] == 0 for r in third)
        replay = sync(hospital["a"], connection, full=True)
        assert sum(r["inserted"] + r["updated"] for r in replay) == 0
        assert plans(hospital["a"]) == expected, "a replay must not plan the discharge again"
