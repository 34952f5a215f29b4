"""Reports: listing, parameters, tenancy, plugin liveness, charts and CSV / .xlsx exports."""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import sys
import textwrap
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from openpyxl import load_workbook

from core.clock import local_today
from core.testing import login, make_app, make_department, make_hospital, make_user

PLUGIN = "reporttest"
MODULE = "hcrm_reporttest"


MANIFEST = {"name": PLUGIN, "title": "报表测试 Report test", "version": "1.0",
            "summary": "A plugin that only declares reports, for the reports tests."}

PLUGIN_CODE = textwrap.dedent('''
    import datetime as dt
    from decimal import Decimal

    from core import hookimpl
    from core.declarations import Chart, Permission, Report, ReportParam, ReportResult


    @hookimpl
    def hcrm_permissions():
        return [Permission("reporttest.read", "Open the test reports")]


    def visits(params):
        rows = []
        for i in range(params["top"]):
            rows.append({"day": params["since"] + dt.timedelta(days=i), "group": params["group"],
                         "visits": (i + 1) * 10, "amount": Decimal("12.50") * (i + 1),
                         "change": -5 if i == 0 else i,
                         "note": "=cmd()" if i == 0 else (params["who"] or "张三")})
        return ReportResult(
            columns=[("day", "日期 Day"), ("group", "Group"), ("visits", "就诊 Visits"),
                     ("amount", "金额 Amount"), ("change", "Change"), ("note", "Note")],
            rows=rows)


    def broken(params):
        raise RuntimeError("the database fell over")


    @hookimpl
    def hcrm_reports():
        return [
            Report(id="reporttest.visits", title="就诊统计 Visits", permission="reporttest.read",
                   query=visits, description="Visits per day, for testing.",
                   chart=Chart("line", "day", ("visits",)),
                   params=[ReportParam("group", "Group by", "choice", default="dept",
                                       choices=[("dept", "Department"), ("doctor", "Doctor")]),
                           ReportParam("top", "Top N", "int", default=3),
                           ReportParam("since", "Since", "date", default=dt.date(2026, 3, 1)),
                           ReportParam("who", "Name", "text")]),
            Report(id="reporttest.broken", title="Broken", permission="reporttest.read", query=broken),
        ]
''')


@pytest.fixture
def plugin_app(app, tmp_path, monkeypatch):
    """An app whose only plugin is a throw-away package declaring reports (tables are emptied
    by the ``app`` fixture, which shares the database)."""
    package = tmp_path / MODULE
    package.mkdir()
    (package / "__manifest__.py").write_text(repr(MANIFEST), encoding="utf-8")
    (package / "__init__.py").write_text(PLUGIN_CODE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MODULE, raising=False)

    def finder():
        return [(package, MODULE, "hcrm-reporttest")], []

    application = make_app(app.extensions["hcrm"].config.database_url, finder=finder)
    yield application
    from core.extensions import db
    with application.app_context():
        db.session.remove()
        db.engine.dispose()


def chart_json(html: str) -> dict:
    found = re.search(r'<script type="application/json" id="hcrm-report-chart-data">(.*?)</script>', html, re.S)
    assert found, "the page carries no chart data"
    return json.loads(found.group(1))


def signed_in(app, username):
    client = app.test_client()
    login(client, username)
    client.post("/language", data={"locale": "en"})  # the assertions read the English texts
    return client


# -- listing, permissions and liveness ---------------------------------------------------------
def test_index_lists_only_permitted_and_live_reports(plugin_app):
    with plugin_app.app_context():
        a = make_hospital("A", plugins=[PLUGIN])
        b = make_hospital("B")
        make_user(a, "a_director", ("director",))
        make_user(a, "a_supervisor", ("supervisor",))
        make_user(a, "a_staff", ("staff",))
        make_user(b, "b_director", ("director",))

    html = signed_in(plugin_app, "a_director").get("/reports/").get_data(as_text=True)
    assert "Data changes per day" in html and "就诊统计 Visits" in html
    assert "报表测试 Report test" in html  # grouped under the plugin's title

    supervisor = signed_in(plugin_app, "a_supervisor")
    html = supervisor.get("/reports/").get_data(as_text=True)
    assert "就诊统计 Visits" in html and "Data changes per day" not in html  # no core.audit.read
    assert supervisor.get("/reports/core.audit_activity").status_code == 403
    assert supervisor.get("/reports/core.audit_activity.csv").status_code == 403

    other = signed_in(plugin_app, "b_director")
    html = other.get("/reports/").get_data(as_text=True)
    assert "Data changes per day" in html and "就诊统计 Visits" not in html
    assert other.get("/reports/reporttest.visits").status_code == 404
    assert other.get("/reports/reporttest.visits.xlsx").status_code == 404
    assert other.get("/reports/no.such_report").status_code == 404

    assert signed_in(plugin_app, "a_staff").get("/reports/").status_code == 403  # no core.reports.read
    assert plugin_app.test_client().get("/reports/").status_code == 302  # to the sign-in page


def _hospital(code):
    from core.extensions import db
    from core.models import Hospital
    from core.tenancy import system_scope
    with system_scope():
        return db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one()


def test_report_of_disabled_plugin_disappears_and_comes_back(plugin_app):
    from core import activation
    from core.extensions import db
    from core.tenancy import system_scope
    with plugin_app.app_context():
        make_user(make_hospital("A", plugins=[PLUGIN]), "a_director", ("director",))
    client = signed_in(plugin_app, "a_director")
    assert client.get("/reports/reporttest.visits").status_code == 200

    with plugin_app.app_context(), system_scope():
        activation.disable(_hospital("A"), PLUGIN)
        db.session.commit()
    assert client.get("/reports/reporttest.visits").status_code == 404
    assert client.get("/reports/reporttest.visits.csv").status_code == 404
    assert "就诊统计 Visits" not in client.get("/reports/").get_data(as_text=True)

    with plugin_app.app_context(), system_scope():
        activation.enable(_hospital("A"), PLUGIN)
        db.session.commit()
    assert client.get("/reports/reporttest.visits").status_code == 200
    assert "就诊统计 Visits" in client.get("/reports/").get_data(as_text=True)


# -- the page: table, chart, parameters --------------------------------------------------------
def test_report_page_shows_table_and_chart_with_parameters(plugin_app):
    with plugin_app.app_context():
        make_user(make_hospital("A", plugins=[PLUGIN]), "a_director", ("director",))
    client = signed_in(plugin_app, "a_director")

    page = client.get("/reports/reporttest.visits?group=doctor&top=4&since=2026-05-30"
                      "&who=%3Cscript%3Ealert(1)%3C/script%3E")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    chart = chart_json(html)
    assert chart["kind"] == "line"
    assert chart["x"] == ["2026-05-30", "2026-05-31", "2026-06-01", "2026-06-02"]
    assert chart["series"] == [{"name": "就诊 Visits", "data": [10, 20, 30, 40]}]
    assert "2026-06-02" in html and "50.00" in html and "doctor" in html  # table cells, typed params
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert 'type="date"' in html and 'value="2026-05-30"' in html  # the form keeps the input
    assert "vendor/echarts/echarts.min.js" in html and "reports.js" in html
    assert "/reports/reporttest.visits.xlsx?" in html and "top=4" in html  # exports keep the params

    defaults = client.get("/reports/reporttest.visits").get_data(as_text=True)
    assert chart_json(defaults)["x"] == ["2026-03-01", "2026-03-02", "2026-03-03"]  # top=3, since default


@pytest.mark.parametrize("query, field, message", [
    ("since=2026-13-01", "since", "Since: enter a date as YYYY-MM-DD."),
    ("group=nurse", "group", "Group by: choose one of dept, doctor."),
    ("top=three", "top", "Top N: enter a whole number."),
    ("who=" + "x" * 201, "who", "Name: at most 200 characters."),
])
def test_bad_parameters_are_400_with_the_field_named(plugin_app, query, field, message):
    with plugin_app.app_context():
        make_user(make_hospital("A", plugins=[PLUGIN]), "a_director", ("director",))
    client = signed_in(plugin_app, "a_director")

    page = client.get(f"/reports/reporttest.visits?{query}")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert message in html
    assert f'id="{field}-error"' in html and 'aria-invalid="true"' in html
    assert "hcrm-report-chart-data" not in html and ".xlsx" not in html  # nothing ran, nothing to export

    for fmt in ("csv", "xlsx"):
        export = client.get(f"/reports/reporttest.visits.{fmt}?{query}")
        assert export.status_code == 400
        assert export.mimetype == "text/plain"
        assert message in export.get_data(as_text=True)
        assert "Content-Disposition" not in export.headers


def test_a_failing_report_is_logged_and_shows_a_500_page(plugin_app, caplog):
    with plugin_app.app_context():
        make_user(make_hospital("A", plugins=[PLUGIN]), "a_director", ("director",))
    client = signed_in(plugin_app, "a_director")
    for url in ("/reports/reporttest.broken", "/reports/reporttest.broken.xlsx"):
        caplog.clear()
        response = client.get(url)
        assert response.status_code == 500
        html = response.get_data(as_text=True)
        assert "nothing was exported" in html
        assert "Traceback" not in html and "fell over" not in html
        assert "Content-Disposition" not in response.headers
        assert any("reporttest.broken" in r.getMessage() and r.exc_info for r in caplog.records)


# -- exports -----------------------------------------------------------------------------------
def test_csv_export_has_bom_labels_rows_and_no_formulas(plugin_app):
    with plugin_app.app_context():
        make_user(make_hospital("A", plugins=[PLUGIN]), "a_director", ("director",))
    client = signed_in(plugin_app, "a_director")

    response = client.get("/reports/reporttest.visits.csv?top=2&since=2026-01-31")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f'filename="reporttest.visits-{local_today().isoformat()}.csv"' in disposition
    assert f"filename*=UTF-8''{quote(f'就诊统计 Visits-{local_today().isoformat()}.csv', safe='')}" in disposition

    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    lines = body.decode("utf-8-sig").splitlines()
    assert lines == [
        "日期 Day,Group,就诊 Visits,金额 Amount,Change,Note",
        "2026-01-31,dept,10,12.50,-5,'=cmd()",
        "2026-02-01,dept,20,25.00,1,张三",
    ]


def test_xlsx_export_is_typed_with_bold_frozen_header(plugin_app):
    with plugin_app.app_context():
        make_user(make_hospital("A", plugins=[PLUGIN]), "a_director", ("director",))
    client = signed_in(plugin_app, "a_director")

    response = client.get("/reports/reporttest.visits.xlsx?top=2&since=2026-01-31")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert f'filename="reporttest.visits-{local_today().isoformat()}.xlsx"' in response.headers["Content-Disposition"]

    book = load_workbook(io.BytesIO(response.data))
    sheet = book.active
    assert sheet.title == "就诊统计 Visits"
    assert book.properties.title == "就诊统计 Visits"
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("日期 Day", "Group", "就诊 Visits", "金额 Amount", "Change", "Note")
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert rows[1] == (dt.datetime(2026, 1, 31), "dept", 10, 12.5, -5, "=cmd()")
    assert sheet["A2"].is_date and sheet["A2"].number_format == "yyyy-mm-dd"
    assert sheet["F2"].data_type == "s"  # text, never a formula
    assert sheet.column_dimensions["A"].width >= 10


def test_sheet_titles_follow_excel_rules():
    from core.report_export import sheet_title
    title = sheet_title("Visits [per] day: a/b * c? \\ and a much longer tail")
    assert len(title) <= 31 and not set("[]:*?/\\") & set(title)
    assert sheet_title("'[]'") == "Report"


# -- the core's audit report and tenancy -------------------------------------------------------
def _created_per_hospital(app) -> dict[str, int]:
    from core.extensions import db
    from core.models import AuditLog, Hospital
    from core.tenancy import system_scope
    with app.app_context(), system_scope():
        rows = db.session.execute(
            sa.select(Hospital.code, sa.func.count(AuditLog.id))
            .join(AuditLog, AuditLog.hospital_id == Hospital.id)
            .where(AuditLog.action == "create").group_by(Hospital.code)).all()
    return dict(rows)


def test_audit_activity_counts_only_the_users_hospital(app, client):
    with app.app_context():
        a, b = make_hospital("A"), make_hospital("B")
        for code in ("D1", "D2", "D3", "D4"):
            make_department(a, code)
        make_department(b, "D1")
        make_user(a, "a_director", ("director",))
        make_user(b, "b_director", ("director",))
    expected = _created_per_hospital(app)
    assert expected["A"] > expected["B"] > 0

    span = f"start={(local_today() - dt.timedelta(days=1)).isoformat()}&end={(local_today() + dt.timedelta(days=1)).isoformat()}"
    for username, code in (("b_director", "B"), ("a_director", "A")):
        user = signed_in(app, username)
        page = user.get(f"/reports/core.audit_activity?{span}")
        assert page.status_code == 200
        chart = chart_json(page.get_data(as_text=True))
        created = next(s for s in chart["series"] if s["name"] == "Records created")
        assert sum(created["data"]) == expected[code]

        book = load_workbook(io.BytesIO(user.get(f"/reports/core.audit_activity.xlsx?{span}").data))
        sheet = book.active
        assert sheet.title == "Data changes per day"
        data = list(sheet.iter_rows(min_row=2, values_only=True))
        assert sum(row[1] for row in data) == expected[code]
        assert all(isinstance(row[0], dt.datetime) for row in data)  # days are dates in Excel


def test_audit_activity_rejects_a_bad_date(app, client):
    with app.app_context():
        make_user(make_hospital("A"), "a_director", ("director",))
    login(client, "a_director")
    client.post("/language", data={"locale": "en"})  # the assertions read the English messages
    page = client.get("/reports/core.audit_activity?start=yesterday")
    assert page.status_code == 400
    assert "From: enter a date as YYYY-MM-DD." in page.get_data(as_text=True)
    export = client.get("/reports/core.audit_activity.csv?start=2026-02-30")
    assert export.status_code == 400 and "From: enter a date" in export.get_data(as_text=True)


# -- the service, as the API and CLI will use it ----------------------------------------------
def test_parse_params_types_defaults_and_required(app):
    from core.declarations import Report, ReportParam, ReportResult
    from core.reports import ReportParamError, parse_params
    report = Report(id="core.x", title="X", permission="core.reports.read",
                    query=lambda p: ReportResult([], []),
                    params=[ReportParam("day", "Day", "date", required=True),
                            ReportParam("n", "Count", "int", default=lambda: 7),
                            ReportParam("kind", "Kind", "choice", choices=[(1, "One"), (2, "Two")]),
                            ReportParam("q", "Search", "text")])
    with app.test_request_context(), force_locale("en"):  # the assertions read the English messages
        assert parse_params(report, {"day": "2026-11-22", "kind": "2", "q": "  张 "}) == {
            "day": dt.date(2026, 11, 22), "n": 7, "kind": 2, "q": "张"}
        assert parse_params(report, {"day": dt.date(2026, 1, 1), "n": 3})["n"] == 3  # typed input (API)
        with pytest.raises(ReportParamError) as caught:
            parse_params(report, {"n": "1.5", "kind": "3"})
    assert caught.value.errors == {"day": "Day is required.", "n": "Count: enter a whole number.",
                                   "kind": "Kind: choose one of 1, 2."}
