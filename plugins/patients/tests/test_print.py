"""The printable patient record: card and visit summary on A4, numbers masked unless permitted."""
from core.testing import make_user
from plugins.patients.identity import mask_id_number
from plugins.patients.tests.conftest import id_number
from plugins.patients.tests.test_insurance_masking import MASKED, NUMBER
from plugins.patients.tests.test_pages import add_patient, browser, text, view_audits

ID = id_number("19900307", "123")
PATIENT = {"name": "吴十", "phone": "13812345678", "id_number": ID, "insurance_no": NUMBER, "address": "长沙市五一大道1号"}


def test_staff_print_the_card_and_visits_with_every_number_masked(app, clinic):
    patient_id = add_patient(app, clinic["a"], PATIENT, owner="a_staff")
    admin = browser(app, "a_admin")
    admin.post(f"/patients/{patient_id}/visits", data={"kind": "inpatient", "visit_at": "2026-01-05T09:30",
                                                       "discharge_at": "2026-01-12T10:00", "diagnoses": "M51.2",
                                                       "doctor_name": "刘医生", "spending": "12345.6"})
    staff = browser(app, "a_staff")
    record = text(staff.get(f"/patients/{patient_id}"))
    assert f'href="/patients/{patient_id}/print"' in record
    response = staff.get(f"/patients/{patient_id}/print")
    page = text(response)
    assert response.status_code == 200
    assert "甲医院" in page and "吴十" in page and "长沙市五一大道1号" in page
    assert "2026-01-05 09:30" in page and "2026-01-12 10:00" in page and "M51.2" in page and "¥12,345.60" in page
    assert "138****5678" in page and MASKED in page and mask_id_number(ID) in page
    assert "13812345678" not in page and NUMBER not in page and ID not in page
    assert "print.css" in page and "data-print" in page and "core/_macros" not in page
    assert view_audits(app, clinic["a"]) == []


def test_a_director_prints_the_numbers_and_the_view_is_logged(app, clinic):
    patient_id = add_patient(app, clinic["a"], PATIENT, owner="a_staff")
    page = text(browser(app, "a_director").get(f"/patients/{patient_id}/print"))
    assert "13812345678" in page and NUMBER in page and ID in page
    audits = view_audits(app, clinic["a"])
    assert len(audits) == 1 and audits[0].note.startswith("patient print") and str(patient_id) in audits[0].note


def test_printing_needs_its_permission_and_the_patient_of_this_hospital(app, clinic):
    from core.extensions import db
    from core.models import Hospital
    from core.tenancy import system_scope
    patient_id = add_patient(app, clinic["a"], PATIENT, owner="a_staff")
    with app.app_context(), system_scope():
        make_user(db.session.get(Hospital, clinic["a"]), "a_nobody", ())
    nobody = browser(app, "a_nobody")
    assert nobody.get(f"/patients/{patient_id}/print").status_code == 403
    assert browser(app, "b_admin").get(f"/patients/{patient_id}/print").status_code == 404
    assert browser(app, "a_admin").get("/patients/static/print.css").status_code == 200
