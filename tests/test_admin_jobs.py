"""The jobs page: an administrator sees the hospital's background tasks (queued, running with
progress, failed with the error) and retries a failed one; the JSON status a page polls is the
starting user's (or an administrator's) only, and never another hospital's."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import TaskRecord, utcnow
from core.testing import login, make_hospital, make_user

pytestmark = pytest.mark.real_commits


@pytest.fixture
def tasks(app):
    with app.app_context():
        a, b = make_hospital("A", plugins=["patients"]), make_hospital("B", plugins=["patients"])
        admin = make_user(a, "a_admin", ("super_admin",))
        staff = make_user(a, "a_staff", ("staff",))
        make_user(b, "b_admin", ("super_admin",))
        now = utcnow()
        rows = [TaskRecord(task="patients.import", hospital_id=a.id, user_id=staff.id, args={}, state="failed",
                           summary="commit: list.xlsx", error="RuntimeError: the disk is full\nTraceback …",
                           retries=0, created_at=now, finished_at=now),
                TaskRecord(task="patients.import", hospital_id=a.id, user_id=admin.id, args={}, state="running",
                           summary="validate: big.xlsx", done=32000, total=200000, retries=0, created_at=now,
                           heartbeat_at=now),
                TaskRecord(task="patients.import", hospital_id=b.id, args={}, state="failed", error="B's own",
                           retries=0, created_at=now)]
        db.session.add_all(rows)
        db.session.commit()
        return {"failed": rows[0].id, "running": rows[1].id, "other": rows[2].id}


def test_the_jobs_page_shows_errors_progress_and_retries(app, client, tasks):
    login(client, "a_admin")
    chinese = client.get("/admin/jobs").get_data(as_text=True)
    assert "后台任务" in chinese and "失败" in chinese and "重试" in chinese
    client.post("/language", data={"locale": "en"})
    page = client.get("/admin/jobs").get_data(as_text=True)
    assert "RuntimeError: the disk is full" in page and "32,000 / 200,000 (16%)" in page
    assert "B&#39;s own" not in page and "B's own" not in page
    assert 'http-equiv="refresh"' in page  # a task is running: the page follows it
    assert client.get("/admin/jobs?state=failed").get_data(as_text=True).count("Retry") == 1
    assert client.get("/admin/jobs?state=nonsense").status_code == 400
    response = client.post(f"/admin/jobs/{tasks['failed']}/retry", follow_redirects=True)
    assert f"Task #{tasks['failed']} is queued again." in response.get_data(as_text=True)
    with app.app_context():
        record = db.session.get(TaskRecord, tasks["failed"])
        assert (record.state, record.retries, record.error) == ("queued", 1, None)
    refused = client.post(f"/admin/jobs/{tasks['running']}/retry", follow_redirects=True)
    assert "only a failed or skipped task can be retried" in refused.get_data(as_text=True)
    assert client.post(f"/admin/jobs/{tasks['other']}/retry").status_code == 404


def test_a_task_status_is_its_starters_or_an_administrators(app, client, tasks):
    login(client, "a_staff")
    assert client.get("/admin/jobs").status_code == 403
    status = client.get(f"/admin/jobs/{tasks['failed']}/status").get_json()
    assert (status["state"], status["finished"], status["error"].split("\n")[0]) == (
        "failed", True, "RuntimeError: the disk is full")
    assert client.get(f"/admin/jobs/{tasks['running']}/status").status_code == 404  # the admin's task
    admin = app.test_client()
    login(admin, "a_admin")
    running = admin.get(f"/admin/jobs/{tasks['running']}/status").get_json()
    assert (running["done"], running["total"], running["percent"], running["finished"]) == (32000, 200000, 16, False)
    assert admin.get(f"/admin/jobs/{tasks['other']}/status").status_code == 404
    with app.app_context():
        assert db.session.execute(sa.select(sa.func.count(TaskRecord.id))).scalar() == 3
