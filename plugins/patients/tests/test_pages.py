"""The patient pages as staff use them: register, find, edit, the hub, visits, privacy, screen pop."""
import re

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import AuditLog, Hospital, User
from core.tenancy import hospital_scope, system_scope
from core.testing import login, make_hospital, make_user
from plugins.patients import services
from plugins.patients.models import Disease, HealthRecord, Patient, Visit
from plugins.patients.tests.conftest import id_number


def browser(app, username):
    """A signed-in test client showing English pages (the messages the tests look for)."""
    client = app.test_client()
    login(client, username)
    client.post("/language", data={"locale": "en"})
    return client


def user_id(app, username):
    with app.app_context(), system_scope():
        return db.session.execute(sa.select(User.id).where(User.username == username)).scalar_one()


def count(app, model, hospital_id):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def add_patient(app, hospital_id, data, owner=None):
    """A patient written through the service, as the importer or the API would."""
    with app.test_request_context(), hospital_scope(hospital_id):
        if owner:
            data = {**data, "owner_id": user_id(app, owner)}
        return services.create_patient(data, allow_duplicate=True).id


def text(response) -> str:
    return response.get_data(as_text=True)


def form_for(clinic, app, **overrides):
    data = {"name": "张三", "gender": "M", "birth_date": "", "id_number": id_number("19900307", "123"),
            "phone": "13812345678", "phone2": "", "insurance_no": "YB-0001", "region_id": "", "address": "长沙市芙蓉区五一大道1号",
            "occupation": "教师", "source_id": "", "referrer_id": "", "tags": "高血压, 随访",
            "owner_id": str(user_id(app, "a_staff")), "department_id": str(clinic["ortho"]), "key_patient": "y",
            "notes": "术后复查"}
    data.update(overrides)
    return data


def test_register_find_by_pinyin_and_phone_suffix_then_edit(app, clinic):
    client = browser(app, "a_staff")
    response = client.post("/patients/new", data=form_for(clinic, app))
    assert response.status_code == 302
    patient_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
    hub = text(client.get(response.headers["Location"]))
    assert "张三" in hub and "1990-03-07" in hub and "高血压" in hub and "Key patient" in hub

    for q in ("zs", "zhangsan", "5678", "张"):
        page = text(client.get("/patients/", query_string={"q": q}))
        assert f"/patients/{patient_id}" in page, q
    assert f"/patients/{patient_id}" not in text(client.get("/patients/", query_string={"q": "ls"}))
    assert "No patient matches" in text(client.get("/patients/", query_string={"q": "9999"}))

    edit_page = client.get(f"/patients/{patient_id}/edit")
    assert edit_page.status_code == 200 and "张三" in text(edit_page)
    response = client.post(f"/patients/{patient_id}/edit", data=form_for(clinic, app, name="张三丰", phone="",
                                                                           id_number="", key_patient=""))
    assert response.status_code == 302
    with app.app_context(), hospital_scope(clinic["a"]):
        patient = db.session.get(Patient, patient_id)
        # The staff member could not see the numbers: empty boxes kept them.
        assert (patient.name, patient.phone, patient.key_patient) == ("张三丰", "13812345678", False)
        assert patient.id_number == id_number("19900307", "123")
    assert f"/patients/{patient_id}" in text(client.get("/patients/", query_string={"q": "zsf"}))


def test_bad_id_checksum_is_refused_on_the_form_and_nothing_written(app, clinic):
    client = browser(app, "a_staff")
    good = id_number()
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    response = client.post("/patients/new", data=form_for(clinic, app, id_number=bad, birth_date="2090-01-01"))
    assert response.status_code == 400
    page = text(response)
    assert "check digit is wrong" in page and "Nothing was saved" in page
    assert 'value="张三"' in page  # what was typed stays in the form
    assert count(app, Patient, clinic["a"]) == 0


def test_new_patient_form_is_prefilled_from_the_query_string(app, clinic):
    client = browser(app, "a_staff")
    page = text(client.get("/patients/new", query_string={"phone": "13900001111", "name": "王五"}))
    assert 'value="13900001111"' in page and 'value="王五"' in page


def test_duplicate_warns_with_409_then_registers_when_confirmed(app, clinic):
    first = add_patient(app, clinic["a"], {"name": "李四", "phone": "13812345678"})
    client = browser(app, "a_admin")
    data = form_for(clinic, app, name="李四", id_number="", phone="138 1234 5678")
    response = client.post("/patients/new", data=data)
    assert response.status_code == 409
    page = text(response)
    assert "may already be registered" in page and f"/patients/{first}" in page and "Register anyway" in page
    assert count(app, Patient, clinic["a"]) == 1
    response = client.post("/patients/new", data={**data, "allow_duplicate": "y"})
    assert response.status_code == 302
    assert count(app, Patient, clinic["a"]) == 2


def test_health_record_edit_shows_its_history(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "赵六"})
    client = browser(app, "a_admin")
    response = client.post(f"/patients/{patient_id}/health", data={"allergies": "青霉素", "smoking": "已戒烟"})
    assert response.status_code == 302
    response = client.post(f"/patients/{patient_id}/health", data={"allergies": "青霉素、头孢", "smoking": "已戒烟",
                                                                    "past_history": "高血压10年"})
    assert response.status_code == 302
    page = text(client.get(f"/patients/{patient_id}", query_string={"tab": "health"}))
    assert "青霉素、头孢" in page and "高血压10年" in page
    assert "Last changed by A_Admin" in page
    assert page.count("list-group-item px-0") == 2  # created, then changed
    assert "Changed: Allergies, Past medical history" in page
    response = client.post(f"/patients/{patient_id}/health", data={"smoking": "x" * 65})
    assert response.status_code == 400 and "At most 64 characters" in text(response)
    with app.app_context(), hospital_scope(clinic["a"]):
        assert db.session.execute(sa.select(HealthRecord.smoking)).scalar_one() == "已戒烟"


def test_record_a_visit_with_diagnoses_and_refuse_an_unknown_code(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "钱七"})
    client = browser(app, "a_admin")
    visit = {"kind": "inpatient", "status": "", "visit_at": "2026-01-05T09:30", "discharge_at": "2026-01-12T10:00",
             "department_id": str(clinic["ortho"]), "doctor_id": "", "doctor_name": "刘医生",
             "diagnoses": "m51.2, I10", "treatment_plan": "手术", "orders": "", "spending": "12345.6"}
    response = client.post(f"/patients/{patient_id}/visits", data=visit)
    assert response.status_code == 302 and "tab=visits" in response.headers["Location"]
    page = text(client.get(response.headers["Location"]))
    assert "腰椎间盘突出" in page and "M51.2" in page and "刘医生" in page and "12,345.60" in page
    response = client.post(f"/patients/{patient_id}/visits", data={**visit, "diagnoses": "M51.2 ZZZ.9"})
    assert response.status_code == 400
    assert "Unknown diagnosis code(s) ZZZ.9" in text(response)
    response = client.post(f"/patients/{patient_id}/visits", data={**visit, "visit_at": "2026-13-01T09:00"})
    assert response.status_code == 400 and "real date and time" in text(response)
    assert count(app, Visit, clinic["a"]) == 1


def test_visits_are_listed_newest_first(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "孙八"})
    client = browser(app, "a_admin")
    for when, code in (("2025-03-01T08:00", "I10"), ("2026-02-01T08:00", "M51.2"), ("2025-09-01T08:00", "E11.9")):
        assert client.post(f"/patients/{patient_id}/visits", data={"visit_at": when, "diagnoses": code}).status_code == 302
    page = text(client.get(f"/patients/{patient_id}", query_string={"tab": "visits"}))
    positions = [page.index(day) for day in ("2026-02-01 08:00", "2025-09-01 08:00", "2025-03-01 08:00")]
    assert positions == sorted(positions)


def test_another_hospitals_patient_is_404_on_every_patient_url(app, clinic):
    other = add_patient(app, clinic["b"], {"name": "周九", "phone": "13700001234"})
    client = browser(app, "a_admin")
    for url in (f"/patients/{other}", f"/patients/{other}/edit"):
        assert client.get(url).status_code == 404, url
    for url, data in ((f"/patients/{other}/edit", {"name": "x"}), (f"/patients/{other}/health", {"allergies": "x"}),
                      (f"/patients/{other}/visits", {"visit_at": "2026-01-01T08:00"}), (f"/patients/{other}/delete", {})):
        assert client.post(url, data=data).status_code == 404, url
    assert "周九" not in text(client.get("/patients/", query_string={"q": "1234"}))
    assert "周九" not in text(client.get("/patients/lookup", query_string={"phone": "13700001234"}))
    with app.app_context(), hospital_scope(clinic["b"]):
        assert db.session.get(Patient, other).name == "周九"
        assert db.session.execute(sa.select(sa.func.count()).select_from(Visit)).scalar_one() == 0


def view_audits(app, hospital_id):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(AuditLog).where(AuditLog.action == "view")).scalars().all()


def test_numbers_masked_for_staff_and_shown_and_logged_for_the_director(app, clinic):
    number = id_number("19850101", "456")
    patient_id = add_patient(app, clinic["a"], {"name": "吴十", "phone": "13812345678", "id_number": number},
                             owner="a_staff")
    staff = browser(app, "a_staff")
    for url in (f"/patients/{patient_id}", "/patients/?q=wushi", "/patients/lookup?phone=13812345678",
                f"/patients/{patient_id}/edit"):
        page = text(staff.get(url))
        assert "吴十" in page, url
        # The screen pop echoes the number it was asked about (box, links); nothing else shows it.
        echo = page.replace('value="13812345678"', "").replace("phone=13812345678", "")
        assert "13812345678" not in echo and number not in page, url
    assert "138****5678" in text(staff.get(f"/patients/{patient_id}"))
    assert "4306**********" in text(staff.get(f"/patients/{patient_id}"))
    assert view_audits(app, clinic["a"]) == []

    director = browser(app, "a_director")
    page = text(director.get(f"/patients/{patient_id}"))
    assert "13812345678" in page and number in page
    audits = view_audits(app, clinic["a"])
    assert len(audits) == 1 and audits[0].username == "a_director" and str(patient_id) in audits[0].note
    assert number in text(director.get("/patients/", query_string={"q": "ws"}))
    assert len(view_audits(app, clinic["a"])) == 2


def test_script_in_a_name_renders_as_text(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "<script>alert(1)</script>", "phone": "13812345678"})
    client = browser(app, "a_admin")
    for url in (f"/patients/{patient_id}", "/patients/", f"/patients/{patient_id}/edit",
                "/patients/lookup?phone=13812345678"):
        page = text(client.get(url))
        assert "<script>alert(1)</script>" not in page, url
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, url


def test_screen_pop_finds_the_caller_or_offers_to_register(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "郑一", "phone": "13812345678"})
    with app.test_request_context(), hospital_scope(clinic["a"]):
        services.record_visit(db.session.get(Patient, patient_id), {"visit_at": "2026-01-02T09:00", "diagnoses": ["I10"]})
    client = browser(app, "a_staff")
    assert client.get("/patients/lookup").status_code == 200
    admin = browser(app, "a_admin")
    for number in ("13812345678", "+86 138 1234 5678", "013812345678"):
        page = text(admin.get("/patients/lookup", query_string={"phone": number}))
        assert "郑一" in page and "特发性(原发性)高血压" in page and f"/patients/{patient_id}" in page, number
    response = admin.get("/patients/lookup", query_string={"phone": "13900001111"})
    assert response.status_code == 200
    assert "No patient has the number 13900001111" in text(response)
    assert "/patients/new?phone=13900001111" in text(response)
    for garbage in ("abc", "12345", "<b>x</b>", " "):
        response = admin.get("/patients/lookup", query_string={"phone": garbage})
        assert response.status_code == 400, garbage
        assert "alert-danger" in text(response)
    assert "Enter the caller" in text(admin.get("/patients/lookup", query_string={"phone": ""}))


@pytest.mark.parametrize("args, message", [
    ({"visit_from": "2024-13-01"}, "must be a real date as YYYY-MM-DD"),
    ({"page": "-1"}, "is not a valid value"),
    ({"page": "x"}, "is not a valid value"),
    ({"per_page": "100000"}, "Rows per page is one of"),
    ({"department_id": "ortho"}, "must be chosen from the list"),
    ({"disease": "NOPE9"}, "is not in the catalogue"),
    ({"disease_id": "-3"}, "must be chosen from the list"),
    ({"sort": "password"}, "Unknown sort order"),
    ({"key_patient": "maybe"}, "Key patient must be yes or no"),
    ({"visit_from": "2025-02-01", "visit_to": "2025-01-01"}, "ends before it starts"),
])
def test_bad_list_filters_get_a_message_and_400(app, clinic, args, message):
    client = browser(app, "a_admin")
    response = client.get("/patients/", query_string=args)
    assert response.status_code == 400
    assert message in text(response)


def test_list_filters_sort_and_paginate(app, clinic):
    ids = {}
    for name, key in (("安一", True), ("白二", False), ("陈三", False)):
        ids[name] = add_patient(app, clinic["a"], {"name": name, "key_patient": key, "department_id": clinic["ortho"]
                                                   if name != "陈三" else None})
    with app.test_request_context(), hospital_scope(clinic["a"]):
        services.record_visit(db.session.get(Patient, ids["白二"]), {"visit_at": "2025-06-01T10:00", "diagnoses": ["I10"]})
    client = browser(app, "a_admin")

    def names(**args):
        page = text(client.get("/patients/", query_string=args))
        return re.findall(r'class="fw-semibold" href="/patients/\d+">([^<]+)<', page)

    assert names(sort="name", order="asc") == ["安一", "白二", "陈三"]
    assert names(sort="name", order="desc") == ["陈三", "白二", "安一"]
    assert names(key_patient="1") == ["安一"]
    assert names(disease="I10") == ["白二"]
    assert names(visit_from="2025-06-01", visit_to="2025-06-01") == ["白二"]
    assert names(visit_from="2025-06-02") == []
    assert sorted(names(department_id=str(clinic["ortho"]))) == sorted(["安一", "白二"])
    assert names(sort="name", order="asc", per_page="10", page="2") == []
    page = text(client.get("/patients/"))
    assert "table-warning" in page and "3 records" in page


def test_delete_a_patient_without_visits_but_keep_one_with_visits(app, clinic):
    plain = add_patient(app, clinic["a"], {"name": "冯二", "phone": "13812345678"})
    treated = add_patient(app, clinic["a"], {"name": "陈三"})
    with app.test_request_context(), hospital_scope(clinic["a"]):
        services.record_visit(db.session.get(Patient, treated), {"visit_at": "2026-01-02T09:00"})
    staff = browser(app, "a_staff")
    assert staff.post(f"/patients/{plain}/delete").status_code == 403
    client = browser(app, "a_admin")
    assert client.post(f"/patients/{plain}/delete").status_code == 302
    response = client.post(f"/patients/{treated}/delete")
    assert response.status_code == 409 and "clinical records are kept" in text(response)
    with app.app_context(), hospital_scope(clinic["a"]):
        assert [p.name for p in db.session.execute(sa.select(Patient)).scalars()] == ["陈三"]


def test_permissions_decide_what_the_pages_offer(app, clinic):
    with app.app_context():
        make_user(db.session.get(Hospital, clinic["a"]), "a_analyst", ("analyst",))
    patient_id = add_patient(app, clinic["a"], {"name": "褚四"})
    analyst = browser(app, "a_analyst")
    page = text(analyst.get(f"/patients/{patient_id}"))
    assert "褚四" in page and "Record visit" not in page and "/edit" not in page
    assert analyst.get("/patients/new").status_code == 403
    assert analyst.post(f"/patients/{patient_id}/visits", data={"visit_at": "2026-01-01T08:00"}).status_code == 403
    assert analyst.post(f"/patients/{patient_id}/health", data={"allergies": "x"}).status_code == 403


def test_menu_lists_the_patient_pages(app, clinic):
    page = text(browser(app, "a_staff").get("/"))
    for url in ('href="/patients/"', 'href="/patients/new"', 'href="/patients/lookup"', 'href="/patients/diseases"'):
        assert url in page, url
    for url in ('href="/patients/settings"', 'href="/patients/transfer/import"'):
        assert url not in page, url
        assert url in text(browser(app, "a_admin").get("/")), url


def test_export_link_carries_the_lists_filters_and_only_for_exporters(app, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        i10 = db.session.execute(sa.select(Disease.id).where(Disease.code == "I10")).scalar_one()
    admin = browser(app, "a_admin")
    page = text(admin.get("/patients/", query_string={"q": "zs", "disease": "I10", "page": "1"}))
    link = re.search(r'href="(/patients/transfer/export[^"]*)"', page).group(1).replace("&amp;", "&")
    assert "q=zs" in link and f"disease_id={i10}" in link and "page=" not in link
    assert 'href="/patients/transfer/import"' in page
    staff_page = text(browser(app, "a_staff").get("/patients/"))
    assert "/patients/transfer/export" not in staff_page and "/patients/transfer/import" not in staff_page


def test_every_page_is_404_where_the_plugin_is_disabled(app, clinic):
    patient_id = add_patient(app, clinic["a"], {"name": "卫五"})
    with app.app_context():
        off = make_hospital("C", "丙医院")
        make_user(off, "c_admin", ("super_admin",))
    client = browser(app, "c_admin")
    gets = ["/patients/", "/patients/new", f"/patients/{patient_id}", f"/patients/{patient_id}/edit",
            "/patients/lookup?phone=13812345678", "/patients/diseases", "/patients/diseases/import",
            "/patients/diseases/1/edit", "/patients/settings", "/patients/settings/sources", "/patients/settings/regions",
            "/patients/settings/referrers", "/patients/settings/referrers/1"]
    for url in gets:
        assert client.get(url).status_code == 404, url
    posts = ["/patients/new", f"/patients/{patient_id}/health", f"/patients/{patient_id}/visits",
             f"/patients/{patient_id}/delete", "/patients/diseases/new", "/patients/diseases/import",
             "/patients/settings/sources", "/patients/settings/regions", "/patients/settings/referrers"]
    for url in posts:
        assert client.post(url, data={"name": "x"}).status_code == 404, url
    assert count(app, Patient, clinic["a"]) == 1


def test_huge_lists_stop_counting_at_the_cap(app, client, clinic, monkeypatch):
    from core.tenancy import hospital_scope
    from plugins.patients import services
    monkeypatch.setattr(services, "LIST_COUNT_CAP", 12)
    with app.test_request_context(), hospital_scope(clinic["a"]):
        for i in range(15):
            services.create_patient({"name": f"患者{i}"}, allow_duplicate=True)
    from core.testing import login
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    html = client.get("/patients/?per_page=10").get_data(as_text=True)
    assert "More than 12 records: narrow the search" in html
    # the last page is not full: the list knows where it ends, and says so exactly
    html = client.get("/patients/?per_page=10&page=2").get_data(as_text=True)
    assert "More than" not in html and "15" in html
