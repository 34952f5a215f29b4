"""The hotline's pages: recording and listing calls, the call page, the tab on the patient page."""
import re

import pytest
import sqlalchemy as sa
from hcrm_hotline.models import Call
from hotline_testing import PHONE, add_patient, sign_in

from core import activation
from core.config import ConfigError, PluginSettings
from core.extensions import db
from core.models import Hospital
from core.tenancy import hospital_scope, system_scope
from core.testing import PASSWORD, login


def calls_of(app, hospital_id):
    with app.app_context(), hospital_scope(hospital_id):
        return [(c.phone, c.topic, c.patient_id) for c in db.session.execute(sa.select(Call)).scalars()]


def test_a_call_from_a_patients_number_is_linked_to_the_patient(app, client, clinic):
    sign_in(client, "a_admin")  # sees every patient of the hospital (a staff user: only their own)
    assert client.get("/hotline/new").status_code == 200
    response = client.post("/hotline/new", data={"phone": "138 1234 5678", "topic": "Results?"})
    assert response.status_code == 302
    assert calls_of(app, clinic["a"]) == [(PHONE, "Results?", clinic["patient"])]
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Results?" in page and "张三" in page
    listing = client.get("/hotline/").get_data(as_text=True)
    assert "Results?" in listing and PHONE in listing


def test_bad_input_is_refused_with_field_errors_and_nothing_is_saved(app, client, clinic):
    sign_in(client, "a_staff")
    response = client.post("/hotline/new", data={"phone": PHONE, "topic": "  "})
    assert response.status_code == 400
    assert "Enter the topic of the call." in response.get_data(as_text=True)
    response = client.post("/hotline/new", data={"phone": "12ab", "topic": "Results?"})
    assert response.status_code == 400
    assert "is not a mobile number" in response.get_data(as_text=True)
    response = client.post("/hotline/new", data={"phone": PHONE, "topic": "<b>x</b>", "patient_id": "999999"})
    assert response.status_code == 400
    assert "Unknown patient: it does not exist in this hospital." in response.get_data(as_text=True)
    assert calls_of(app, clinic["a"]) == []


def test_a_patient_of_another_hospital_cannot_be_named(app, client, clinic):
    with app.app_context():
        other = add_patient(clinic["b"], "李四", "13900000000")
    sign_in(client, "a_staff")
    response = client.post("/hotline/new", data={"phone": PHONE, "topic": "Who?", "patient_id": str(other)})
    assert response.status_code == 400
    assert "Unknown patient" in response.get_data(as_text=True)
    assert calls_of(app, clinic["a"]) == []


def test_the_pages_are_chinese_by_default(app, client, clinic):
    login(client, "a_staff")
    assert "登记来电" in client.get("/hotline/").get_data(as_text=True)


def test_user_text_is_escaped(app, client, clinic):
    sign_in(client, "a_staff")
    client.post("/hotline/new", data={"phone": PHONE, "topic": "<script>alert(1)</script>"})
    page = client.get("/hotline/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_a_hospital_sees_only_its_own_calls(app, client, clinic):
    sign_in(client, "a_staff")
    client.post("/hotline/new", data={"phone": PHONE, "topic": "Call of hospital A"})
    with app.app_context(), hospital_scope(clinic["a"]):
        call_id = db.session.execute(sa.select(Call.id)).scalar_one()
    other = app.test_client()
    sign_in(other, "b_admin")
    assert "Call of hospital A" not in other.get("/hotline/").get_data(as_text=True)
    assert other.get(f"/hotline/{call_id}").status_code == 404


def test_the_list_filters_by_number_and_refuses_a_bad_one(app, client, clinic):
    sign_in(client, "a_staff")
    client.post("/hotline/new", data={"phone": PHONE, "topic": "First caller"})
    client.post("/hotline/new", data={"phone": "0731-84567890", "topic": "Second caller"})
    page = client.get("/hotline/?phone=0731 8456 7890").get_data(as_text=True)
    assert "Second caller" in page and "First caller" not in page
    response = client.get("/hotline/?phone=abc&since=2026-13-01")
    assert response.status_code == 400
    assert "is not a mobile number" in response.get_data(as_text=True)


def test_the_patient_page_has_a_hotline_tab_with_the_calls(app, client, clinic):
    sign_in(client, "a_admin")
    patient_page = f"/patients/{clinic['patient']}"
    assert 'id="pane-hotline.calls"' not in client.get(patient_page).get_data(as_text=True)  # no calls: no tab
    client.post("/hotline/new", data={"phone": PHONE, "topic": "Visiting hours?"})
    page = client.get(patient_page).get_data(as_text=True)
    assert "Visiting hours?" in page and 'id="pane-hotline.calls"' in page
    _switch(app, "A", enabled=False)
    response = client.get(patient_page)
    assert response.status_code == 200 and "Visiting hours?" not in response.get_data(as_text=True)


def csrf_token(client, url):
    match = re.search(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"', client.get(url).get_data(as_text=True))
    assert match, f"the form of {url} carries no CSRF token"
    return match.group(1)


def test_a_post_without_csrf_token_is_refused(app_factory, clinic):
    application = app_factory(WTF_CSRF_ENABLED=True)
    client = application.test_client()
    assert client.post("/login", data={"username": "a_staff", "password": PASSWORD,
                                       "csrf_token": csrf_token(client, "/login")}).status_code == 302
    assert client.post("/hotline/new", data={"phone": PHONE, "topic": "Forged"}).status_code == 400
    assert calls_of(application, clinic["a"]) == []
    token = csrf_token(client, "/hotline/new")
    response = client.post("/hotline/new", data={"phone": PHONE, "topic": "Genuine", "csrf_token": token})
    assert response.status_code == 302
    assert [topic for _phone, topic, _patient in calls_of(application, clinic["a"])] == ["Genuine"]


def test_without_permission_a_user_cannot_record(app, client, clinic):
    sign_in(client, "a_analyst")  # analysts read, they do not create
    assert client.get("/hotline/").status_code == 200
    assert client.post("/hotline/new", data={"phone": PHONE, "topic": "No"}).status_code == 403
    assert calls_of(app, clinic["a"]) == []


def test_disabling_hides_the_pages_and_keeps_the_calls(app, client, clinic):
    sign_in(client, "a_staff")
    client.post("/hotline/new", data={"phone": PHONE, "topic": "Kept while disabled"})
    _switch(app, "A", enabled=False)
    assert client.get("/hotline/").status_code == 404
    _switch(app, "A", enabled=True)
    assert "Kept while disabled" in client.get("/hotline/").get_data(as_text=True)


def _switch(app, code, *, enabled):
    """Enable or disable the hotline for a hospital, as the Apps screen does."""
    with app.app_context(), system_scope():
        hospital = db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one()
        (activation.enable if enabled else activation.disable)(hospital, "hotline")
        db.session.commit()


def test_the_list_shows_the_hospitals_hotline_numbers_from_the_settings(app_factory, clinic):
    settings = PluginSettings("hotline", {"numbers": ["0731-12345"]}, {"B": {"numbers": ["0731-67890"]}})
    application = app_factory(config_overrides={"plugins_settings": {"hotline": settings}})
    a, b = application.test_client(), application.test_client()
    sign_in(a, "a_staff")
    sign_in(b, "b_admin")
    assert "Hotline numbers: 0731-12345" in a.get("/hotline/").get_data(as_text=True)
    assert "Hotline numbers: 0731-67890" in b.get("/hotline/").get_data(as_text=True)


def test_settings_that_are_not_a_list_stop_the_start(app_factory):
    settings = PluginSettings("hotline", {"numbers": "0731-12345"})
    with pytest.raises(ConfigError, match="numbers.*must be a list of phone numbers"):
        app_factory(config_overrides={"plugins_settings": {"hotline": settings}})
