"""Plans and rounds as people use them: pages, services, transitions, bad input, the patient
panel, settings, merge, tenancy."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.followup.models import Category, Method, Plan, Round, Settings
from plugins.followup.tests.conftest import catalogue_ids, hospital, new_patient, user

NOW = local_now().replace(second=0, microsecond=0)


def _form_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M")


def _new_plan(client, pid, ids, **overrides):
    data = {"patient_id": pid, "category_id": ids["category_chronic"], "method_id": ids["method_phone"],
            "due_at": _form_time(NOW + timedelta(hours=2)), "owner_id": "", "content": "问血压", **overrides}
    return client.post("/followup/plans/new", data=data)


def _plan(app, plan_id) -> Plan:
    with app.app_context(), hospital_scope(hospital("A")):
        plan = db.session.execute(sa.select(Plan).where(Plan.id == plan_id)).scalar_one()
        db.session.expunge(plan)
        return plan


def test_enabling_seeds_methods_categories_and_settings_once(app, centre):
    from plugins.followup.planning.setup import seed_defaults
    with app.app_context(), hospital_scope(hospital("A")):
        seed_defaults(hospital("A"))  # again, as after a disable/enable cycle
        db.session.commit()
        methods = db.session.execute(sa.select(Method.name, Method.sends_sms).order_by(Method.position)).all()
        assert methods == [("电话", False), ("短信", True), ("微信", False), ("上门", False)]
        assert db.session.execute(sa.select(sa.func.count(Category.id))).scalar_one() == 6
        assert db.session.execute(sa.select(Settings.escalate_after_hours)).scalars().all() == [24]


def test_plan_from_the_patient_page_round_and_next_plan(app, client, centre):
    with app.app_context():
        pid = new_patient("A", name="王五", key_patient=True, owner_id=centre["a_doc"])
        ids = catalogue_ids("A")
    login(client, "a_doc")
    page = client.get(f"/patients/{pid}?tab=followup.plans")
    assert page.status_code == 200 and "/followup/plans/new?patient_id=" in page.get_data(as_text=True)
    response = _new_plan(client, pid, ids)
    assert response.status_code == 302
    plan_id = int(response.headers["Location"].rsplit("/", 1)[1])
    plan = _plan(app, plan_id)
    assert (plan.owner_id, plan.status, plan.content) == (centre["a_doc"], "pending", "问血压")
    next_due = NOW + timedelta(days=14)
    response = client.post(f"/followup/plans/{plan_id}/rounds", data={
        "at": _form_time(NOW - timedelta(minutes=5)), "method_id": str(ids["method_phone"]), "reached": "1",
        "result": "血压平稳", "notes": "", "next_due_at": _form_time(next_due), "outcome": "completed"})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        round_ = db.session.execute(sa.select(Round)).scalar_one()
        follow = db.session.execute(sa.select(Plan).where(Plan.previous_plan_id == plan_id)).scalar_one()
        assert (round_.user_id, round_.reached, round_.result, round_.next_plan_id) == \
            (centre["a_doc"], True, "血压平稳", follow.id)
        assert (follow.due_at, follow.owner_id, follow.status) == (next_due, centre["a_doc"], "pending")
        assert db.session.get(Plan, plan_id).status == "completed"
    shown = client.get(f"/followup/plans/{plan_id}").get_data(as_text=True)
    assert "血压平稳" in shown and "王五" in shown


def test_a_round_on_a_cancelled_plan_is_refused(app, client, centre):
    with app.app_context():
        pid = new_patient("A")
        ids = catalogue_ids("A")
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    plan_id = int(_new_plan(client, pid, ids).headers["Location"].rsplit("/", 1)[1])
    assert client.post(f"/followup/plans/{plan_id}/status", data={"status": "cancelled"}).status_code == 302
    response = client.post(f"/followup/plans/{plan_id}/rounds", data={"at": _form_time(NOW), "reached": "1",
                                                                      "outcome": "completed"}, follow_redirects=True)
    assert "This plan is Cancelled: a follow-up round cannot be recorded on it." in response.get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count(Round.id))).scalar_one() == 0
    # a cancelled plan may be reopened; a completed one may not become pending
    assert client.post(f"/followup/plans/{plan_id}/status", data={"status": "pending"}).status_code == 302
    assert _plan(app, plan_id).status == "pending"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"due_at": "tomorrow"}, "due_at", "Enter a date and time"),
    ({"due_at": ""}, "due_at", "Enter when the follow-up is due"),
    ({"due_at": "2099-01-01T10:00"}, "due_at", "More than 3 years ahead"),
    ({"method_id": "99999"}, "method_id", "Choose an active method"),
    ({"owner_id": "99999"}, "owner_id", "does not exist"),
])
def test_bad_plans_are_refused_with_the_field_named(app, client, centre, fields, field, message):
    with app.app_context():
        pid = new_patient("A")
        ids = catalogue_ids("A")
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    response = _new_plan(client, pid, ids, **fields)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count(Plan.id))).scalar_one() == 0


def test_bad_rounds_are_refused_and_nothing_is_written(app, centre):
    from plugins.followup.planning import plan_services
    from plugins.followup.planning.errors import FollowupInvalid, PlanStateError
    with app.app_context(), app.test_request_context():
        pid = new_patient("A")
        ids = catalogue_ids("A")
        with hospital_scope(hospital("A"), user=user("a_admin")):
            from plugins.patients.public import Patient
            patient = db.session.get(Patient, pid)
            plan = plan_services.create_plan(patient, {"category_id": ids["category_chronic"],
                                                       "method_id": ids["method_phone"], "due_at": NOW},
                                             centre["a_admin"])
            for data, field in (({"at": NOW + timedelta(days=1)}, "at"), ({"next_due_at": NOW - timedelta(days=1)},
                                                                          "next_due_at"),
                                ({"outcome": "cancelled"}, "outcome"), ({"result": "x" * 201}, "result"),
                                ({"at": "13/01/2026"}, "at")):
                with pytest.raises(FollowupInvalid) as caught:
                    plan_services.record_round(plan, data, centre["a_admin"])
                assert field in caught.value.errors
            plan_services.set_status(plan, "completed")
            with pytest.raises(PlanStateError):
                plan_services.set_status(plan, "pending")
            with pytest.raises(PlanStateError):
                plan_services.record_round(plan, {}, centre["a_admin"])
            assert db.session.execute(sa.select(sa.func.count(Round.id))).scalar_one() == 0


def test_an_unreached_patient_leaves_the_plan_in_progress(app, centre):
    from plugins.followup.planning import plan_services
    from plugins.patients.public import Patient
    with app.app_context(), app.test_request_context():
        pid = new_patient("A")
        ids = catalogue_ids("A")
        with hospital_scope(hospital("A"), user=user("a_admin")):
            plan = plan_services.create_plan(db.session.get(Patient, pid), {
                "category_id": ids["category_chronic"], "method_id": ids["method_phone"], "due_at": NOW},
                centre["a_admin"])
            plan_services.record_round(plan, {"reached": False, "result": "无人接听"}, centre["a_admin"])
            assert plan.status == "in_progress" and plan.closed_at is None


def test_a_private_method_is_offered_to_its_author_only(app, client, centre):
    login(client, "a_doc")
    assert client.post("/followup/settings/methods", data={"name": "随访APP", "shared": ""}).status_code == 302
    assert "随访APP" in client.get("/followup/settings/methods").get_data(as_text=True)
    other = app.test_client()
    login(other, "a_doc2")
    assert "随访APP" not in other.get("/followup/settings/methods").get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        method = db.session.execute(sa.select(Method).where(Method.name == "随访APP")).scalar_one()
        assert (method.shared, method.created_by_id) == (False, centre["a_doc"])
    # another user may not change it
    assert other.post(f"/followup/settings/methods/{method.id}", data={"active": "0"}).status_code == 403


def test_settings_categories_and_escalation_delay(app, client, centre):
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    assert client.post("/followup/settings/", data={"category-name": "疫苗提醒"}).status_code == 302
    assert client.post("/followup/settings/", data={"category-name": "疫苗提醒"}).status_code == 400
    bad = client.post("/followup/settings/", data={"escalation-escalate_after_hours": "-3"})
    assert bad.status_code == 400 and "Enter between 1 and 720 hours" in bad.get_data(as_text=True)
    assert client.post("/followup/settings/", data={"escalation-escalate_after_hours": "48"}).status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(Settings.escalate_after_hours)).scalar_one() == 48
        assert db.session.execute(sa.select(Category.id).where(Category.name == "疫苗提醒")).first()
    staff = app.test_client()
    login(staff, "a_doc")
    assert staff.get("/followup/settings/").status_code == 403


def test_merging_patients_moves_plans_and_rounds(app, centre):
    from plugins.followup.planning import plan_services
    from plugins.patients.public import Patient
    with app.app_context(), app.test_request_context():
        source, target = new_patient("A", name="赵六"), new_patient("A", name="赵六")
        ids = catalogue_ids("A")
        with hospital_scope(hospital("A"), user=user("a_admin")):
            plan = plan_services.create_plan(db.session.get(Patient, source), {
                "category_id": ids["category_chronic"], "method_id": ids["method_phone"], "due_at": NOW,
                "owner_id": centre["a_doc"]}, None)
            plan_services.record_round(plan, {}, centre["a_admin"])
            plan_services.move_patient_rows(db.session.get(Patient, source), db.session.get(Patient, target))
            db.session.commit()
            assert set(db.session.execute(sa.select(Plan.patient_id)).scalars()) == {target}
            assert set(db.session.execute(sa.select(Round.patient_id)).scalars()) == {target}


def test_another_hospitals_plan_is_a_404(app, client, centre):
    with app.app_context():
        pid = new_patient("A")
        ids = catalogue_ids("A")
    login(client, "a_admin")
    plan_id = int(_new_plan(client, pid, ids).headers["Location"].rsplit("/", 1)[1])
    other = app.test_client()
    login(other, "b_admin")
    assert other.get(f"/followup/plans/{plan_id}").status_code == 404
    assert other.post(f"/followup/plans/{plan_id}/rounds", data={}).status_code == 404
    assert other.get(f"/followup/plans/new?patient_id={pid}").status_code == 404
    assert f"/followup/plans/{plan_id}\"" not in other.get("/followup/?view=team&bucket=today").get_data(as_text=True)


def test_disabled_plugin_has_no_menu_pages_or_panel(app, client, centre):
    from core import activation
    from core.tenancy import system_scope
    with app.app_context():
        pid = new_patient("A")
        with system_scope():
            activation.disable(hospital("A"), "followup")
            db.session.commit()
    login(client, "a_admin")
    assert client.get("/followup/").status_code == 404
    page = client.get(f"/patients/{pid}").get_data(as_text=True)
    assert "/followup/" not in page


def test_plan_content_from_a_phrase_or_a_template_filled_for_the_patient(app, client, centre):
    """The plan form offers the phrase library and the SMS templates: chosen with an empty
    content, the phrase's text or the template filled for this patient becomes the content."""
    from plugins.followup.models import Phrase, SmsTemplate
    with app.app_context():
        pid = new_patient("A", name="孙八")
        ids = catalogue_ids("A")
        with hospital_scope(hospital("A")):
            phrase = db.session.execute(sa.select(Phrase).order_by(Phrase.id)).scalars().first()
            template = SmsTemplate(name="问候", body="{name}您好,我们是{hospital}随访中心。")
            db.session.add(template)
            db.session.commit()
            phrase_id, phrase_text, template_id = phrase.id, phrase.text, template.id
    login(client, "a_admin")
    form = client.get(f"/followup/plans/new?patient_id={pid}").get_data(as_text=True)
    assert f'value="phrase:{phrase_id}"' in form and f'value="template:{template_id}"' in form
    for source, expected in ((f"phrase:{phrase_id}", phrase_text), (f"template:{template_id}", "孙八您好,我们是甲医院随访中心。")):
        response = _new_plan(client, pid, ids, content="", content_from=source)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        with app.app_context(), hospital_scope(hospital("A")):
            latest = db.session.execute(sa.select(Plan).order_by(Plan.id.desc())).scalars().first()
            assert latest.content == expected
    bad = _new_plan(client, pid, ids, content="", content_from="phrase:999999")
    assert bad.status_code == 400 and "请从列表中选择短语或模板" in bad.get_data(as_text=True)
