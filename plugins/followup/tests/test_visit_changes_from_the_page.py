"""A visit discharged later or deleted on the patient's page: its follow-ups follow."""
from datetime import timedelta

from core.clock import local_now
from core.testing import login
from plugins.followup.tests.conftest import new_patient, new_rule, new_visit, plans_of

DAY = timedelta(days=1)


def test_discharging_an_admitted_inpatient_on_the_page_plans_the_discharge_rule(app, client, centre):
    with app.app_context():
        new_rule("A", offsets="1d, 7d")
        pid = new_patient("A")
        vid = new_visit("A", pid)  # admitted three days ago, not discharged
        assert plans_of("A") == []
    login(client, "a_admin")
    discharge = local_now().replace(second=0, microsecond=0) - DAY
    response = client.post(f"/patients/{pid}/visits/{vid}/discharge",
                           data={"discharge_at": discharge.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    with app.app_context():
        assert [(p[1], p[3], p[6]) for p in plans_of("A")] == [(vid, discharge + DAY, "pending"),
                                                              (vid, discharge + 7 * DAY, "pending")]


def test_a_discharge_time_typed_on_the_visits_edit_form_is_the_discharge(app, client, centre):
    with app.app_context():
        new_rule("A", offsets="1d")
        pid = new_patient("A")
        admitted = (local_now() - 5 * DAY).replace(second=0, microsecond=0)
        vid = new_visit("A", pid, visit_at=admitted)
    login(client, "a_admin")
    discharge = admitted + 3 * DAY
    response = client.post(f"/patients/{pid}/visits/{vid}/edit", data={
        "kind": "inpatient", "status": "admitted", "visit_at": admitted.strftime("%Y-%m-%dT%H:%M"),
        "discharge_at": discharge.strftime("%Y-%m-%dT%H:%M"), "spending": "0"})
    assert response.status_code == 302
    with app.app_context():
        assert [(p[1], p[3]) for p in plans_of("A")] == [(vid, discharge + DAY)]
        from core.extensions import db
        from core.tenancy import hospital_scope
        from plugins.followup.tests.conftest import hospital
        from plugins.patients.public import Visit
        with hospital_scope(hospital("A")):
            assert db.session.get(Visit, vid).status == "discharged"


def test_deleting_a_visit_cancels_its_open_plans_and_keeps_them_listed(app, client, centre):
    with app.app_context():
        new_rule("A", offsets="1d")
        pid = new_patient("A")
        discharge = (local_now() - 2 * DAY).replace(microsecond=0)
        vid = new_visit("A", pid, visit_at=discharge - 3 * DAY, discharge_at=discharge)
        assert [p[6] for p in plans_of("A")] == ["pending"]
    login(client, "a_admin")
    assert client.post(f"/patients/{pid}/visits/{vid}/delete").status_code == 302
    with app.app_context():
        assert [(p[1], p[6]) for p in plans_of("A")] == [(None, "cancelled")]
