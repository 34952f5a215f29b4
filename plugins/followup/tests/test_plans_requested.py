"""The published hook ``followup_plans_requested``: another plugin emits
``followup.plans_requested`` and gets pending plans, inside the hospital only, once each."""
from datetime import datetime, timedelta

import sqlalchemy as sa

from core import events
from core.clock import local_today
from core.extensions import db
from core.tenancy import hospital_scope
from plugins.followup.models import Plan
from plugins.followup.tests.conftest import hospital, new_patient

DUE = datetime.combine(local_today() + timedelta(days=1), datetime.min.time()).replace(hour=9)


def test_requested_plans_are_made_once_for_this_hospitals_patients(app, centre):
    with app.app_context():
        mine = new_patient("A", "张三", owner_id=centre["a_doc"])
        theirs = new_patient("B", "李四")
        requests = [{"patient_id": mine, "due_at": DUE, "category": "birthday", "method": "sms", "content": "生日快乐"},
                    {"patient_id": theirs, "due_at": DUE, "category": "birthday"}]
        with hospital_scope(hospital("A")):
            events.emit("followup.plans_requested", requests=requests)
            events.emit("followup.plans_requested", requests=requests)  # again: nothing new
            db.session.commit()
            plans = db.session.execute(sa.select(Plan)).scalars().all()
            assert [(p.patient_id, p.owner_id, p.category.code, p.method.code, p.status, p.content) for p in plans] == [
                (mine, centre["a_doc"], "birthday", "sms", "pending", "生日快乐")]
        with hospital_scope(hospital("B")):
            assert db.session.execute(sa.select(sa.func.count()).select_from(Plan)).scalar_one() == 0
