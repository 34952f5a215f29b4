"""A group administrator's chosen hospital scopes everything: dashboard cards, the lists they open,
every report and its exports, the patient export, the lists and the API; switching hospital flips
it; the whole group is an explicit choice that says so and names each row's hospital."""
import csv
import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from core.clock import local_now
from core.extensions import db
from core.models import Hospital, utcnow
from core.tenancy import hospital_scope, system_scope
from core.testing import api_token, login, make_department, make_hospital, make_user
from plugins.followup.models import Method, Plan, Round, SmsMessage
from plugins.followup.tests.dashboard_cards import card_links
from plugins.patients import public as patient_services

#: Names only one hospital's data carries: a page of A must show none of B's, and the reverse.
A_PATIENTS = ("张甲一", "张甲二", "张甲三", "张甲四")
B_PATIENTS = ("李乙一", "李乙二")
MARKS = {"A": A_PATIENTS + ("骨科甲", "A_Doc"), "B": B_PATIENTS + ("心内乙", "B_Doc")}
TOTAL = re.compile(r'hcrm-pagination">\s*<div class="text-body-secondary small">([^<]*)</div>')


def _seed(code: str, department, doctor, names: tuple[str, ...]) -> None:
    """Patients (the first two key patients), visits today for the 1st and 3rd, overdue plans
    for the first two (the first escalated, with a round), and SMS: two sent, then one queued,
    then one failed."""
    hospital = db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one()
    with hospital_scope(hospital, user=doctor):
        patients = [patient_services.create_patient(
            {"name": name, "phone": f"1380000{code == 'A' and 1 or 2}{i:03d}", "department_id": department.id,
             "key_patient": i < 2}, allow_duplicate=True) for i, name in enumerate(names)]
        for patient in patients[0::2]:
            patient_services.record_visit(patient, {"kind": "outpatient", "visit_at": local_now().replace(microsecond=0),
                                                    "department_id": department.id, "doctor_id": doctor.id})
        for i, patient in enumerate(patients[:2]):
            plan = Plan(patient_id=patient.id, due_at=local_now() - timedelta(hours=2), owner_id=doctor.id,
                        department_id=department.id, escalated_at=utcnow() if i == 0 else None)
            db.session.add(plan)
            db.session.flush()
            if i == 0:
                phone = db.session.execute(sa.select(Method.id).where(Method.code == "phone")).scalar_one()
                db.session.add(Round(plan_id=plan.id, patient_id=patient.id, user_id=doctor.id, method_id=phone,
                                     at=local_now().replace(microsecond=0), reached=False))
        for patient, status in zip(patients, ("sent", "sent", "queued", "failed"), strict=False):
            db.session.add(SmsMessage(patient_id=patient.id, phone=patient.phone, body=f"{patient.name}的复诊提醒",
                                      status=status))
        db.session.commit()


@pytest.fixture
def group(app):
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["patients", "followup"])
        b = make_hospital("B", "乙医院", plugins=["patients", "followup"])
        a_dept, b_dept = make_department(a, "ORTH", "骨科甲"), make_department(b, "CARD", "心内乙")
        a_doc = make_user(a, "a_doc", ("staff",), department=a_dept)
        b_doc = make_user(b, "b_doc", ("staff",), department=b_dept)
        make_user(a, "chief", (), group_admin=True)
        _seed("A", a_dept, a_doc, A_PATIENTS)
        _seed("B", b_dept, b_doc, B_PATIENTS)
        return {"a": a.id, "b": b.id}


def switch(client, hospital_id: int) -> None:
    assert client.post("/hospital", data={"hospital_id": hospital_id}).status_code == 302


def foreign(text: str, code: str) -> list[str]:
    """What of the other hospital's data ``text`` shows, working in hospital ``code``."""
    return [mark for mark in MARKS["B" if code == "A" else "A"] if mark in text]


def total_of(page: str) -> int:
    return int(re.search(r"\d+", TOTAL.search(page).group(1)).group())


# -- dashboard cards --------------------------------------------------------------------------------
@pytest.mark.parametrize("code, expected", [
    ("A", {"/patients/?origin=crm": 4, "/patients/?visit_from": 2, "/patients/?key_patient=1": 2,
           "/followup/?view=team&bucket=overdue": 2, "/followup/?view=team&bucket=escalated": 1,
           "/followup/sms/?status=sent": 2, "/followup/sms/?status=queued": 1, "/followup/sms/?status=failed": 1}),
    ("B", {"/patients/?origin=crm": 2, "/patients/?visit_from": 1, "/patients/?key_patient=1": 2,
           "/followup/?view=team&bucket=overdue": 2, "/followup/?view=team&bucket=escalated": 1,
           "/followup/sms/?status=sent": 2, "/followup/sms/?status=queued": 0, "/followup/sms/?status=failed": 0}),
])
def test_every_card_counts_the_chosen_hospital_and_equals_the_list_it_opens(app, client, group, code, expected):
    login(client, "chief")
    switch(client, group[code.lower()])
    dashboard = client.get("/").get_data(as_text=True)
    assert foreign(dashboard, code) == []
    cards = card_links(dashboard)
    found = {prefix: number for prefix in expected for _label, url, number in cards if url.startswith(prefix)}
    assert found == expected
    assert len(cards) >= len(expected) + 2  # and the "mine" follow-up rows and the audit card
    # The audit trail first: opening a list with unmasked phones adds to it.
    for label, url, number in sorted(cards, key=lambda card: not card[1].startswith("/admin/audit")):
        page = client.get(url)
        assert page.status_code == 200, (label, url)
        text = page.get_data(as_text=True)
        if "/reports/" not in url:  # a report (the phone follow-ups card's) has no list total to compare
            assert total_of(text) == number, (label, url)
        assert foreign(text, code) == [], (label, url)
    # The month's phone follow-ups (a card opening a report): one round in each hospital, never both.
    assert re.search(r'bi-telephone"></i></span>\s*</div>\s*<p class="fs-2 fw-semibold lh-1 mb-1">(\d+)</p>',
                     dashboard).group(1) == "1"


# -- reports and their exports ----------------------------------------------------------------------
def report_ids(app) -> list[str]:
    """Every report of the core and of the plugins these hospitals run."""
    return sorted(r.id for r in app.extensions["hcrm"].catalog.reports.values()
                  if r.plugin in ("core", "patients", "followup"))


def xlsx_text(body: bytes) -> str:
    sheet = load_workbook(io.BytesIO(body), read_only=True).active
    return "\n".join(" ".join(str(v) for v in row if v is not None) for row in sheet.iter_rows(values_only=True))


@pytest.mark.parametrize("code", ["A", "B"])
def test_every_report_and_export_shows_only_the_chosen_hospital(app, client, group, code):
    login(client, "chief")
    switch(client, group[code.lower()])
    ids = report_ids(app)
    assert {"patients.visits_by_department", "followup.plan_statistics"} <= set(ids)
    for report_id in ids:
        page = client.get(f"/reports/{report_id}")
        assert page.status_code == 200, report_id
        assert foreign(page.get_data(as_text=True), code) == [], report_id
        assert "hcrm-whole-group-switch" in page.get_data(as_text=True)  # offered, not taken
        csv_text = client.get(f"/reports/{report_id}.csv").get_data().decode("utf-8-sig")
        assert foreign(csv_text, code) == [], report_id
        assert foreign(xlsx_text(client.get(f"/reports/{report_id}.xlsx").get_data()), code) == [], report_id
    own = "骨科甲" if code == "A" else "心内乙"
    assert own in client.get("/reports/patients.visits_by_department.csv").get_data().decode("utf-8-sig")
    # The follow-up report lists this hospital's staff, never the other's under this header.
    staff = client.get("/reports/followup.plan_statistics?group=assignee").get_data(as_text=True)
    assert ("A_Doc" if code == "A" else "B_Doc") in staff


def test_the_whole_group_is_asked_for_says_so_and_names_each_rows_hospital(app, client, group):
    login(client, "chief")
    page = client.get("/reports/patients.visits_by_department?whole_group=1").get_data(as_text=True)
    assert 'hcrm-whole-group" role="note"' in page and "骨科甲" in page and "心内乙" in page
    assert 'name="whole_group" value="1"' in page  # the parameter form keeps the choice
    rows = list(csv.reader(io.StringIO(
        client.get("/reports/patients.visits_by_department.csv?whole_group=1").get_data().decode("utf-8-sig"))))
    by_department = {row[1]: row[0] for row in rows[1:]}
    assert by_department == {"骨科甲": "甲医院", "心内乙": "乙医院"}
    sheet = load_workbook(io.BytesIO(client.get("/reports/followup.plan_statistics.xlsx?whole_group=1&group=assignee")
                                     .get_data()), read_only=True).active
    cells = [tuple(row[:2]) for row in sheet.iter_rows(values_only=True)]
    assert ("甲医院", "A_Doc") in cells and ("乙医院", "B_Doc") in cells
    # One hospital's users cannot ask for it: the parameter changes nothing for them.
    other = app.test_client()
    with app.app_context():
        make_user(db.session.get(Hospital, group["a"]), "director_a", ("director",))
    login(other, "director_a")
    mine = other.get("/reports/patients.visits_by_department?whole_group=1").get_data(as_text=True)
    assert "心内乙" not in mine and "hcrm-whole-group" not in mine  # neither banner nor switch


# -- the patient export and the lists ---------------------------------------------------------------
@pytest.mark.parametrize("code", ["A", "B"])
def test_patient_export_and_lists_follow_the_chosen_hospital(app, client, group, code):
    login(client, "chief")
    switch(client, group[code.lower()])
    own = A_PATIENTS if code == "A" else B_PATIENTS
    exported = client.get("/patients/transfer/export?format=csv").get_data().decode("utf-8-sig")
    assert len(exported.strip().splitlines()) == 1 + len(own) and foreign(exported, code) == []
    workbook = xlsx_text(client.get("/patients/transfer/export?format=xlsx").get_data())
    assert all(name in workbook for name in own) and foreign(workbook, code) == []
    for url in ("/patients/", "/patients/?q=张", "/patients/?q=李", "/followup/?view=team&bucket=overdue",
                "/followup/sms/", "/followup/surveys/stats", "/admin/users", "/admin/audit"):
        page = client.get(url)
        assert page.status_code == 200, url
        assert foreign(page.get_data(as_text=True), code) == [], url


# -- the API --------------------------------------------------------------------------------------
def test_an_api_token_works_in_one_hospital_named_by_the_header(app, client, group):
    token = api_token(client, "chief")
    me = client.get("/api/v1/me", headers=token).get_json()
    assert me["hospital"]["code"] == "A" and me["data_scope"] == "group"
    names = {p["name"] for p in client.get("/api/v1/patients?per_page=50", headers=token).get_json()["items"]}
    assert names == set(A_PATIENTS)
    in_b = token | {"X-HCRM-Hospital": "B"}
    assert client.get("/api/v1/me", headers=in_b).get_json()["hospital"]["code"] == "B"
    names = {p["name"] for p in client.get("/api/v1/patients?per_page=50", headers=in_b).get_json()["items"]}
    assert names == set(B_PATIENTS)
    plans = client.get("/api/v1/followup/plans?per_page=50", headers=in_b).get_json()
    assert plans["total"] == 2 and {p["patient"]["name"] for p in plans["items"]} == set(B_PATIENTS)
    sms = client.get("/api/v1/followup/sms/messages", headers=in_b).get_json()
    assert {m["patient"]["name"] for m in sms["items"]} == set(B_PATIENTS)
    # A cookie's hospital switch never steers the API; the header does, and only to real hospitals.
    login(client, "chief")
    switch(client, group["b"])
    assert client.get("/api/v1/me", headers=token).get_json()["hospital"]["code"] == "A"
    unknown = client.get("/api/v1/me", headers=token | {"X-HCRM-Hospital": "NOPE"})
    assert unknown.status_code == 400 and "NOPE" in unknown.get_json()["error"]["message"]
    with app.app_context(), system_scope():
        db.session.get(Hospital, group["b"]).active = False
        db.session.commit()
    assert client.get("/api/v1/me", headers=in_b).status_code == 400


def test_only_a_group_administrator_may_name_another_hospital(app, client, group):
    token = api_token(client, "a_doc")
    assert client.get("/api/v1/me", headers=token | {"X-HCRM-Hospital": "A"}).status_code == 200
    for code in ("B", "NOPE"):  # the same answer: no oracle of which hospitals exist
        refused = client.get("/api/v1/patients", headers=token | {"X-HCRM-Hospital": code})
        assert refused.status_code == 403 and "X-HCRM-Hospital" in refused.get_json()["error"]["message"]
