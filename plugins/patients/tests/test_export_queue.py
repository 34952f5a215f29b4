"""Exports too long for a request are made by a queue consumer, as their requester: their data
scope, their masking, their file -- downloaded from the task's page by them only, then purged."""
from __future__ import annotations

import csv
import dataclasses
import io
import os
import re
import time

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from core import exports
from core.extensions import db
from core.models import AuditLog, Hospital, TaskRecord, User
from core.tenancy import hospital_scope, system_scope
from core.testing import login, make_user
from core.testing_queue import drain
from plugins.patients import services
from plugins.patients.tests.conftest import id_number

pytestmark = pytest.mark.real_commits
EXPORT_URL = "/patients/transfer/export"


@pytest.fixture
def listed(app, clinic, tmp_path):
    """Every export goes to the queue; A has 张三 in orthopaedics and 李四 in no department."""
    app.config["HCRM_EXPORT_INLINE_ROWS"] = 0
    app.config["HCRM_EXPORT_FOLDER"] = str(tmp_path / "exports")
    with app.app_context():
        with system_scope():
            hospital_a = db.session.get(Hospital, clinic["a"])
            from core.models import Department
            ortho = db.session.get(Department, clinic["ortho"])
        make_user(hospital_a, "a_manager", ("dept_manager",), department=ortho)
    with app.test_request_context(), hospital_scope(clinic["a"]):
        services.create_patient({"name": "张三", "id_number": id_number(), "phone": "13812345678",
                                 "department_id": clinic["ortho"]})
        services.create_patient({"name": "李四", "phone": "13912340000"})
    with app.test_request_context(), hospital_scope(clinic["b"]):
        services.create_patient({"name": "乙院病人", "phone": "13712345678"})
    return clinic


def task_id_of(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:1000]
    return int(re.search(r"/admin/jobs/(\d+)$", response.headers["Location"]).group(1))


def record(app, task_id) -> TaskRecord:
    with app.app_context(), system_scope():
        found = db.session.get(TaskRecord, task_id)
        db.session.expunge(found)
        return found


def download(client, task_id):
    status = client.get(f"/admin/jobs/{task_id}/status").get_json()
    assert status["state"] == "ok" and status["download_url"], status["error"]
    response = client.get(status["download_url"])
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    return response


def test_a_long_export_is_made_in_the_background_within_the_requesters_scope(app, client, listed, start_consumers):
    login(client, "a_manager")  # department scope: orthopaedics only; numbers masked
    task_id = task_id_of(client.get(f"{EXPORT_URL}?format=csv"))
    page = client.get(f"/admin/jobs/{task_id}")
    assert page.status_code == 200 and "data-task-download" in page.get_data(as_text=True)
    start_consumers()
    drain(app)
    done = record(app, task_id)
    assert (done.task, done.state, done.total, done.result["rows"]) == ("patients.export", "ok", 1, 1)
    rows = list(csv.DictReader(io.StringIO(download(client, task_id).data.decode("utf-8-sig"))))
    assert [(r["姓名"], r["手机"]) for r in rows] == [("张三", "138****5678")]
    with app.app_context(), system_scope():
        (audit,) = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "download")).scalars().all()
        assert audit.record_id == str(task_id) and "1 row(s)" in audit.note
    assert "下载文件" in client.get(f"/admin/jobs/{task_id}").get_data(as_text=True)  # the ready file, in Chinese


def test_only_the_requester_downloads_and_other_hospitals_see_nothing(app, client, listed, start_consumers):
    login(client, "a_director")
    task_id = task_id_of(client.get(f"{EXPORT_URL}?format=xlsx"))
    start_consumers()
    drain(app)
    sheet = load_workbook(io.BytesIO(download(client, task_id).data)).active
    names = sorted(row[1] for row in sheet.iter_rows(min_row=2, values_only=True))
    assert names == ["张三", "李四"]  # the whole hospital, never hospital B's patient
    zhang = next(row for row in sheet.iter_rows(min_row=2, values_only=True) if row[1] == "张三")
    assert zhang[5] == id_number() and zhang[6] == "13812345678"  # the director sees full numbers
    with app.app_context(), system_scope():
        (export_audit,) = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "export")).scalars().all()
        director = db.session.execute(sa.select(User).where(User.username == "a_director")).scalar_one()
        assert export_audit.user_id == director.id and export_audit.after["rows"] == 2
    other = app.test_client()
    login(other, "a_admin")  # may see the task (core.jobs.read), not take the director's file
    assert other.get(f"/admin/jobs/{task_id}/status").get_json()["download_url"] is None
    assert other.get(f"/admin/jobs/{task_id}/download").status_code == 403
    outsider = app.test_client()
    login(outsider, "b_admin")
    assert outsider.get(f"/admin/jobs/{task_id}").status_code == 404
    assert outsider.get(f"/admin/jobs/{task_id}/download").status_code == 404


def test_an_export_whose_requester_was_deactivated_meanwhile_is_skipped(app, client, listed, start_consumers):
    login(client, "a_manager")
    task_id = task_id_of(client.get(f"{EXPORT_URL}?format=csv"))
    with app.app_context(), system_scope():
        db.session.execute(sa.update(User).where(User.username == "a_manager").values(active=False))
        db.session.commit()
    start_consumers()
    drain(app)
    skipped = record(app, task_id)
    assert skipped.state == "skipped" and "deactivated" in skipped.error and skipped.result is None
    assert not (exports.folder(app).exists() and os.listdir(exports.folder(app)))


def test_a_report_marked_slow_is_exported_in_the_background(app, client, listed, start_consumers):
    catalog = app.extensions["hcrm"].catalog
    report = catalog.reports["patients.visits_by_department"]
    catalog.reports[report.id] = dataclasses.replace(report, background_export=True)
    try:
        login(client, "a_director")
        task_id = task_id_of(client.get(f"/reports/{report.id}.csv"))
    finally:
        catalog.reports[report.id] = report
    start_consumers()
    drain(app)
    body = download(client, task_id).data.decode("utf-8-sig")
    assert record(app, task_id).task == exports.REPORT_EXPORT and body.splitlines()[0]


def test_expired_files_are_purged_and_say_so(app, client, listed, start_consumers):
    login(client, "a_manager")
    task_id = task_id_of(client.get(f"{EXPORT_URL}?format=csv"))
    start_consumers()
    drain(app)
    with app.app_context():
        path = exports.folder() / record(app, task_id).result["file"]
        assert path.is_file() and oct(path.parent.stat().st_mode & 0o777) == "0o700"
        assert exports.purge() == 0  # young files stay
        old = time.time() - (exports.KEEP_HOURS + 1) * 3600
        os.utime(path, (old, old))
        assert exports.purge() == 1 and not path.exists()
    assert client.get(f"/admin/jobs/{task_id}/status").get_json()["download_url"] is None
    client.post("/language", data={"locale": "en"})
    gone = client.get(f"/admin/jobs/{task_id}/download")
    assert gone.status_code == 410 and "no longer kept" in gone.get_data(as_text=True)
    page = client.get(f"/admin/jobs/{task_id}").get_data(as_text=True)
    assert "export again" in page and "Download the file" not in page
