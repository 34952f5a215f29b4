"""Patient import (upload → columns → check every row → all-or-nothing commit, in a background job
with progress) and export of the filtered list (hospital, masking, audit, formula injection)."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import time
import zipfile
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from core.clock import local_today
from core.extensions import db
from core.models import AuditLog, User
from core.tenancy import hospital_scope, system_scope
from core.testing import login, make_user
from plugins.patients import services
from plugins.patients import transfer_services as ts
from plugins.patients.models import Patient, Referrer, Region, Source, Tag
from plugins.patients.query_args import query_from_args
from plugins.patients.tests.conftest import id_number

pytestmark = [pytest.mark.usefixtures("queue_consumer"), pytest.mark.real_commits]

IMPORT_URL = "/patients/transfer/import"
HEADERS = ["姓名", "性别", "出生日期", "身份证号", "手机", "医保卡号", "地区", "地址", "职业", "来源", "介绍人",
           "科室", "标签", "重点病人", "备注", "无关列"]
EXPECTED_MAPPING = ["name", "gender", "birth_date", "id_number", "phone", "insurance_no", "region", "address",
                   "occupation", "source", "referrer", "department", "tags", "key_patient", "notes", "ignore"]


# -- helpers --------------------------------------------------------------------------------------
@pytest.fixture
def imports(app, clinic, tmp_path):
    """Uploads go to a temporary folder; hospital A has a referrer and a region to match."""
    app.config["HCRM_IMPORT_FOLDER"] = str(tmp_path / "imports")
    with app.app_context(), hospital_scope(clinic["a"]):
        county = Region(name="芙蓉区")
        db.session.add(county)
        db.session.flush()
        db.session.add_all([Region(name="定王台街道", parent_id=county.id), Referrer(name="李医生")])
        db.session.commit()
    return clinic


def xlsx(rows) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_bytes(rows, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def english(client, username):
    login(client, username)
    client.post("/language", data={"locale": "en"})


def upload(client, filename, data):
    return client.post(IMPORT_URL, data={"file": (io.BytesIO(data), filename)}, content_type="multipart/form-data")


def token_of(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return re.search(r"/import/([0-9a-f]{32})/mapping", response.headers["Location"]).group(1)


def suggested(page: str) -> list[str]:
    """The field selected in each column's <select> of the mapping page."""
    selects = re.findall(r'name="column-(\d+)"[^>]*>(.*?)</select>', page, re.S)
    return [re.search(r'value="(\w+)" selected', body).group(1) for _index, body in selects]


def wait(client, token, timeout=180) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        progress = client.get(f"{IMPORT_URL}/{token}/progress").get_json()
        if progress["state"] not in ("queued", "validating", "committing"):
            return progress
        time.sleep(0.05)
    raise AssertionError(f"import job {token} did not finish: {progress}")


def check(client, token, mapping=None, allow=False) -> dict:
    """Post the mapping (the page's suggestions by default) and wait for the check to finish."""
    if mapping is None:
        mapping = suggested(client.get(f"{IMPORT_URL}/{token}/mapping").get_data(as_text=True))
    form = {f"column-{i}": field for i, field in enumerate(mapping)}
    if allow:
        form["allow_duplicates"] = "1"
    response = client.post(f"{IMPORT_URL}/{token}/mapping", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return wait(client, token)


def commit(client, token) -> dict:
    response = client.post(f"{IMPORT_URL}/{token}/commit")
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return wait(client, token)


def patients(app, hospital_id) -> list[Patient]:
    with app.app_context(), hospital_scope(hospital_id):
        rows = db.session.execute(sa.select(Patient).order_by(Patient.id)).scalars().all()
        for patient in rows:
            _ = (patient.tags, patient.region and patient.region.parent, patient.source, patient.referrer,
                 patient.department)
        db.session.expunge_all()
        return rows


def patient_count(app, hospital_id) -> int:
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(sa.func.count()).select_from(Patient)).scalar_one()


# Excel keeps numbers to ~15 digits; this ID number is one a number cell holds exactly.
NUMERIC_ID = id_number("19900307", "577")


def good_rows():
    first = NUMERIC_ID
    second = id_number("19850304", "246")
    return [
        HEADERS,
        ["张三", "男", datetime(1990, 3, 7), int(first), 13812345678, "YB001", "芙蓉区/定王台街道", "长沙市芙蓉区1号",
         "教师", "网络", "李医生", "骨科", "高血压、复诊", "是", "首诊", "x"],
        ["李四", "女", "1985/3/4", second, 13912345678.0, None, "定王台街道", None, None, "walk_in", None, "ORTH",
         "糖尿病; 高血压", "否", None, None],
    ]


# -- import: the good paths ----------------------------------------------------------------------
def test_xlsx_import_end_to_end_with_chinese_headers_and_numbers_stored_as_numbers(app, client, imports):
    english(client, "a_admin")
    page = client.get(IMPORT_URL)
    assert page.status_code == 200 and "Import patients" in page.get_data(as_text=True)
    token = token_of(upload(client, "患者.xlsx", xlsx(good_rows())))
    mapping_page = client.get(f"{IMPORT_URL}/{token}/mapping").get_data(as_text=True)
    assert suggested(mapping_page) == EXPECTED_MAPPING
    assert "13812345678" in mapping_page and "长沙市芙蓉区1号" in mapping_page  # the first rows are shown

    progress = check(client, token)
    assert (progress["state"], progress["ok"], progress["errors"]) == ("validated", 2, 0), progress
    assert "All 2 rows are valid" in client.get(f"{IMPORT_URL}/{token}").get_data(as_text=True)
    assert patient_count(app, imports["a"]) == 0  # checking writes nothing

    done = commit(client, token)
    assert (done["state"], done["imported"]) == ("done", 2), done
    assert "2 patients imported." in client.get(f"{IMPORT_URL}/{token}").get_data(as_text=True)
    zhang, li = patients(app, imports["a"])
    assert zhang.id_number == NUMERIC_ID and zhang.phone == "13812345678"
    assert (zhang.gender, zhang.birth_date, zhang.insurance_no) == ("M", date(1990, 3, 7), "YB001")
    assert str(zhang.region) == "芙蓉区 / 定王台街道" and zhang.source.name == "网络" and zhang.referrer.name == "李医生"
    assert zhang.department_id == imports["ortho"] and zhang.key_patient is True and zhang.notes == "首诊"
    assert sorted(t.name for t in zhang.tags) == ["复诊", "高血压"]
    assert (li.phone, li.birth_date, li.gender, li.key_patient) == ("13912345678", date(1985, 3, 4), "F", False)
    assert li.source.code == "walk_in" and li.department_id == imports["ortho"] and li.region.name == "定王台街道"
    assert sorted(t.name for t in li.tags) == ["糖尿病", "高血压"]
    with app.app_context(), system_scope():
        admin = db.session.execute(sa.select(User).where(User.username == "a_admin")).scalar_one()
        assert {zhang.owner_id, li.owner_id} == {admin.id}  # the importer is the staff in charge
        created = db.session.execute(sa.select(AuditLog).where(AuditLog.model == "Patient",
                                                                AuditLog.action == "create")).scalars().all()
        assert len(created) == 2 and {a.user_id for a in created} == {admin.id}
    folder = os.path.join(app.config["HCRM_IMPORT_FOLDER"], token)
    assert not [n for n in os.listdir(folder) if n.startswith("upload")]  # the file is gone after the commit
    again = client.post(f"{IMPORT_URL}/{token}/commit")
    assert again.status_code == 400 and patient_count(app, imports["a"]) == 2  # no second import


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "utf-8-sig", "utf-8"])
def test_csv_import_in_gbk_or_utf8(app, client, imports, encoding):
    english(client, "a_admin")
    rows = [["姓名", "性别", "身份证号", "手机", "科室", "重点病人"],
            ["王五", "男", id_number("19700101", "111"), "13712345678", "骨科", "1"],
            ["赵六", "女", id_number("19800202", "222"), "13612345678", "", "0"]]
    token = token_of(upload(client, "patients.csv", csv_bytes(rows, encoding)))
    assert check(client, token)["ok"] == 2
    assert commit(client, token)["imported"] == 2
    wang, zhao = patients(app, imports["a"])
    assert (wang.name, wang.gender, wang.key_patient, wang.department_id) == ("王五", "M", True, imports["ortho"])
    assert (zhao.name, zhao.phone, zhao.birth_date) == ("赵六", "13612345678", date(1980, 2, 2))


def test_semicolon_csv_and_english_headers_are_understood(app, client, imports):
    english(client, "a_admin")
    data = "Name;Gender;Date of birth;Mobile;Phone 2;Notes\r\nAnna;F;2001-05-06;13512345678;0731-8888888;hi\r\n"
    token = token_of(upload(client, "p.csv", data.encode()))
    page = client.get(f"{IMPORT_URL}/{token}/mapping").get_data(as_text=True)
    assert suggested(page) == ["name", "gender", "birth_date", "phone", "phone2", "notes"]
    assert check(client, token)["ok"] == 1


def test_sql_and_html_in_names_are_imported_as_plain_text(app, client, imports):
    english(client, "a_admin")
    names = ["<script>alert(1)</script>", "Robert'); DROP TABLE patients_patient;--"]
    token = token_of(upload(client, "x.xlsx", xlsx([["姓名", "备注"], [names[0], "<b>bold</b>"], [names[1], None]])))
    page = client.get(f"{IMPORT_URL}/{token}/mapping").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page
    check(client, token)
    assert commit(client, token)["imported"] == 2
    assert [p.name for p in patients(app, imports["a"])] == names


# -- import: bad files and bad rows -----------------------------------------------------------------
def test_half_broken_spreadsheet_reports_every_row_and_imports_nothing(app, client, imports):
    english(client, "a_admin")
    bad_checksum = id_number("19900307", "135")[:-1] + ("0" if id_number("19900307", "135")[-1] != "0" else "1")
    rows = [["姓名", "身份证号", "出生日期", "科室", "手机"],
            ["好一", id_number("19900101", "111"), None, "骨科", None],
            ["坏校验", bad_checksum, None, None, None],
            ["好二", id_number("19900102", "112"), None, None, None],
            ["坏日期", None, "1990-02-30", None, None],
            ["好三", None, "1991-01-01", None, "13812340001"],
            ["坏科室", None, None, "眼科", None],
            ["好四", None, None, "ORTH", None],
            [None, id_number("19900103", "113"), None, None, "13812340002"],
            ["好五", None, None, None, None],
            ["重复", id_number("19900101", "111"), None, None, None],
            ["精度", 4.30621199003071e17, None, None, None]]
    token = token_of(upload(client, "broken.xlsx", xlsx(rows)))
    progress = check(client, token)
    assert (progress["state"], progress["ok"], progress["errors"]) == ("validated", 5, 6), progress
    status = client.get(f"{IMPORT_URL}/{token}").get_data(as_text=True)
    assert "Nothing can be imported while any row has an error" in status and "Import 5 patients" not in status

    report = client.get(f"{IMPORT_URL}/{token}/report.xlsx")
    assert report.status_code == 200 and "attachment" in report.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(report.data)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0] == ("Row", "姓名", "身份证号", "出生日期", "科室", "手机", "Errors")
    reasons = {line[0]: line[-1] for line in lines[1:]}
    assert "check digit" in reasons[3]
    assert "Birth date: Enter a real date" in reasons[5]
    assert "No department named or coded “眼科”" in reasons[7]
    assert "Name: Enter the patient's name." in reasons[9]
    assert "Same ID number as row 2." in reasons[11]
    assert "lost its last digits" in reasons[12]
    assert set(reasons) == {3, 5, 7, 9, 11, 12}
    assert lines[1][1:3] == ("坏校验", bad_checksum)  # the row's own values, to find and fix it

    csv_report = client.get(f"{IMPORT_URL}/{token}/report.csv")
    assert csv_report.data.startswith("\ufeff".encode())
    table = list(csv.reader(io.StringIO(csv_report.data.decode("utf-8-sig"))))
    assert [line[0] for line in table[1:]] == ["3", "5", "7", "9", "11", "12"]

    refused = client.post(f"{IMPORT_URL}/{token}/commit")
    assert refused.status_code == 400 and "nothing was imported" in refused.get_data(as_text=True)
    assert patient_count(app, imports["a"]) == 0


def test_duplicates_of_registered_patients_need_the_tick(app, client, imports):
    with app.test_request_context(), hospital_scope(imports["a"]):
        services.create_patient({"name": "张三", "id_number": id_number("19900307", "123")})
    english(client, "a_admin")
    data = xlsx([["姓名", "身份证号"], ["张三", id_number("19900307", "123")]])
    token = token_of(upload(client, "d.xlsx", data))
    assert check(client, token)["errors"] == 1
    status = client.get(f"{IMPORT_URL}/{token}").get_data(as_text=True)
    assert "Possible duplicate of #" in status and "import duplicates anyway" in status
    assert check(client, token, ["name", "id_number"], allow=True)["ok"] == 1
    assert commit(client, token)["imported"] == 1
    assert patient_count(app, imports["a"]) == 2


def test_a_duplicate_registered_between_check_and_commit_rolls_everything_back(app, client, imports):
    english(client, "a_admin")
    rows = [["姓名", "身份证号"], ["甲", id_number("19900101", "111")], ["乙", id_number("19900102", "112")]]
    token = token_of(upload(client, "d.xlsx", xlsx(rows)))
    assert check(client, token)["ok"] == 2
    with app.test_request_context(), hospital_scope(imports["a"]):
        services.create_patient({"name": "乙", "id_number": id_number("19900102", "112")})
    failed = commit(client, token)
    assert failed["state"] == "failed" and "Row 3 was refused" in failed["message"]
    status = client.get(f"{IMPORT_URL}/{token}").get_data(as_text=True)
    assert "The import failed: nothing was imported." in status and "Row 3 was refused" in status
    assert [p.name for p in patients(app, imports["a"])] == ["乙"]  # row 2 was rolled back too


def test_mapping_must_name_the_name_column_once(app, client, imports):
    english(client, "a_admin")
    token = token_of(upload(client, "m.xlsx", xlsx([["A", "B"], ["张三", "李四"]])))
    assert suggested(client.get(f"{IMPORT_URL}/{token}/mapping").get_data(as_text=True)) == ["ignore", "ignore"]
    no_name = client.post(f"{IMPORT_URL}/{token}/mapping", data={"column-0": "notes", "column-1": "ignore"})
    assert no_name.status_code == 400 and "the name is required" in no_name.get_data(as_text=True)
    twice = client.post(f"{IMPORT_URL}/{token}/mapping", data={"column-0": "name", "column-1": "name"})
    assert twice.status_code == 400 and "Only one column can be imported as Name" in twice.get_data(as_text=True)
    unknown = client.post(f"{IMPORT_URL}/{token}/mapping", data={"column-0": "name", "column-1": "password"})
    assert unknown.status_code == 400 and "Unknown field" in unknown.get_data(as_text=True)


def test_upload_over_10_mb_is_413(app, client, imports):
    english(client, "a_admin")
    big = b"name\r\n" + b"x" * (10 * 1024 * 1024)
    response = upload(client, "big.csv", big)
    assert response.status_code == 413 and "larger than 10 MB" in response.get_data(as_text=True)
    huge = upload(client, "huge.csv", b"x" * (11 * 1024 * 1024))
    assert huge.status_code == 413
    assert not os.listdir(app.config["HCRM_IMPORT_FOLDER"])  # nothing kept


def _zip_without_workbook() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return out.getvalue()


@pytest.mark.parametrize("filename, data, message", [
    ("patients.xlsx", os.urandom(4096), "not a readable Excel workbook"),
    ("patients.xlsx", _zip_without_workbook(), "not a readable Excel workbook"),
    ("patients.csv", bytes(range(256)) * 64, "neither a spreadsheet nor a CSV text file"),
    ("patients.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(512), "Old Excel files (.xls)"),
    ("patients.pdf", b"%PDF-1.4", "Upload an Excel workbook (.xlsx) or a CSV file"),
    ("patients.csv", b"", "The file is empty."),
    ("patients.csv", b"\r\n\r\n", "The first row must hold the column names"),
])
def test_files_that_are_not_spreadsheets_get_a_clear_400(app, client, imports, filename, data, message):
    english(client, "a_admin")
    response = upload(client, filename, data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert not os.listdir(app.config["HCRM_IMPORT_FOLDER"])


def test_missing_file_is_400(app, client, imports):
    english(client, "a_admin")
    response = client.post(IMPORT_URL, data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose the .xlsx or .csv file" in response.get_data(as_text=True)


def test_an_upload_is_only_its_uploaders(app, client, imports):
    with app.app_context():
        from core.models import Hospital
        with system_scope():
            hospital_a = db.session.get(Hospital, imports["a"])
        make_user(hospital_a, "a_manager", ("dept_manager",))
    login(client, "a_admin")
    token = token_of(upload(client, "p.xlsx", xlsx(good_rows())))
    for username in ("b_admin", "a_manager"):
        other = app.test_client()
        login(other, username)
        for url in (f"/{token}", f"/{token}/mapping", f"/{token}/progress", f"/{token}/report.xlsx"):
            assert other.get(IMPORT_URL + url).status_code == 404, (username, url)
        for url in (f"/{token}/mapping", f"/{token}/commit", f"/{token}/discard"):
            assert other.post(IMPORT_URL + url).status_code == 404, (username, url)
    for bogus in ("0" * 32, "not-a-token", "..%2F..%2Fsecret_key"):
        assert client.get(f"{IMPORT_URL}/{bogus}/progress").status_code == 404
    assert client.get(f"{IMPORT_URL}/{token}/progress").get_json()["state"] == "uploaded"


def test_import_needs_the_import_permission(app, client, imports):
    for username in ("a_staff", "a_director"):
        other = app.test_client()
        login(other, username)
        assert other.get(IMPORT_URL).status_code == 403
        assert upload(other, "p.xlsx", xlsx(good_rows())).status_code == 403
    assert not os.path.exists(app.config["HCRM_IMPORT_FOLDER"]) or not os.listdir(app.config["HCRM_IMPORT_FOLDER"])


def test_discard_deletes_the_upload(app, client, imports):
    english(client, "a_admin")
    token = token_of(upload(client, "p.xlsx", xlsx(good_rows())))
    assert client.post(f"{IMPORT_URL}/{token}/discard").status_code == 302
    assert client.get(f"{IMPORT_URL}/{token}").status_code == 404
    assert not os.listdir(app.config["HCRM_IMPORT_FOLDER"])


def test_uploads_older_than_a_day_are_removed_on_the_next_upload(app, client, imports):
    english(client, "a_admin")
    old = token_of(upload(client, "p.xlsx", xlsx(good_rows())))
    meta_path = os.path.join(app.config["HCRM_IMPORT_FOLDER"], old, "meta.json")
    with open(meta_path, encoding="utf-8") as fh:
        meta = json.load(fh)
    meta["created"] -= 25 * 3600
    with open(meta_path, "w", encoding="utf-8") as fh:
        json.dump(meta, fh)
    new = token_of(upload(client, "p.xlsx", xlsx(good_rows())))
    assert os.listdir(app.config["HCRM_IMPORT_FOLDER"]) == [new]
    assert client.get(f"{IMPORT_URL}/{old}").status_code == 404


# -- the jobs, called directly ---------------------------------------------------------------------
def _staged(app, hospital_id, data, filename="p.xlsx", mapping=None, allow=False) -> str:
    with app.test_request_context():
        token = ts.save_upload(io.BytesIO(data), filename, hospital_id=hospital_id, user_id=None, locale="en")
        meta = ts.load_upload(token, hospital_id=hospital_id, user_id=None)
        ts.set_mapping(meta, mapping or meta["mapping"], allow, "en")
        return token


def test_jobs_validate_then_commit_and_fire_the_created_events(app, imports, monkeypatch):
    fired = []
    original = services.events.emit
    monkeypatch.setattr(services.events, "emit", lambda name, **kw: fired.append(name) or original(name, **kw))
    token = _staged(app, imports["a"], xlsx(good_rows()))
    with app.test_request_context():
        assert ts.queue_job(token, "validate")
    checked = ts.run_job(app, token, "validate")
    assert (checked["state"], checked["done"], checked["total"], checked["ok"]) == ("validated", 2, 2, 2)
    with app.test_request_context():
        assert ts.queue_job(token, "commit")
        assert not ts.queue_job(token, "validate")  # one job per upload at a time
    done = ts.run_job(app, token, "commit")
    assert (done["state"], done["imported"], done["percent"]) == ("done", 2, 100)
    assert fired.count("patients.patient_created") == 2
    assert patient_count(app, imports["a"]) == 2 and patient_count(app, imports["b"]) == 0


def test_a_job_that_breaks_shows_its_error_and_writes_nothing(app, client, imports):
    english(client, "a_admin")
    token = token_of(upload(client, "p.xlsx", xlsx(good_rows())))
    assert check(client, token)["ok"] == 2
    with app.app_context():
        folder = ts.import_folder() / token
    stored = json.loads((folder / "meta.json").read_text(encoding="utf-8"))["file"]
    (folder / stored).unlink()  # the file vanished from the server meanwhile
    failed = commit(client, token)
    assert failed["state"] == "failed" and "no longer kept" in failed["message"]
    assert "no longer kept" in client.get(f"{IMPORT_URL}/{token}").get_data(as_text=True)
    assert patient_count(app, imports["a"]) == 0


def test_commit_is_refused_until_the_file_is_checked(app, client, imports):
    english(client, "a_admin")
    token = token_of(upload(client, "p.xlsx", xlsx(good_rows())))
    response = client.post(f"{IMPORT_URL}/{token}/commit")
    assert response.status_code == 400 and "Only a validated file without errors" in response.get_data(as_text=True)
    assert patient_count(app, imports["a"]) == 0


def test_numbers_that_lost_digits_in_excel_or_csv_are_flagged(app, imports):
    data = csv_bytes([["姓名", "身份证号", "手机"], ["甲", "4.30621E+17", "13812345678"],
                      ["乙", id_number(), "1.38123E+10"], ["丙", None, "13812345679.0"]])
    token = _staged(app, imports["a"], data, "p.csv")
    with app.test_request_context():
        ts.queue_job(token, "validate")
    assert ts.run_job(app, token, "validate")["errors"] == 2
    with app.test_request_context():
        errors = ts.row_errors(ts.load_upload(token, hospital_id=imports["a"], user_id=None))
    assert set(errors) == {2, 3} and all("lost its last digits" in e[0] for e in errors.values())


def test_a_thousand_rows_are_checked_and_imported_in_the_background(app, client, imports):
    english(client, "a_admin")
    rows = [["姓名", "身份证号", "手机"]]
    for n in range(1000):
        rows.append([f"患者{n}", id_number(f"{1950 + n // 500}0101", f"{n % 500:03d}"), f"139{n:08d}"])
    assert len({r[1] for r in rows}) == 1001  # every ID number differs
    token = token_of(upload(client, "big.csv", csv_bytes(rows)))
    checked = check(client, token)
    assert (checked["ok"], checked["errors"]) == (1000, 0), checked
    done = commit(client, token)
    assert done["imported"] == 1000, done
    assert patient_count(app, imports["a"]) == 1000


# -- the command line ------------------------------------------------------------------------------
def test_cli_import_checks_then_imports(app, imports, tmp_path):
    import click

    from plugins.patients.cli import import_command, register
    root = click.Group("hcrm")
    register(root)
    assert root.commands["patients"].commands["import"] is import_command
    good = tmp_path / "good.csv"
    good.write_bytes(csv_bytes([["姓名", "手机", "科室"], ["王五", "13712345678", "骨科"]], "gbk"))
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes([["Patient", "手机"], ["", "13712345678"], ["甲", "123"]]))
    runner = app.test_cli_runner()
    result = runner.invoke(import_command, [str(good), "--hospital", "A"])
    assert result.exit_code == 0 and "1 patients imported into A" in result.output, result.output
    report = tmp_path / "errors.xlsx"
    result = runner.invoke(import_command, [str(bad), "--hospital", "A", "--mapping", '{"Patient": "name"}',
                                            "--report", str(report)])
    assert result.exit_code == 1 and "row 2: Name: Enter the patient's name." in result.output, result.output
    assert "row 3: Phone:" in result.output and report.exists()
    assert runner.invoke(import_command, [str(good), "--hospital", "ZZ"]).exit_code == 1
    assert patient_count(app, imports["a"]) == 1
    assert not os.listdir(app.config["HCRM_IMPORT_FOLDER"])


# -- export ----------------------------------------------------------------------------------------
@pytest.fixture
def exportable(app, clinic):
    """A: a key patient in orthopaedics with a tag, a formula-looking patient; B: its own patient."""
    with app.app_context():
        from core.models import Hospital
        with system_scope():
            hospital_a = db.session.get(Hospital, clinic["a"])
        make_user(hospital_a, "a_analyst", ("analyst",))
    with app.test_request_context(), hospital_scope(clinic["a"]):
        source = db.session.execute(sa.select(Source).where(Source.code == "online")).scalar_one()
        services.create_patient({"name": "张三", "id_number": id_number("19900307", "123"), "phone": "13812345678",
                                 "department_id": clinic["ortho"], "key_patient": True, "source_id": source.id,
                                 "tags": ["高血压", "复诊"]})
        services.create_patient({"name": "=HYPERLINK(\"http://evil\",\"x\")", "notes": "@SUM(A1)",
                                 "address": "+1 evil", "phone": "13912340000"})
    with app.test_request_context(), hospital_scope(clinic["b"]):
        services.create_patient({"name": "乙院病人", "phone": "13712345678"})
    return clinic


def export_csv(client, query=""):
    response = client.get(f"/patients/transfer/export?format=csv{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:1000]
    assert response.data.startswith("\ufeff".encode()) and "attachment" in response.headers["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))


def export_audits(app):
    with app.app_context(), system_scope():
        return db.session.execute(sa.select(AuditLog).where(AuditLog.action == "export")).scalars().all()


def test_export_masks_numbers_for_staff_without_the_permission(app, client, exportable):
    login(client, "a_analyst")
    rows = export_csv(client)
    assert sorted(r["姓名"].lstrip("'") for r in rows) == sorted(['=HYPERLINK("http://evil","x")', "张三"])
    zhang = next(r for r in rows if r["姓名"] == "张三")
    assert zhang["手机"] == "138****5678" and zhang["身份证号"] == "4306**********" + id_number()[-4:]
    assert (zhang["性别"], zhang["年龄"], zhang["出生日期"]) == ("男", str(local_today().year - 1990 - (
        (local_today().month, local_today().day) < (3, 7))), "1990-03-07")
    assert (zhang["科室"], zhang["来源"], zhang["重点病人"]) == ("骨科", "网络", "是")
    assert sorted(zhang["标签"].split("、")) == ["复诊", "高血压"]
    assert export_audits(app) == []  # nothing unmasked, nothing to log


def test_export_shows_full_numbers_to_the_director_and_audits_it(app, client, exportable):
    login(client, "a_director")
    rows = export_csv(client, f"&key_patient=1&department_id={exportable['ortho']}")
    assert [(r["姓名"], r["手机"], r["身份证号"]) for r in rows] == [("张三", "13812345678", id_number())]
    (audit,) = export_audits(app)
    assert audit.model == "Patient" and audit.hospital_id == exportable["a"]
    assert audit.after["rows"] == 1 and audit.after["filters"]["key_patient"] == "1"
    assert "1 patient(s)" in audit.note


def test_export_never_contains_another_hospitals_patients(app, client, exportable):
    login(client, "a_admin")
    names = [r["姓名"] for r in export_csv(client)]
    assert "乙院病人" not in names and len(names) == 2
    other = app.test_client()
    login(other, "b_admin")
    assert [r["姓名"] for r in export_csv(other)] == ["乙院病人"]


def test_export_neutralises_formulas(app, client, exportable):
    login(client, "a_admin")
    evil = next(r for r in export_csv(client) if "HYPERLINK" in r["姓名"])
    assert evil["姓名"] == "'=HYPERLINK(\"http://evil\",\"x\")" and evil["备注"] == "'@SUM(A1)"
    assert evil["地址"] == "'+1 evil"
    response = client.get("/patients/transfer/export?format=xlsx&sort=name&order=asc")
    assert response.status_code == 200 and response.mimetype.endswith("spreadsheetml.sheet")
    sheet = load_workbook(io.BytesIO(response.data)).active
    lines = list(sheet.iter_rows(values_only=True))
    assert lines[0][:7] == ("编号", "姓名", "性别", "出生日期", "年龄", "身份证号", "手机")
    assert len(lines) == 3
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert not [c for c in cells if c.data_type == "f"]  # no formula anywhere
    assert "'=HYPERLINK(\"http://evil\",\"x\")" in [c.value for c in cells]
    zhang = next(line for line in lines if line[1] == "张三")
    assert zhang[5] == id_number() and zhang[6] == "13812345678"  # text cells, not numbers


def test_export_filters_by_text_and_tag(app, client, exportable):
    login(client, "a_admin")
    assert [r["姓名"] for r in export_csv(client, "&q=zs")] == ["张三"]
    assert [r["姓名"] for r in export_csv(client, "&q=5678")] == ["张三"]
    with app.app_context(), hospital_scope(exportable["a"]):
        tag = db.session.execute(sa.select(Tag.id).where(Tag.name == "复诊")).scalar_one()
    assert [r["姓名"] for r in export_csv(client, f"&tag_id={tag}")] == ["张三"]
    assert export_csv(client, "&visit_from=2020-01-01") == []  # nobody has visits


@pytest.mark.parametrize("query, message", [
    ("format=pdf", "The export format is xlsx or csv."),
    ("visit_from=2024-13-01", "must be a real date"),
    ("department_id=abc", "must be chosen from the list"),
    ("sort=password", "Unknown sort order"),
    ("key_patient=maybe", "Key patient must be yes or no"),
    ("visit_from=2024-02-01&visit_to=2024-01-01", "ends before it starts"),
])
def test_bad_export_filters_are_400(app, client, exportable, query, message):
    english(client, "a_admin")
    response = client.get(f"/patients/transfer/export?{query}")
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_export_needs_the_export_permission(app, client, exportable):
    login(client, "a_staff")
    assert client.get("/patients/transfer/export?format=csv").status_code == 403


def test_query_from_args_reads_every_filter():
    from werkzeug.datastructures import MultiDict
    query = query_from_args(MultiDict({"q": " 张 ", "department_id": "3", "source_id": "", "tag_id": "7",
                                       "disease_id": "9", "visit_from": "2024-01-01", "visit_to": "2024-01-31",
                                       "key_patient": "0", "sort": "name", "order": "asc"}))
    assert (query.q, query.department_id, query.source_id, query.tag_id, query.disease_id) == ("张", 3, None, 7, 9)
    assert (query.visit_from, query.visit_to, query.key_patient) == (date(2024, 1, 1), date(2024, 1, 31), False)
    assert (query.sort, query.descending) == ("name", False)
    assert query_from_args({}).descending is True and query_from_args({}).key_patient is None


def test_xlsx_export_beyond_an_excel_sheet_asks_for_csv(app, client, exportable, monkeypatch):
    from plugins.patients import transfer_export
    monkeypatch.setattr(transfer_export, "XLSX_MAX_ROWS", 1)
    english(client, "a_admin")
    response = client.get("/patients/transfer/export?format=xlsx")
    assert response.status_code == 400 and "export them as CSV" in response.get_data(as_text=True)
    assert len(export_csv(client)) == 2


# -- the import template -----------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_template_imported_as_is_maps_every_column_and_its_example_row_is_valid(app, client, imports, fmt):
    from plugins.patients.transfer_template import EXAMPLE
    english(client, "a_admin")
    assert f"/patients/transfer/import/template.{fmt}" in client.get(IMPORT_URL).get_data(as_text=True)
    response = client.get(f"{IMPORT_URL}/template.{fmt}")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    if fmt == "xlsx":
        sheet = load_workbook(io.BytesIO(response.data)).active
        header, example = (list(r) for r in sheet.iter_rows(min_row=1, max_row=2, values_only=True))
        assert sheet.cell(row=2, column=header.index("身份证号") + 1).number_format == "@"  # kept as text
    else:
        assert response.data.startswith(b"\xef\xbb\xbf")
        header, example = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert header[:4] == ["姓名", "性别", "出生日期", "身份证号"] and len(header) == len(ts.TARGETS) - 1
    token = token_of(upload(client, f"template.{fmt}", response.data))
    mapping = suggested(client.get(f"{IMPORT_URL}/{token}/mapping").get_data(as_text=True))
    assert mapping == [f for f in ts.TARGETS if f != "ignore"]  # every header recognised as its field
    progress = check(client, token)
    assert (progress["state"], progress["ok"], progress["errors"]) == ("validated", 1, 0), progress
    assert commit(client, token)["imported"] == 1
    (patient,) = patients(app, imports["a"])
    assert (patient.name, patient.id_number, patient.phone) == (EXAMPLE["name"], EXAMPLE["id_number"], EXAMPLE["phone"])


def test_the_template_needs_the_import_permission(app, client, imports):
    english(client, "a_staff")
    assert client.get(f"{IMPORT_URL}/template.xlsx").status_code == 403
    admin = app.test_client()
    english(admin, "a_admin")
    assert admin.get(f"{IMPORT_URL}/template.pdf").status_code == 404


def test_export_shows_the_registration_time_on_the_hospitals_clock(app, client, exportable):
    """Registered at 23:24 UTC is 07:24 the next morning in Asia/Shanghai: the sheet says so."""
    with app.app_context(), hospital_scope(exportable["a"]):
        zhang = db.session.execute(sa.select(Patient).where(Patient.name == "张三")).scalar_one()
        zhang.created_at = datetime(2026, 12, 6, 23, 24, 5)
        db.session.commit()
    login(client, "a_analyst")
    zhang = next(r for r in export_csv(client) if r["姓名"] == "张三")
    assert zhang["登记时间"] == "2026-12-07 07:24:05"
    sheet = load_workbook(io.BytesIO(client.get("/patients/transfer/export?format=xlsx").data)).active
    header = [c.value for c in sheet[1]]
    cells = [row[header.index("登记时间")] for row in sheet.iter_rows(min_row=2, values_only=True)
             if row[header.index("姓名")] == "张三"]
    assert cells == [datetime(2026, 12, 7, 7, 24, 5)]
