"""The plugin's reports on a small hand-made data set (exact figures), and the dashboard card."""
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core import clock
from core.extensions import db
from core.models import Department, Hospital
from core.tenancy import hospital_scope, system_scope
from core.testing import login, make_department
from plugins.patients import merge_services, reports, services
from plugins.patients.models import Patient, Source


def source_ids(hospital_id):
    with hospital_scope(hospital_id):
        return dict(db.session.execute(sa.select(Source.code, Source.id)).all())


def patient(hospital_id, name, created, source=None, origin="crm", **data):
    """A patient registered at ``created`` (the hospital's wall-clock time; stored as UTC like
    every registration, so 00:30 on 1 February is 16:30 UTC on 31 January and must still count
    as February) from ``source`` (a source code)."""
    with hospital_scope(hospital_id):
        if source:
            data["source_id"] = source_ids(hospital_id)[source]
        row = services.create_patient({"name": name, **data}, allow_duplicate=True, origin=origin)
        row.created_at = clock.local_to_utc(created)
        db.session.commit()
        return row


def visit(hospital_id, who, at, spending="0", **data):
    with hospital_scope(hospital_id):
        return services.record_visit(db.session.get(Patient, who.id), {"visit_at": at, "spending": spending, **data})


@pytest.fixture
def data(app, clinic):
    """Hospital A's registrations and visits in 2024-2025, and hospital B's noise in the same months."""
    with app.test_request_context():
        with system_scope():
            a = db.session.get(Hospital, clinic["a"])
        im = make_department(a, "IM", "内科").id
        ortho = clinic["ortho"]
        with hospital_scope(clinic["b"]):
            b_ortho = db.session.execute(sa.select(Department.id)).scalar_one()
        A, B = clinic["a"], clinic["b"]
        patient(A, "甲一", datetime(2024, 3, 10, 9), "online")
        patient(A, "甲二", datetime(2025, 2, 1, 0, 30), "online")
        patient(A, "甲三", datetime(2025, 2, 28, 23, 59), "walk_in")
        p4 = patient(A, "甲四", datetime(2025, 3, 1), "phone")
        patient(A, "甲五", datetime(2025, 3, 15), "phone")
        patient(A, "甲六", datetime(2025, 3, 31, 12))
        patient(A, "同步一", datetime(2025, 3, 3), "phone", origin="his")  # existed before: not new
        patient(A, "同步二", datetime(2025, 3, 4), origin="his")
        patient(A, "导入一", datetime(2025, 2, 4), "online", origin="import")
        dup = patient(A, "甲四", datetime(2025, 3, 2), "phone")
        with hospital_scope(A):  # a merged duplicate is not a new patient
            merge_services.merge_patients(db.session.get(Patient, dup.id), db.session.get(Patient, p4.id))
        for i in range(5):
            patient(B, f"乙{i}", datetime(2025, 3, 5), "phone")

        visit(A, p4, "2024-01-15T10:00", "200", department_id=ortho)
        visit(A, p4, "2024-12-31T23:00", "80", department_id=ortho)
        visit(A, p4, "2025-01-10T09:00", "100", department_id=ortho)
        visit(A, p4, "2025-01-20T09:00", "5000", department_id=ortho, kind="inpatient",
              discharge_at="2025-01-27T10:00")
        visit(A, p4, "2025-02-01T11:00", "300.10", department_id=im, kind="emergency")
        visit(A, p4, "2025-02-02T11:00", "50.20")
        visit(A, p4, "2025-03-05T08:00", "0", department_id=ortho)
        visit(A, p4, "2025-03-06T08:00", "999", department_id=ortho, status="cancelled")
        b_patient = patient(B, "乙甲", datetime(2025, 1, 1))
        visit(B, b_patient, "2025-01-10T09:00", "9999", department_id=b_ortho)
        visit(B, b_patient, "2025-03-05T09:00", "0", department_id=b_ortho)
    return clinic


def run(app, hospital_id, query, **params):
    # force_locale: the assertions read the English labels (the default language is Chinese).
    with app.test_request_context(), force_locale("en"), hospital_scope(hospital_id):
        result = query({"year": 2025, **params})
        return {k: str(label) for k, label in result.columns}, result.rows


def test_month_of_groups_by_local_month_on_this_database(app, data):
    with app.app_context(), hospital_scope(data["a"]):
        month = reports.month_of(clock.local_sql(Patient.created_at, db.engine.dialect.name))
        rows = db.session.execute(sa.select(month, sa.func.count()).group_by(month).order_by(month)).all()
    assert [tuple(r) for r in rows] == [("2024-03", 1), ("2025-02", 3), ("2025-03", 6)]


def test_new_patients_by_source(app, data):
    columns, rows = run(app, data["a"], reports.new_by_source)
    names = list(columns.values())
    assert names[:6] == ["Month", "网络", "电话咨询", "自然来源", "员工介绍", "转诊"]
    assert names[6:] == ["No source", "New patients", "Same month last year", "MoM %", "YoY %",
                         "Synced from the HIS", "Imported"]
    by_name = {label: key for key, label in columns.items()}
    assert [r["month"] for r in rows] == [f"2025-{m:02d}" for m in range(1, 13)]
    feb, mar, apr = rows[1], rows[2], rows[3]
    assert (feb[by_name["网络"]], feb[by_name["自然来源"]], feb["total"], feb["mom"], feb["yoy"]) == (1, 1, 2, None, None)
    assert (mar[by_name["电话咨询"]], mar["source_none"], mar["total"]) == (2, 1, 3)  # the merged duplicate is not counted
    assert (mar["last_year"], mar["mom"], mar["yoy"]) == (1, 50.0, 200.0)
    assert (feb["from_his"], feb["imported"], mar["from_his"], mar["imported"]) == (0, 1, 2, 0)
    assert (apr["total"], apr["mom"], apr["yoy"]) == (0, -100.0, None)
    assert sum(r["total"] for r in rows) == 5  # none of hospital B's registrations


def test_visits_by_department(app, data):
    columns, rows = run(app, data["a"], reports.visits_by_department)
    assert list(columns)[:3] == ["department", "m01", "m02"] and columns["m12"] == "2025-12"
    table = {r["department"]: r for r in rows}
    assert list(table) == ["骨科", "内科", "No department"]
    ortho = table["骨科"]  # the cancelled visit and B's visits are not counted
    assert [ortho[f"m{m:02d}"] for m in range(1, 5)] == [2, 0, 1, 0]
    assert (ortho["total"], ortho["last_year"], ortho["yoy"]) == (3, 2, 50.0)
    assert (table["内科"]["m02"], table["内科"]["total"], table["内科"]["yoy"]) == (1, 1, None)
    assert table["No department"]["total"] == 1

    _c, outpatient = run(app, data["a"], reports.visits_by_department, kind="outpatient")
    assert {r["department"]: (r["total"], r["last_year"], r["yoy"]) for r in outpatient} == {
        "骨科": (2, 2, 0.0), "No department": (1, 0, None)}
    _c, inpatient = run(app, data["a"], reports.visits_by_department, kind="inpatient")
    assert [(r["department"], r["m01"], r["total"]) for r in inpatient] == [("骨科", 1, 1)]


def test_spending_per_visit(app, data):
    columns, rows = run(app, data["a"], reports.spending_per_visit)
    assert list(columns) == ["month", "visits", "patients", "spending", "per_visit", "per_patient", "zero_spending",
                             "last_year", "mom", "yoy"]
    assert (columns["per_visit"], columns["per_patient"]) == ("Spending per visit", "Spending per patient")
    jan, feb, mar, apr = rows[:4]
    # January: two visits of one patient: 2550 per visit (次均), 5100 per patient (人均).
    assert (jan["patients"], jan["per_patient"]) == (1, Decimal("5100.00"))
    assert (jan["visits"], jan["spending"], jan["per_visit"], jan["zero_spending"]) == (2, Decimal("5100.00"),
                                                                                         Decimal("2550.00"), 0)
    assert (jan["last_year"], jan["mom"], jan["yoy"]) == (Decimal("200.00"), 6275.0, 2450.0)  # MoM from Dec 2024
    assert (feb["visits"], feb["spending"], feb["per_visit"], feb["mom"], feb["yoy"]) == (
        2, Decimal("350.30"), Decimal("175.15"), -93.1, None)
    assert (mar["visits"], mar["spending"], mar["per_visit"], mar["zero_spending"], mar["mom"]) == (
        1, Decimal("0.00"), Decimal("0.00"), 1, -100.0)
    assert (apr["visits"], apr["per_visit"], apr["zero_spending"], apr["mom"], apr["yoy"]) == (0, None, 0, None, None)
    _c, emergency = run(app, data["a"], reports.spending_per_visit, kind="emergency")
    assert (emergency[1]["visits"], emergency[1]["spending"]) == (1, Decimal("300.10"))


def test_hospital_b_sees_only_its_own_figures(app, data):
    _c, rows = run(app, data["b"], reports.spending_per_visit)
    assert [(r["visits"], r["spending"], r["zero_spending"]) for r in rows[:3]] == [
        (1, Decimal("9999.00"), 0), (0, Decimal("0.00"), 0), (1, Decimal("0.00"), 1)]
    _c, rows = run(app, data["b"], reports.new_by_source)
    assert [r["total"] for r in rows[:3]] == [1, 0, 5]


def test_future_or_absurd_years_give_an_empty_report(app, data):
    for year in (clock.local_today().year + 1, 1, 99999):
        assert run(app, data["a"], reports.spending_per_visit, year=year)[1] == []
    this_year = run(app, data["a"], reports.new_by_source, year=clock.local_today().year)[1]
    assert len(this_year) == clock.local_today().month


def test_report_pages_and_exports(app, data, client):
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    page = client.get("/reports/patients.spending_per_visit?year=2025")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "5100.00" in text and "2550.00" in text and "9999" not in text
    csv = client.get("/reports/patients.visits_by_department.csv?year=2025&kind=outpatient")
    assert csv.status_code == 200 and "骨科" in csv.get_data(as_text=True)
    xlsx = client.get("/reports/patients.new_by_source.xlsx?year=2025")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert client.get("/reports/patients.spending_per_visit?year=soon").status_code == 400
    assert client.get("/reports/patients.visits_by_department?year=2025&kind=dental").status_code == 400
    staff = app.test_client()
    login(staff, "a_staff")  # staff hold patients.read but not the reports screen
    assert staff.get("/reports/patients.spending_per_visit?year=2025").status_code == 403


def test_dashboard_card_counts_this_hospital_only(app, clinic, client):
    today = datetime.combine(clock.local_today(), time(0, 0, 1))
    with app.test_request_context():
        A, B = clinic["a"], clinic["b"]
        fresh = patient(A, "新一", clock.local_now(), key_patient=True)
        patient(A, "新二", clock.local_now())
        patient(A, "旧一", today - timedelta(days=40), key_patient=True)
        dup = patient(A, "新一", clock.local_now(), key_patient=True)
        with hospital_scope(A):
            merge_services.merge_patients(db.session.get(Patient, dup.id), db.session.get(Patient, fresh.id))
        visit(A, fresh, today)
        visit(A, fresh, today, status="cancelled")
        visit(A, fresh, today - timedelta(days=1))
        other = patient(B, "乙新", clock.local_now(), key_patient=True)
        visit(B, other, today)
    with app.test_request_context(), hospital_scope(A):
        card = reports.patients_card()
    assert (card.value, card.items[0][1], card.items[1][1]) == (2, 1, 2)
    assert card.trend[-1][1] == 2  # today's registrations: A's two, not B's, not the merged duplicate
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    page = client.get("/").get_data(as_text=True)
    assert "New patients this month" in page and "Patients seen today" in page
    if "patients.index" in app.view_functions:
        assert 'href="/patients/"' in page
    nobody = app.test_client()
    with app.app_context():
        from core.testing import make_user
        with system_scope():
            make_user(db.session.get(Hospital, A), "a_nobody", ())
    login(nobody, "a_nobody")
    assert "New patients this month" not in nobody.get("/").get_data(as_text=True)


def test_card_counts_crm_registrations_and_each_equals_the_list_it_opens(app, clinic, client):
    """A HIS sync or a file import this month does not move "new patients this month": those
    patients show on lines of their own. Every figure equals the patient list its link opens."""
    import re
    today = clock.local_today()
    with app.test_request_context():
        A = clinic["a"]
        patient(A, "新登记", clock.local_now())
        patient(A, "月初", datetime.combine(today.replace(day=1), time(0, 5)))  # 00:05 local: this month
        patient(A, "上月", datetime.combine(today.replace(day=1), time.min) - timedelta(minutes=5))
        for n in range(3):
            patient(A, f"同步{n}", clock.local_now(), origin="his")
        patient(A, "导入", clock.local_now(), origin="import")
    with app.test_request_context(), force_locale("en"), hospital_scope(A):
        card = reports.patients_card()
    assert card.value == 2
    lines = {label: (n, url) for label, n, url in card.items}
    assert (lines["Synced from the HIS this month"][0], lines["Imported this month"][0]) == (3, 1)
    assert len(card.trend) == 30 and card.trend[-1] == (today.isoformat(), float(1 + (today.day == 1)))
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})

    def listed(url):
        page = client.get(url)
        assert page.status_code == 200, url
        return len(re.findall(r'href="/patients/\d+"', page.get_data(as_text=True)))

    assert listed(card.url) == 2
    assert listed(lines["Synced from the HIS this month"][1]) == 3
    assert listed(lines["Imported this month"][1]) == 1
    from core.testing import api_token
    headers = api_token(app.test_client(), "a_admin")
    month = f"registered_from={today.replace(day=1)}&registered_to={today}"
    api = app.test_client()
    assert api.get(f"/api/v1/patients?origin=crm&{month}", headers=headers).get_json()["total"] == 2
    assert api.get(f"/api/v1/patients?origin=his&{month}", headers=headers).get_json()["total"] == 3
    assert api.get("/api/v1/patients?origin=moon", headers=headers).status_code == 400
    assert client.get("/patients/?origin=moon").status_code == 400
    bad = client.get("/patients/?registered_from=2026-02-30")
    assert bad.status_code == 400 and "Registered from" in bad.get_data(as_text=True)


def test_new_patients_chart_stacks_the_sources(app, data):
    from core.reports import chart_data
    report = next(r for r in reports.reports() if r.id == "patients.new_by_source")
    with app.test_request_context(), force_locale("en"), hospital_scope(data["a"]):
        chart = chart_data(report, reports.new_by_source({"year": 2025}))
    assert chart["stack"] is True
    assert [s["name"] for s in chart["series"]] == ["网络", "电话咨询", "自然来源", "员工介绍", "转诊", "No source"]
    assert [s["data"][2] for s in chart["series"]] == [0, 2, 0, 0, 0, 1]  # March: the CRM's 3, by source
