"""Plans generated from visits by rules: matching, due times, assignees, idempotency (UI, API,
replays, bulk), no retro-planning, tenancy and the disabled plugin."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core import activation
from core.clock import local_now
from core.extensions import db
from core.tenancy import hospital_scope, system_scope
from core.testing import api_token, login
from plugins.followup.models import Plan
from plugins.followup.tests.conftest import hospital, new_patient, new_rule, new_visit, plans_of, user

DAY = timedelta(days=1)


def _discharged(days_ago=2):
    discharge = (local_now() - timedelta(days=days_ago)).replace(microsecond=0)
    return {"kind": "inpatient", "visit_at": discharge - 5 * DAY, "discharge_at": discharge}


def test_a_discharge_plans_each_step_at_its_offset_for_the_visits_doctor(app, centre):
    with app.app_context():
        new_rule("A", department_id=centre["ortho"])
        pid = new_patient("A", department_id=centre["ortho"])
        data = _discharged()
        vid = new_visit("A", pid, department_id=centre["ortho"], doctor_id=centre["a_doc"], **data)
        plans = plans_of("A")
    assert [p[3] for p in plans] == [data["discharge_at"] + d * DAY for d in (1, 7, 30)]
    assert {(p[1], p[4], p[5], p[6]) for p in plans} == {(vid, centre["a_doc"], centre["ortho"], "pending")}


def test_kind_department_and_disease_codes_must_match(app, centre):
    with app.app_context():
        new_rule("A", name="高血压", trigger="recorded", visit_kind="outpatient", disease_codes="I10", offsets="14d")
        new_rule("A", name="骨科", department_id=centre["ortho"], offsets="1d")
        pid = new_patient("A")
        hypertension = new_visit("A", pid, kind="outpatient", visit_at=local_now() - DAY, diagnoses=["I10"])
        diabetes = new_visit("A", pid, kind="outpatient", visit_at=local_now() - DAY, diagnoses=["E11.9"])
        im_discharge = new_visit("A", pid, department_id=centre["im"], **_discharged())
        ortho_admitted = new_visit("A", pid, department_id=centre["ortho"], visit_at=local_now() - DAY)
        planned = {p[1] for p in plans_of("A")}
    assert hypertension in planned
    assert not {diabetes, im_discharge, ortho_admitted} & planned


def test_api_discharge_later_and_replays_plan_each_step_once(app, client, centre):
    with app.app_context():
        new_rule("A")
        pid = new_patient("A")
    headers = api_token(client, "a_admin")
    admitted = client.post(f"/api/v1/patients/{pid}/visits", headers=headers,
                           json={"kind": "inpatient", "visit_at": (local_now() - 5 * DAY).isoformat()})
    assert admitted.status_code == 201, admitted.get_json()
    vid = admitted.get_json()["id"]
    with app.app_context():
        assert plans_of("A") == []  # not discharged yet
    discharge = (local_now() - DAY).replace(microsecond=0, second=0)
    for _ in range(2):  # the discharge, then the HIS sending it again
        response = client.patch(f"/api/v1/patients/{pid}/visits/{vid}", headers=headers,
                                json={"discharge_at": discharge.isoformat()})
        assert response.status_code == 200, response.get_json()
    with app.app_context():
        from plugins.patients.public import announce_visits
        with hospital_scope(hospital("A")):
            announce_visits([vid, vid])  # a replayed batch
            db.session.commit()
        plans = plans_of("A")
    assert len(plans) == 3 and plans[0][3] == discharge + DAY


def test_a_discharged_visit_posted_through_the_api_is_planned(app, client, centre):
    with app.app_context():
        new_rule("A")
        pid = new_patient("A")
    at = (local_now() - 3 * DAY).replace(microsecond=0, second=0)
    response = client.post(f"/api/v1/patients/{pid}/visits", headers=api_token(client, "a_admin"),
                           json={"kind": "inpatient", "visit_at": (at - 4 * DAY).isoformat(),
                                 "discharge_at": at.isoformat()})
    assert response.status_code == 201
    with app.app_context():
        assert [p[3] for p in plans_of("A")] == [at + d * DAY for d in (1, 7, 30)]


def test_a_discharge_recorded_on_the_patient_page_is_planned(app, client, centre):
    with app.app_context():
        new_rule("A", offsets="24h")
        pid = new_patient("A")
    login(client, "a_admin")
    discharge = local_now().replace(second=0, microsecond=0) - DAY
    response = client.post(f"/patients/{pid}/visits", data={
        "kind": "inpatient", "status": "", "visit_at": (discharge - 3 * DAY).strftime("%Y-%m-%dT%H:%M"),
        "discharge_at": discharge.strftime("%Y-%m-%dT%H:%M"), "spending": "0"})
    assert response.status_code == 302
    with app.app_context():
        assert [p[3] for p in plans_of("A")] == [discharge + DAY]


def test_a_rule_added_later_does_not_plan_old_visits_unless_applied_since(app, centre):
    from plugins.followup.models import Rule
    from plugins.followup.planning import rules
    from plugins.patients.public import announce_visits
    with app.app_context():
        pid = new_patient("A")
        old = new_visit("A", pid, **_discharged(days_ago=20))
        rule_id = new_rule("A")
        with hospital_scope(hospital("A")):
            announce_visits([old])  # the HIS replays last month's visit
            db.session.commit()
        assert plans_of("A") == []
        with hospital_scope(hospital("A")):
            rule = db.session.execute(sa.select(Rule).where(Rule.id == rule_id)).scalar_one()
            made = rules.apply_since(rule, (local_now() - 30 * DAY).date().isoformat())
            again = rules.apply_since(rule, (local_now() - 30 * DAY).date())
            db.session.commit()
        assert (made, again) == (3, 0)
        assert len(plans_of("A")) == 3


def test_cancelled_visits_and_merged_patients_are_skipped(app, centre):
    from plugins.patients.public import Patient
    with app.app_context():
        new_rule("A", trigger="recorded", visit_kind=None)
        pid, other = new_patient("A"), new_patient("A", name="李四")
        new_visit("A", pid, status="cancelled", **_discharged())
        with hospital_scope(hospital("A")):
            db.session.execute(sa.update(Patient).where(Patient.id == other).values(merged_into_id=pid))
            db.session.commit()
        new_visit("A", other, **_discharged())
        assert plans_of("A") == []


@pytest.mark.parametrize("assign_to", ["owner", "user", "role"])
def test_assignees(app, centre, assign_to):
    with app.app_context():
        extra = {"user": {"assignee_user_id": centre["a_doc2"]}}.get(assign_to, {})
        if assign_to == "role":
            from core.models import Role
            with hospital_scope(hospital("A")):
                extra = {"assignee_role_id": db.session.execute(
                    sa.select(Role.id).where(Role.code == "staff")).scalar_one()}
        new_rule("A", assign_to=assign_to, offsets="1d", **extra)
        pid = new_patient("A", owner_id=centre["a_super"])
        new_visit("A", pid, department_id=centre["im"], doctor_id=centre["a_doc"], **_discharged())
        owner = plans_of("A")[0][4]
    # role: the staff member working in the visit's department (IM) before the lower-id one in ORTH
    assert owner == {"owner": centre["a_super"], "user": centre["a_doc2"], "role": centre["a_doc2"]}[assign_to]


def test_without_a_doctor_the_patients_owner_gets_the_plan(app, centre):
    with app.app_context():
        new_rule("A", offsets="1d")
        pid = new_patient("A", owner_id=centre["a_doc2"])
        new_visit("A", pid, doctor_name="HIS 王医生", **_discharged())
        assert plans_of("A")[0][4] == centre["a_doc2"]


def test_a_his_batch_is_planned_in_one_call_and_a_replay_writes_nothing(app, centre):
    from plugins.followup.planning.generation import plan_visits
    from plugins.patients.public import Patient, Visit
    with app.app_context():
        new_rule("A", applies_from=datetime(2000, 1, 1))
        pid = new_patient("A")
        discharge = local_now().replace(microsecond=0) - DAY
        with hospital_scope(hospital("A")):
            rows = [{"hospital_id": centre["a"], "patient_id": pid, "kind": "inpatient", "status": "discharged",
                     "visit_at": discharge - 2 * DAY, "discharge_at": discharge - timedelta(minutes=i), "spending": 0}
                    for i in range(250)]
            ids = db.session.execute(sa.insert(Visit).returning(Visit.id), rows).scalars().all()
            assert plan_visits(centre["a"], ids) == 750
            assert plan_visits(centre["a"], ids) == 0
            db.session.commit()
            assert db.session.execute(sa.select(sa.func.count(Plan.id))).scalar_one() == 750
            assert db.session.execute(sa.select(Patient.id)).scalar_one() == pid


def test_other_hospitals_rules_never_plan_and_their_plans_stay_apart(app, centre):
    with app.app_context():
        new_rule("B")
        pid = new_patient("A")
        new_visit("A", pid, **_discharged())
        assert plans_of("A") == [] and plans_of("B") == []
        new_rule("A")
        b_pid = new_patient("B")
        new_visit("B", b_pid, **_discharged())
        assert len(plans_of("B")) == 3 and plans_of("A") == []


def test_disabled_plugin_plans_nothing_and_keeps_its_data(app, client, centre):
    with app.app_context():
        new_rule("A")
        pid = new_patient("A")
        new_visit("A", pid, **_discharged())
        with system_scope():
            activation.disable(hospital("A"), "followup")
            db.session.commit()
    discharge = local_now().replace(microsecond=0) - DAY
    response = client.post(f"/api/v1/patients/{pid}/visits", headers=api_token(client, "a_admin"),
                           json={"kind": "inpatient", "visit_at": (discharge - DAY).isoformat(),
                                 "discharge_at": discharge.isoformat()})
    assert response.status_code == 201
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count(Plan.id))).scalar_one() == 3  # kept, none added


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"offsets": "-1d"}, "offsets", "positive"),
    ({"offsets": "0d"}, "offsets", "positive"),
    ({"offsets": "1d, 1d"}, "offsets", "twice"),
    ({"offsets": "1200d"}, "offsets", "3 years"),
    ({"offsets": "soon"}, "offsets", "not an offset"),
    ({"offsets": ""}, "offsets", "at least one"),
    ({"department_id": 99999}, "department_id", "does not exist"),
    ({"method_id": 99999}, "method_id", "method"),
    ({"category_id": None}, "category_id", "category"),
    ({"disease_codes": "ZZ9"}, "disease_codes", "No disease"),
    ({"disease_codes": "i10; 12"}, "disease_codes", "not an ICD-10"),
    ({"assign_to": "role"}, "assignee_role_id", "role"),
    ({"assign_to": "user", "assignee_user_id": 99999}, "assignee_user_id", "does not exist"),
    ({"trigger": "admitted"}, "trigger", "recorded"),
    ({"name": " "}, "name", "name"),
])
def test_bad_rules_are_refused_and_nothing_is_written(app, centre, fields, field, words):
    from flask_babel import force_locale

    from plugins.followup.models import Rule
    from plugins.followup.planning.errors import FollowupInvalid
    with app.app_context(), app.test_request_context(), force_locale("en"):
        with pytest.raises(FollowupInvalid) as caught:
            new_rule("A", **fields)
        assert words.lower() in caught.value.errors[field].lower()
        with hospital_scope(hospital("A")):
            assert db.session.execute(sa.select(sa.func.count(Rule.id))).scalar_one() == 0


def test_a_department_of_another_hospital_is_unknown(app, centre):
    from plugins.followup.planning.errors import FollowupInvalid
    with app.app_context(), pytest.raises(FollowupInvalid) as caught:
        new_rule("A", department_id=centre["b_ortho"])
    assert "department_id" in caught.value.errors


def test_editing_offsets_keeps_plans_of_removed_steps(app, centre):
    from plugins.followup.models import Rule
    from plugins.followup.planning import rules
    with app.app_context():
        rule_id = new_rule("A")
        pid = new_patient("A")
        new_visit("A", pid, **_discharged())
        with hospital_scope(hospital("A"), user=user("a_admin")):
            rule = db.session.execute(sa.select(Rule).where(Rule.id == rule_id)).scalar_one()
            rules.update_rule(rule, {"offsets": ["1d", "90d"]})
            db.session.commit()
            assert [rules.format_offset(s.offset_minutes) for s in rule.steps] == ["1d", "90d"]
        plans = plans_of("A")
        assert len(plans) == 3 and sum(1 for p in plans if p[2] is None) == 2
