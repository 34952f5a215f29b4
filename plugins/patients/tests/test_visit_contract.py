"""A visit as the API documents it: spending is a decimal string in the document as in the
answers, and times before 1901 are refused (forms and API) instead of coming back with the
zone database's local mean time offset (+08:05:43)."""
import re

from core.testing import api_token
from plugins.patients.tests.test_pages import add_patient, browser, text

EN = {"Accept-Language": "en"}


def test_spending_is_documented_as_the_decimal_string_the_api_answers(app, client, clinic):
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = spec["components"]["schemas"]["patients.Visit"]["properties"]["spending"]
    assert (documented["type"], documented["format"]) == ("string", "decimal")
    patient_id = add_patient(app, clinic["a"], {"name": "张三"})
    auth = {**api_token(client, "a_admin"), **EN}
    created = client.post(f"/api/v1/patients/{patient_id}/visits", headers=auth,
                          json={"visit_at": "2024-05-01T09:00:00", "spending": 1280.5})
    assert created.status_code == 201
    assert created.get_json()["spending"] == "1280.50"
    assert re.fullmatch(documented["pattern"], created.get_json()["spending"])


def test_api_refuses_visit_times_before_1900_and_out_of_range_offsets(app, client, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "张三"})
    auth = {**api_token(client, "a_admin"), **EN}
    url = f"/api/v1/patients/{patient_id}/visits"
    for when in ("0030-05-01T09:00:00", "1900-12-31T23:59:59", "0001-01-01T00:00:00+14:00",
                 "9999-12-31T23:00:00-12:00"):
        response = client.post(url, headers=auth, json={"visit_at": when})
        assert response.status_code == 422, when
        assert response.get_json()["error"]["fields"]["visit_at"] == ["Enter a date from 1901 to 9998."], when
    assert client.get(url, headers=auth).get_json()["total"] == 0
    kept = client.post(url, headers=auth, json={"visit_at": "1901-01-01T08:00:00"})
    assert kept.status_code == 201 and kept.get_json()["visit_at"] == "1901-01-01T08:00:00+08:00"


def test_the_visit_form_refuses_a_year_0030_with_a_message(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "张三"})
    page = browser(app, "a_admin")
    response = page.post(f"/patients/{patient_id}/visits", data={"kind": "outpatient", "visit_at": "0030-05-01T09:00"})
    assert response.status_code == 400
    assert "Enter a date from 1901 on." in text(response)
