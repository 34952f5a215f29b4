"""Demo complaints (every state, idempotent, in their hospital only) and the patient page's tab."""
from collections import Counter

import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.complaints import demo
from plugins.complaints.models import Complaint
from plugins.complaints.tests.conftest import hospital


def test_demo_complaints_cover_every_state_and_load_once(app, centre):
    with app.app_context(), hospital_scope(hospital("A")):
        demo.load(hospital("A"))
        db.session.commit()
        states = Counter(db.session.execute(sa.select(Complaint.status)).scalars())
        demo.load(hospital("A"))
        db.session.commit()
        assert sum(Counter(db.session.execute(sa.select(Complaint.status)).scalars()).values()) == sum(states.values())
    assert sum(states.values()) >= 30
    assert {"new", "assigned", "replied", "closed"} <= set(states)
    with app.app_context(), hospital_scope(hospital("B")):
        assert db.session.execute(sa.select(Complaint.id)).first() is None


def test_patient_page_tab_lists_the_patients_complaints(app, client, centre):
    from plugins.patients import public as patient_services
    with app.app_context(), hospital_scope(hospital("A")):
        patient = patient_services.create_patient({"name": "周九", "phone": "13822223333"}, allow_duplicate=True)
        db.session.commit()
        pid = patient.id
    login(client, "a_office")
    body = {"channel_id": centre["channels"]["phone"], "category_id": centre["categories"]["nursing"],
            "patient_id": pid, "description": "夜间呼叫无人应答"}
    assert client.post("/complaints/new", data=body).status_code == 302
    page = client.get(f"/patients/{pid}").get_data(as_text=True)
    assert "TS" in page and f"/complaints/new?patient_id={pid}" in page
    assert 'id="patient-name">周九<' in client.get(f"/complaints/new?patient_id={pid}").get_data(as_text=True)
