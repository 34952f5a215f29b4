"""Service plans: tasks at the right dates for the tier's members (idempotent), statuses and
completion rates, bad input; with followup live the tasks become follow-up plans."""
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from core.clock import local_today
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login, make_hospital
from plugins.vip import service_plans, tiering
from plugins.vip.models import ServicePlan, ServiceTask
from plugins.vip.tests.conftest import add_patient, apply_rules, hospital, tier_ids


def _birthday_in(days: int) -> date:
    day = local_today() + timedelta(days=days)
    return day.replace(year=1980) if not (day.month == 2 and day.day == 29) else date(1980, 2, 28)


def _make_members(app, code="A", owner_id=None):
    with app.app_context():
        gold = add_patient(code, "金", birth_date=_birthday_in(3), visits=[(1, 25000)], owner_id=owner_id)
        diamond = add_patient(code, "钻", birth_date=_birthday_in(40), visits=[(0, 60000)] + [(d, 10) for d in range(2, 13)])
        silver = add_patient(code, "银", birth_date=_birthday_in(2), visits=[(5, 6000)])
        hid = hospital(code).id
        apply_rules(code)
        return {"gold": gold, "diamond": diamond, "silver": silver, "hid": hid}


def _tasks(code):
    with hospital_scope(hospital(code)):
        return sorted((t.plan.name, t.patient_id, t.due_date, t.channel)
                      for t in db.session.execute(sa.select(ServiceTask)).scalars())


def test_tasks_are_generated_at_the_right_dates_once(app, vip):
    ids = _make_members(app)
    with app.app_context():
        with hospital_scope(ids["hid"]):
            made = service_plans.generate(ids["hid"])
            assert service_plans.generate(ids["hid"]) == 0  # again: nothing new
            db.session.commit()
        tasks = _tasks("A")
        assert made == len(tasks)
        assert ("生日关怀", ids["gold"], local_today() + timedelta(days=3), "vip") in tasks  # gold birthday in 3 days
        assert ("就诊后专属电话", ids["diamond"], local_today() + timedelta(days=1), "vip") in tasks  # the day after the visit
        assert not [t for t in tasks if t[1] == ids["silver"] and t[0] == "生日关怀"]  # silver has no birthday plan
        assert not [t for t in tasks if t[1] == ids["diamond"] and t[0] == "生日关怀"]  # birthday beyond the horizon


def test_status_changes_and_completion_rates(app, client, vip):
    ids = _make_members(app, owner_id=vip["a_staff"])  # staff see their own patients' tasks
    with app.app_context(), hospital_scope(ids["hid"]):
        service_plans.generate(ids["hid"])
        db.session.commit()
        task = db.session.execute(sa.select(ServiceTask).where(ServiceTask.patient_id == ids["gold"])).scalars().first()
        task_id = task.id
        with pytest.raises(tiering.VipInvalid):
            service_plans.set_status(task, "finished", None, None)
    login(client, "a_staff")
    assert client.post(f"/vip/tasks/{task_id}", data={"status": "done", "note": "已电话问候"}).status_code == 302
    with app.app_context(), hospital_scope(ids["hid"]):
        done = db.session.get(ServiceTask, task_id)
        assert (done.status, done.note, done.done_by_id) == ("done", "已电话问候", vip["a_staff"])
        rates = {row["name"]: row for row in service_plans.completion("plan")}
        assert rates[done.plan.name]["done"] == 1 and rates[done.plan.name]["rate"] > 0
    admin = app.test_client()
    login(admin, "a_admin")
    for url in ("/vip/plans", "/vip/tasks", "/vip/tasks?status=done", "/vip/plans/new"):
        assert admin.get(url).status_code == 200, url


@pytest.mark.parametrize("data, field", [
    ({"name": "", "kind": "birthday"}, "name"),
    ({"name": "x", "kind": "nope"}, "kind"),
    ({"name": "x", "kind": "festival", "festival_dates": "13-45"}, "festival_dates"),
    ({"name": "x", "kind": "after_visit", "days_after": "-2"}, "days_after"),
    ({"name": "x", "kind": "birthday", "method": "pigeon"}, "method"),
])
def test_bad_service_plans_are_refused(app, vip, data, field):
    with app.app_context(), hospital_scope(hospital("A")):
        data = {"tier_id": tier_ids("A")["gold"], **data}
        before = db.session.execute(sa.select(sa.func.count()).select_from(ServicePlan)).scalar_one()
        with pytest.raises(tiering.VipInvalid) as refused:
            service_plans.save_plan(data)
        assert field in refused.value.errors
        db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count()).select_from(ServicePlan)).scalar_one() == before
    with app.app_context(), hospital_scope(hospital("A")):
        with pytest.raises(tiering.VipInvalid) as refused:
            service_plans.save_plan({"name": "x", "kind": "birthday", "tier_id": tier_ids("B")["gold"]})
        assert "tier_id" in refused.value.errors


def test_with_followup_live_the_tasks_become_follow_up_plans(app, vip):
    with app.app_context():
        make_hospital("C", "丙医院", plugins=["patients", "followup", "vip"])
    ids = _make_members(app, "C")
    with app.app_context(), hospital_scope(ids["hid"]):
        made = service_plans.generate(ids["hid"])
        db.session.commit()
        assert made > 0
        channels = set(db.session.execute(sa.select(ServiceTask.channel)).scalars())
        assert channels == {"followup"}
        plans = db.session.execute(sa.text("SELECT patient_id FROM followup_plan WHERE hospital_id = :h"),
                                   {"h": ids["hid"]}).scalars().all()
        assert ids["gold"] in plans and ids["diamond"] in plans
