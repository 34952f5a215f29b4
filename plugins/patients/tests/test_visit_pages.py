"""Visits changed on the patient's page: edit, discharge later, delete; and a diagnosis code
missing from the catalogue added on the spot by those who may."""
import sqlalchemy as sa

from core.extensions import db
from core.models import AuditLog
from core.tenancy import hospital_scope
from plugins.patients.models import Disease, Visit
from plugins.patients.tests.test_pages import add_patient, browser, count, text

VISIT = {"kind": "inpatient", "status": "", "visit_at": "2026-01-05T09:30", "discharge_at": "",
         "department_id": "", "doctor_id": "", "doctor_name": "刘医生", "diagnoses": "I10",
         "treatment_plan": "", "orders": "", "spending": "100"}


def record(app, clinic, client, **overrides) -> tuple[int, int]:
    patient_id = add_patient(app, clinic["a"], {"name": "钱七"})
    assert client.post(f"/patients/{patient_id}/visits", data={**VISIT, **overrides}).status_code == 302
    with app.app_context(), hospital_scope(clinic["a"]):
        visit_id = db.session.execute(sa.select(Visit.id).where(Visit.patient_id == patient_id)).scalar_one()
    return patient_id, visit_id


def visit_row(app, clinic, visit_id):
    with app.app_context(), hospital_scope(clinic["a"]):
        v = db.session.get(Visit, visit_id)
        return None if v is None else (v.status, v.discharge_at and v.discharge_at.isoformat(" ", "minutes"),
                                       v.doctor_name, str(v.spending), [d.code for d in v.diagnoses])


def audits(app, clinic, action):
    with app.app_context(), hospital_scope(clinic["a"]):
        return db.session.execute(sa.select(AuditLog.record_id).where(AuditLog.model == "Visit",
                                                                      AuditLog.action == action)).scalars().all()


def test_edit_a_visit_on_its_form_and_the_change_is_audited(app, clinic):
    client = browser(app, "a_admin")
    patient_id, visit_id = record(app, clinic, client)
    page = text(client.get(f"/patients/{patient_id}", query_string={"tab": "visits"}))
    assert f"/patients/{patient_id}/visits/{visit_id}/edit" in page
    form = client.get(f"/patients/{patient_id}/visits/{visit_id}/edit")
    assert form.status_code == 200 and 'value="2026-01-05T09:30"' in text(form) and "刘医生" in text(form)
    response = client.post(f"/patients/{patient_id}/visits/{visit_id}/edit",
                           data={**VISIT, "status": "admitted", "doctor_name": "王医生", "diagnoses": "M51.2, I10",
                                 "spending": "250.5"})
    assert response.status_code == 302 and "tab=visits" in response.headers["Location"]
    assert visit_row(app, clinic, visit_id) == ("admitted", None, "王医生", "250.50", ["M51.2", "I10"])
    assert str(visit_id) in audits(app, clinic, "update")


def test_bad_edits_are_refused_and_change_nothing(app, clinic):
    client = browser(app, "a_admin")
    patient_id, visit_id = record(app, clinic, client)
    before = visit_row(app, clinic, visit_id)
    response = client.post(f"/patients/{patient_id}/visits/{visit_id}/edit",
                           data={**VISIT, "doctor_name": "王医生", "discharge_at": "2026-01-01T08:00"})
    assert response.status_code == 400 and "Discharge cannot come before admission." in text(response)
    response = client.post(f"/patients/{patient_id}/visits/{visit_id}/discharge", data={"discharge_at": "2026-01-04T08:00"})
    assert response.status_code == 400 and "Discharge cannot come before admission." in text(response)
    response = client.post(f"/patients/{patient_id}/visits/{visit_id}/discharge", data={"discharge_at": ""})
    assert response.status_code == 400 and "Enter the discharge time." in text(response)
    assert visit_row(app, clinic, visit_id) == before


def test_discharge_an_inpatient_later_from_the_visits_tab(app, clinic):
    client = browser(app, "a_admin")
    patient_id, visit_id = record(app, clinic, client)
    page = text(client.get(f"/patients/{patient_id}", query_string={"tab": "visits"}))
    assert f"/visits/{visit_id}/discharge" in page
    response = client.post(f"/patients/{patient_id}/visits/{visit_id}/discharge", data={"discharge_at": "2026-01-12T10:00"})
    assert response.status_code == 302
    assert visit_row(app, clinic, visit_id)[:2] == ("discharged", "2026-01-12 10:00")
    page = text(client.get(f"/patients/{patient_id}", query_string={"tab": "visits"}))
    assert "2026-01-12 10:00" in page and f"/visits/{visit_id}/discharge" not in page  # discharged once
    response = client.post(f"/patients/{patient_id}/visits/{visit_id}/discharge", data={"discharge_at": "2026-01-13T10:00"})
    assert response.status_code == 400 and visit_row(app, clinic, visit_id)[1] == "2026-01-12 10:00"


def test_delete_a_visit_after_confirming_with_its_permission_only(app, clinic):
    admin = browser(app, "a_admin")
    patient_id, visit_id = record(app, clinic, admin)
    staff = browser(app, "a_staff")
    with app.app_context():  # staff in charge of the patient see it, but may not delete visits
        from core.tenancy import hospital_scope as scope
        from plugins.patients.models import Patient
        from plugins.patients.tests.test_pages import user_id
        with scope(clinic["a"]):
            db.session.get(Patient, patient_id).owner_id = user_id(app, "a_staff")
            db.session.get(Visit, visit_id).owner_id = user_id(app, "a_staff")
            db.session.commit()
    page = text(staff.get(f"/patients/{patient_id}", query_string={"tab": "visits"}))
    assert f"/visits/{visit_id}/delete" not in page
    assert staff.post(f"/patients/{patient_id}/visits/{visit_id}/delete").status_code == 403
    page = text(admin.get(f"/patients/{patient_id}", query_string={"tab": "visits"}))
    assert f"/visits/{visit_id}/delete" in page and "data-confirm=\"Delete the visit of 2026-01-05 09:30?" in page
    assert admin.post(f"/patients/{patient_id}/visits/{visit_id}/delete").status_code == 302
    assert visit_row(app, clinic, visit_id) is None and count(app, Visit, clinic["a"]) == 0
    assert str(visit_id) in audits(app, clinic, "delete")


def test_another_hospitals_visit_or_another_patients_is_404(app, clinic):
    client = browser(app, "a_admin")
    patient_id, visit_id = record(app, clinic, client)
    other = add_patient(app, clinic["a"], {"name": "孙八"})
    b_client = browser(app, "b_admin")
    b_patient = add_patient(app, clinic["b"], {"name": "乙某"})
    for url in (f"/patients/{b_patient}/visits/{visit_id}/edit", f"/patients/{b_patient}/visits/{visit_id}/discharge",
                f"/patients/{b_patient}/visits/{visit_id}/delete"):
        assert b_client.post(url, data={"discharge_at": "2026-01-12T10:00"}).status_code == 404
    for url in (f"/patients/{other}/visits/{visit_id}/edit", f"/patients/{other}/visits/{visit_id}/delete"):
        assert client.post(url, data=VISIT).status_code == 404
    assert visit_row(app, clinic, visit_id) is not None


def test_a_post_without_the_csrf_token_is_refused(app, clinic):
    client = browser(app, "a_admin")
    patient_id, visit_id = record(app, clinic, client)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for action in ("edit", "discharge", "delete"):
            assert client.post(f"/patients/{patient_id}/visits/{visit_id}/{action}",
                               data={**VISIT, "discharge_at": "2026-01-12T10:00"}).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert visit_row(app, clinic, visit_id)[:2] == ("admitted", None)


# -- a code missing from the catalogue ----------------------------------------------------------
def test_a_permitted_user_names_a_missing_code_and_it_joins_the_catalogue(app, clinic):
    client = browser(app, "a_admin")
    patient_id = add_patient(app, clinic["a"], {"name": "钱七"})
    data = {**VISIT, "kind": "outpatient", "diagnoses": "I10, L70.0"}
    response = client.post(f"/patients/{patient_id}/visits", data=data)
    page = text(response)
    assert response.status_code == 400 and 'name="new_disease_L70.0"' in page and "not in the disease catalogue yet" in page
    response = client.post(f"/patients/{patient_id}/visits", data={**data, "new_disease_L70.0": ""})
    assert response.status_code == 400 and count(app, Visit, clinic["a"]) == 0  # the name is required
    response = client.post(f"/patients/{patient_id}/visits",
                           data={**data, "new_disease_L70.0": "寻常痤疮", "visit_at": "not a time"})
    assert response.status_code == 400  # the visit refused: the catalogue does not keep the new code either
    with app.app_context(), hospital_scope(clinic["a"]):
        assert db.session.execute(sa.select(Disease).where(Disease.code == "L70.0")).first() is None
    response = client.post(f"/patients/{patient_id}/visits", data={**data, "new_disease_L70.0": "寻常痤疮"})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(clinic["a"]):
        disease = db.session.execute(sa.select(Disease).where(Disease.code == "L70.0")).scalar_one()
        assert (disease.name, disease.custom, disease.active) == ("寻常痤疮", True, True)
        visit = db.session.execute(sa.select(Visit)).scalar_one()
        assert [d.code for d in visit.diagnoses] == ["I10", "L70.0"]


def test_without_the_catalogue_permission_or_with_a_malformed_code_the_error_stays(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "钱七"}, owner="a_staff")
    staff = browser(app, "a_staff")
    data = {**VISIT, "kind": "outpatient", "diagnoses": "L70.0"}
    response = staff.post(f"/patients/{patient_id}/visits", data={**data, "new_disease_L70.0": "寻常痤疮"})
    page = text(response)
    assert response.status_code == 400 and "add them to the disease catalogue first" in page
    assert "new_disease_" not in page
    admin = browser(app, "a_admin")
    response = admin.post(f"/patients/{patient_id}/visits", data={**data, "diagnoses": "ZZZ.9"})
    assert response.status_code == 400 and "new_disease_" not in text(response)  # not an ICD-10 code
    with app.app_context(), hospital_scope(clinic["a"]):
        assert db.session.execute(sa.select(Disease).where(Disease.code == "L70.0")).first() is None
    assert count(app, Visit, clinic["a"]) == 0
