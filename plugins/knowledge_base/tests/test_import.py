"""Import in the seed's format 类型|文章标题|文章内容 (+ optional columns): per-row report and
all-or-nothing commit, run as a task of the core queue; bad files refused up front."""
import io

import openpyxl
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import TaskRecord
from core.tenancy import hospital_scope
from plugins.knowledge_base import transfer
from plugins.knowledge_base.models import Article, ImportJob
from plugins.knowledge_base.tests.conftest import as_user, client_for, hospital, user


@pytest.fixture
def folder(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "HCRM_IMPORT_FOLDER", str(tmp_path))
    return tmp_path


def _upload(client, content: bytes, name: str):
    return client.post("/knowledge_base/import", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def _run(app, job_id: int):
    """What the queue's consumer does with the task: run it in the uploader's scope, then commit."""
    with app.app_context(), hospital_scope(hospital("A"), user=user("a_manager")):
        transfer.import_task(hospital("A"), job_id=job_id)
        db.session.commit()
        job = db.session.get(ImportJob, job_id)
        return job.state, job.imported, job.errors, job.message


def _job_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[-500:]
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])


def _xlsx(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_seed_format_is_imported_as_drafts(app, kb, folder):
    client = client_for(app, "a_manager")
    sheet = _xlsx([["类型", "文章标题", "文章内容", "标签", "科室"],
                   ["术后护理", "股骨颈骨折术后康复指导", "术后第一天踝泵运动。\n第二周扶拐下地。", "骨折,康复", "骨科"],
                   ["健康宣教", "高血压患者的饮食", "<h2>少盐</h2><script>x()</script><p>每天不超过5克</p>", None, None],
                   ["sms", "复诊提醒", "请按时复诊", None, None]])
    job_id = _job_id(_upload(client, sheet, "知识库.xlsx"))
    with app.app_context(), as_user("a_manager"):
        task = db.session.execute(sa.select(TaskRecord).where(TaskRecord.task == "knowledge_base.import")).scalars().all()
        assert [t.args["job_id"] for t in task] == [job_id]
    state, imported, errors, _message = _run(app, job_id)
    assert (state, imported, errors) == ("done", 3, [])
    with app.app_context(), as_user("a_manager"):
        rows = {a.title: a for a in db.session.execute(sa.select(Article)).scalars()}
        femur = rows["股骨颈骨折术后康复指导"]
        assert femur.type_code == "postop" and femur.status == "draft" and femur.department_list == ["骨科"]
        assert femur.body == "<p>术后第一天踝泵运动。</p><p>第二周扶拐下地。</p>"
        assert "<script" not in rows["高血压患者的饮食"].body and rows["复诊提醒"].type_code == "sms"
    # and the search finds them at once
    page = client.get("/knowledge_base/", query_string={"q": "股骨 骨折 康复", "status": "draft"}).get_data(as_text=True)
    assert f"/knowledge_base/{femur.id}" in page
    assert "3" in client.get(f"/knowledge_base/import/{job_id}").get_data(as_text=True)


def test_unknown_types_and_empty_titles_write_nothing(app, kb, folder):
    client = client_for(app, "a_manager")
    text = "类型,文章标题,文章内容\n健康宣教,好的一行,内容\n不存在的类型,标题,内容\n健康宣教,,没有标题\n"
    job_id = _job_id(_upload(client, text.encode("utf-8-sig"), "articles.csv"))
    state, imported, errors, message = _run(app, job_id)
    assert state == "refused" and imported == 0 and message
    assert [number for number, _reasons in errors] == [3, 4]
    assert "不存在的类型" in errors[0][1][0]
    with app.app_context(), as_user("a_manager"):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Article)).scalar() == 0
    page = client.get(f"/knowledge_base/import/{job_id}").get_data(as_text=True)
    assert "不存在的类型" in page
    # the job is not run twice
    assert _run(app, job_id)[0] == "refused"


def test_bad_files_are_refused_up_front(app, kb, folder):
    client = client_for(app, "a_manager")
    assert _upload(client, b"not a sheet", "x.pdf").status_code == 400
    assert _upload(client, "标题,内容\n一,二\n".encode(), "x.csv").status_code == 400  # no 类型 column
    assert _upload(client, b"", "x.csv").status_code == 400
    assert _upload(client, b"PK\x03\x04broken", "x.xlsx").status_code == 400
    with app.app_context(), as_user("a_manager"):
        assert db.session.execute(sa.select(sa.func.count()).select_from(ImportJob)).scalar() == 0
    assert client_for(app, "a_staff").get("/knowledge_base/import").status_code == 403
