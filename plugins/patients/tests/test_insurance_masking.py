"""The medical insurance number is as sensitive as phones and ID numbers: masked for users
without patients.view_sensitive on pages, in the API and in exports; unmasked views audited."""
import io

import sqlalchemy as sa
from openpyxl import load_workbook

from core.extensions import db
from core.models import AuditLog, Hospital
from core.tenancy import system_scope
from core.testing import api_token, make_user
from plugins.patients.identity import mask_insurance_no
from plugins.patients.tests.test_pages import add_patient, browser, text, view_audits

NUMBER = "HN430621778899"
MASKED = "HN********8899"


def test_the_mask_keeps_two_leading_and_four_trailing_characters():
    assert mask_insurance_no(NUMBER) == MASKED
    assert mask_insurance_no("1234567") == "*******"
    assert mask_insurance_no(None) is None and mask_insurance_no("") == ""


def test_staff_sees_the_insurance_number_masked_everywhere(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "吴十", "insurance_no": NUMBER}, owner="a_staff")
    with app.app_context():
        with system_scope():
            make_user(db.session.get(Hospital, clinic["a"]), "a_analyst", ("analyst",))
    staff = browser(app, "a_staff")
    for url in (f"/patients/{patient_id}", f"/patients/{patient_id}/edit", "/patients/?q=wushi"):
        assert NUMBER not in text(staff.get(url)), url
    assert MASKED in text(staff.get(f"/patients/{patient_id}"))
    assert MASKED in text(staff.get(f"/patients/{patient_id}/edit"))  # as the hint of an empty box
    auth = api_token(staff, "a_staff")
    assert staff.get(f"/api/v1/patients/{patient_id}", headers=auth).get_json()["insurance_no"] == MASKED
    assert staff.get("/api/v1/patients", headers=auth).get_json()["items"][0]["insurance_no"] == MASKED
    analyst = browser(app, "a_analyst")
    exported = analyst.get("/patients/transfer/export?format=csv").get_data(as_text=True)
    assert MASKED in exported and NUMBER not in exported
    sheet = load_workbook(io.BytesIO(analyst.get("/patients/transfer/export?format=xlsx").data)).active
    assert MASKED in [cell for row in sheet.iter_rows(values_only=True) for cell in row]
    assert view_audits(app, clinic["a"]) == []


def test_an_edit_by_staff_keeps_the_number_they_cannot_see(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "吴十", "insurance_no": NUMBER}, owner="a_staff")
    staff = browser(app, "a_staff")
    staff.post(f"/patients/{patient_id}/edit", data={"name": "吴十一", "gender": "U", "insurance_no": ""})
    director = browser(app, "a_director")
    assert NUMBER in text(director.get(f"/patients/{patient_id}"))


def test_the_director_sees_it_and_each_view_is_audited(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "吴十", "insurance_no": NUMBER}, owner="a_staff")
    director = browser(app, "a_director")
    assert NUMBER in text(director.get(f"/patients/{patient_id}"))
    audits = view_audits(app, clinic["a"])
    assert len(audits) == 1 and str(patient_id) in audits[0].note
    body = director.get(f"/api/v1/patients/{patient_id}", headers=api_token(director, "a_director")).get_json()
    assert body["insurance_no"] == NUMBER
    with app.app_context(), system_scope():
        assert db.session.execute(sa.select(sa.func.count()).select_from(AuditLog)
                                  .where(AuditLog.action == "view")).scalar_one() == 2
