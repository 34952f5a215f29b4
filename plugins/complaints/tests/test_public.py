"""The public form (no login): a complaint with channel "web" and a reference number, the status
check by reference + phone's last 4 digits, the honeypot, the per-address throttle (page and API
share it), and hospitals where the plugin is off."""
import re

import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import make_hospital
from plugins.complaints.models import Complaint, PublicAttempt
from plugins.complaints.tests.conftest import hospital


def _form(centre, **extra):
    return {"category_id": centre["categories"]["waiting"], "name": "<b>张先生</b>", "phone": "139 0000 4321",
            "description": "门诊排队两个小时。<script>x()</script>", **extra}


def _complaints(app, code="A"):
    """(reference, channel code, owner, status, due date, id) of the hospital's complaints."""
    with app.app_context(), hospital_scope(hospital(code)):
        return [(c.reference, c.channel.code, c.owner_id, c.status, c.due_date, c.id)
                for c in db.session.execute(sa.select(Complaint)).scalars()]


def test_a_patient_files_from_the_public_page_and_checks_its_status(app, client, centre):
    client.post("/language", data={"locale": "en"})
    assert client.get("/complaints/public/A/").status_code == 200
    response = client.post("/complaints/public/A/", data=_form(centre))
    assert response.status_code == 201
    reference = re.search(r'id="reference">([^<]+)<', response.get_data(as_text=True)).group(1)
    [(ref, channel, owner, state, due, cid)] = _complaints(app)
    assert (ref, channel, owner, state) == (reference, "web", None, "new") and due is not None
    status = client.post("/complaints/public/A/status", data={"reference": reference, "last4": "4321"})
    assert status.status_code == 200 and "Received" in status.get_data(as_text=True)
    wrong = client.post("/complaints/public/A/status", data={"reference": reference, "last4": "0000"})
    assert wrong.status_code == 404 and "No complaint matches" in wrong.get_data(as_text=True)
    # Another hospital's status page does not know it.
    assert client.post("/complaints/public/B/status", data={"reference": reference, "last4": "4321"}).status_code == 404
    # The office sees it escaped.
    from core.testing import login
    office = app.test_client()
    login(office, "a_office")
    page = office.get(f"/complaints/{cid}").get_data(as_text=True)
    assert "<script>x()</script>" not in page and "&lt;b&gt;张先生&lt;/b&gt;" in page


def test_honeypot_and_bad_input_write_nothing(app, client, centre):
    assert client.post("/complaints/public/A/", data=_form(centre, website="http://spam")).status_code == 422
    assert client.post("/complaints/public/A/", data=_form(centre, phone="12")).status_code == 422
    other_category = centre["categories"]["waiting"] + 10_000
    assert client.post("/complaints/public/A/", data=_form(centre, category_id=other_category)).status_code == 422
    assert _complaints(app) == []


def test_a_flood_from_one_address_is_throttled_page_and_api_alike(app, client, centre):
    for _ in range(5):  # the hospital's default: 5 an hour per address
        assert client.post("/complaints/public/A/", data=_form(centre)).status_code == 201
    flooded = client.post("/complaints/public/A/", data=_form(centre))
    assert flooded.status_code == 429 and int(flooded.headers["Retry-After"]) > 0
    api = client.post("/api/v1/complaints/public/A", json=_form(centre))
    assert api.status_code == 429 and "Retry-After" in api.headers
    assert len(_complaints(app)) == 5
    # Another address is not affected.
    other = client.post("/complaints/public/A/", data=_form(centre), environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 201
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count()).select_from(PublicAttempt)).scalar_one() == 6  # throttled ones are not counted again


def test_public_api_endpoint(app, client, centre):
    response = client.post("/api/v1/complaints/public/A", json=_form(centre))
    assert response.status_code == 201 and response.get_json()["status"] == "received"
    assert response.get_json()["reference"].startswith("TS")
    refused = client.post("/api/v1/complaints/public/A", json=_form(centre, website="x"))
    assert refused.status_code == 422 and "website" in refused.get_json()["error"]["fields"]
    assert client.post("/api/v1/complaints/public/A", json={"phone": "1"}).status_code == 422
    reference = response.get_json()["reference"]
    status = client.get("/api/v1/complaints/public/A/status", query_string={"reference": reference, "last4": "4321"})
    assert status.status_code == 200 and status.get_json()["status"] == "received" and status.get_json()["due_date"]
    assert client.get("/api/v1/complaints/public/A/status",
                      query_string={"reference": reference, "last4": "1234"}).status_code == 404
    assert client.get("/api/v1/complaints/public/B/status",
                      query_string={"reference": reference, "last4": "4321"}).status_code == 404
    assert client.get("/api/v1/complaints/public/A/status",
                      query_string={"reference": reference, "last4": "12ab"}).status_code == 400


def test_hospital_without_the_plugin_or_with_the_form_closed_is_404(app, client, centre):
    with app.app_context():
        make_hospital("OFF")
    assert client.get("/complaints/public/OFF/").status_code == 404
    assert client.post("/api/v1/complaints/public/OFF", json=_form(centre)).status_code == 404
    assert client.get("/complaints/public/NOPE/").status_code == 404
    from plugins.complaints.settings_services import settings
    with app.app_context(), hospital_scope(hospital("A")):
        settings().public_intake = False
        db.session.commit()
    assert client.get("/complaints/public/A/").status_code == 404


def test_guessing_the_last_4_digits_is_throttled(app, client, centre):
    reference = client.post("/api/v1/complaints/public/A", json=_form(centre)).get_json()["reference"]
    answers = [client.get("/api/v1/complaints/public/A/status",
                          query_string={"reference": reference, "last4": f"{n:04d}"}).status_code for n in range(21)]
    assert answers[:20] == [404] * 20 and answers[20] == 429
    # The page shares the address's allowance.
    assert client.post("/complaints/public/A/status", data={"reference": reference, "last4": "4321"}).status_code == 429
