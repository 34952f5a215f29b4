"""Marketing SMS consent on the patient: the form, the record page, the API, import and export
read and write the same three states (agreed / opted out / not asked)."""
import re

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import api_token, login
from plugins.patients import services
from plugins.patients.models import Patient
from plugins.patients.transfer_rows import RowReader
from plugins.patients.transfer_services import UploadRefused

EN = {"Accept-Language": "en"}


def consent_of(app, hospital_id, name):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(Patient.sms_consent).where(Patient.name == name)).scalar_one()


def test_form_records_consent_and_the_record_page_shows_it(app, client, clinic):
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    response = client.post("/patients/new", data={"name": "张三", "gender": "M", "sms_consent": "yes"})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert consent_of(app, clinic["a"], "张三") is True
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Agreed to marketing SMS" in page
    patient_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    edit = client.get(f"/patients/{patient_id}/edit").get_data(as_text=True)
    assert re.search(r'<option (selected value="yes"|value="yes" selected)', edit)
    client.post(f"/patients/{patient_id}/edit", data={"name": "张三", "gender": "M", "sms_consent": "no"})
    assert consent_of(app, clinic["a"], "张三") is False
    bad = client.post(f"/patients/{patient_id}/edit", data={"name": "张三", "gender": "M", "sms_consent": "maybe"})
    assert bad.status_code == 400 and "opted out" in bad.get_data(as_text=True)
    assert consent_of(app, clinic["a"], "张三") is False  # nothing written


def test_api_reads_writes_and_refuses_consent(app, client, clinic):
    auth = {**api_token(client, "a_admin"), **EN}
    created = client.post("/api/v1/patients", json={"name": "李四", "sms_consent": True}, headers=auth)
    assert created.status_code == 201 and created.get_json()["sms_consent"] is True
    patient_id = created.get_json()["id"]
    cleared = client.patch(f"/api/v1/patients/{patient_id}", json={"sms_consent": None}, headers=auth)
    assert cleared.status_code == 200 and cleared.get_json()["sms_consent"] is None
    bad = client.patch(f"/api/v1/patients/{patient_id}", json={"sms_consent": "perhaps"}, headers=auth)
    assert bad.status_code == 422 and "sms_consent" in str(bad.get_json())
    assert consent_of(app, clinic["a"], "李四") is None


@pytest.mark.parametrize(("cell", "expected"), [("同意", True), ("是", True), ("退订", False), ("否", False),
                                                ("", None), (None, None)])
def test_import_reads_consent_words(app, clinic, cell, expected):
    with app.test_request_context(), hospital_scope(clinic["a"]):
        data, errors = RowReader(["name", "sms_consent"]).translate(["王五", cell])
        assert errors == {} and data["sms_consent"] is expected


def test_import_refuses_an_unreadable_consent(app, clinic):
    with app.test_request_context(), hospital_scope(clinic["a"]):
        data, errors = RowReader(["name", "sms_consent"]).translate(["王五", "随便"])
        assert "sms_consent" in errors
        with pytest.raises(services.PatientInvalid):
            services.create_patient({"name": "王五", "sms_consent": "随便"})
        assert isinstance(UploadRefused("x"), Exception)


def test_export_has_the_consent_column(app, client, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        services.create_patient({"name": "赵六", "sms_consent": False})
        db.session.commit()
    login(client, "a_admin")
    csv_text = client.get("/patients/transfer/export?format=csv").get_data(as_text=True)
    header, row = csv_text.splitlines()[:2]
    assert "营销短信" in header
    assert row.split(",")[header.split(",").index("营销短信")] == "退订"
