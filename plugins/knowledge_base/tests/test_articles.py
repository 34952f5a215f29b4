"""Articles: sanitised on save, review flow with permissions, versions with diff and restore,
bad input refused with nothing written."""
import pytest
import sqlalchemy as sa
from marshmallow import ValidationError

from core.extensions import db
from plugins.knowledge_base import services
from plugins.knowledge_base.models import Article, ArticleType, ArticleVersion
from plugins.knowledge_base.tests.conftest import as_user, client_for, user, write

EVIL = ('<h2>饮食</h2><script>alert(1)</script><p onclick="steal()">多喝水</p>'
        '<img src="x.png" onerror="alert(2)"><a href="javascript:alert(3)">点我</a>'
        '<table><tr><td>早</td></tr></table><ul><li>一</li></ul><p style="color:red">红</p>')


def test_types_are_seeded_on_enable(app, kb):
    with app.app_context(), as_user("a_admin"):
        names = [t.name for t in services.active_types()]
    assert names == ["健康宣教", "用药指导", "出院指导", "术后护理", "短信模板", "常见问题"]


def test_body_is_sanitised_on_save(app, kb):
    article_id = write(app, "A", "a_staff", title="饮食指导", body=EVIL)
    with app.app_context(), as_user("a_staff"):
        body = db.session.get(Article, article_id).body
    for gone in ("<script", "alert(1)", "onclick", "onerror", "javascript:", "style="):
        assert gone not in body
    for kept in ("<h2>饮食</h2>", "<table>", "<td>早</td>", "<li>一</li>", '<img src="x.png">', "多喝水"):
        assert kept in body


def test_twenty_megabyte_body_is_refused_and_nothing_written(app, client, kb):
    client = client_for(app, "a_staff")
    huge = "<p>" + "字" * (20 * 1024 * 1024 // 3) + "</p>"
    response = client.post("/knowledge_base/new", data={"type_code": "education", "title": "太长", "body": huge})
    assert response.status_code in (400, 413)
    with app.app_context(), as_user("a_staff"), pytest.raises(ValidationError) as caught:
        services.save_article(None, {"type_code": "education", "title": "太长", "body": huge})
    assert "body" in caught.value.messages
    with app.app_context(), as_user("a_staff"):
        db.session.rollback()
        assert db.session.execute(sa.select(Article.id).where(Article.title == "太长")).first() is None


def test_unknown_type_and_empty_title_are_field_errors(app, client, kb):
    client = client_for(app, "a_staff")
    response = client.post("/knowledge_base/new", data={"type_code": "nope", "title": "  ", "body": "x"})
    assert response.status_code == 400
    with app.app_context(), as_user("a_staff"), pytest.raises(ValidationError) as caught:
        services.save_article(None, {"type_code": "nope", "title": " "})
    assert set(caught.value.messages) == {"type_code", "title"}


def test_review_flow_and_permissions(app, client, kb):
    article_id = write(app, "A", "a_staff", title="术后饮食", body="<p>清淡</p>", sms_text="术后饮食宜清淡")
    client = client_for(app, "a_staff")
    # staff submits for review, but may not publish
    assert client.post(f"/knowledge_base/{article_id}/status", data={"action": "submit"}).status_code == 302
    assert client.post(f"/knowledge_base/{article_id}/status", data={"action": "publish"}).status_code == 403
    client = client_for(app, "a_manager")
    assert client.post(f"/knowledge_base/{article_id}/status", data={"action": "publish"}).status_code == 302
    with app.app_context(), as_user("a_manager"):
        article = db.session.get(Article, article_id)
        assert article.status == "published" and article.reviewer_name == "A_Manager"
        assert article.author_name == "A_Staff"
    # a published article is changed by a reviewer only
    client = client_for(app, "a_staff")
    assert client.get(f"/knowledge_base/{article_id}/edit").status_code == 403
    # readers see published articles only
    draft_id = write(app, "A", "a_staff", title="草稿文章")
    client = client_for(app, "a_analyst")
    assert client.get(f"/knowledge_base/{article_id}").status_code == 200
    assert client.get(f"/knowledge_base/{draft_id}").status_code == 404
    assert client.get("/knowledge_base/new").status_code == 403


def test_versions_diff_and_restore(app, client, kb):
    article_id = write(app, "A", "a_manager", title="股骨颈骨折术后康复指导", body="<p>第一周卧床</p>", publish=True)
    client = client_for(app, "a_manager")
    response = client.post(f"/knowledge_base/{article_id}/edit", data={
        "type_code": "postop", "title": "股骨颈骨折术后康复指导", "body": "<p>第一周下床活动</p>", "sms_text": ""})
    assert response.status_code == 302
    with app.app_context(), as_user("a_manager"):
        article = db.session.get(Article, article_id)
        assert article.version == 2 and article.type_code == "postop"
        version = db.session.execute(sa.select(ArticleVersion).where(ArticleVersion.article_id == article_id)).scalar_one()
        assert version.number == 1 and "卧床" in version.body
        version_id = version.id
    page = client.get(f"/knowledge_base/{article_id}/versions/{version_id}").get_data(as_text=True)
    assert "第一周卧床" in page and "第一周下床活动" in page and "bg-danger-subtle" in page
    assert client.post(f"/knowledge_base/{article_id}/versions/{version_id}/restore").status_code == 302
    with app.app_context(), as_user("a_manager"):
        article = db.session.get(Article, article_id)
        assert "卧床" in article.body and article.version == 3
        assert db.session.execute(sa.select(sa.func.count()).select_from(ArticleVersion)
                                  .where(ArticleVersion.article_id == article_id)).scalar() == 2


def test_another_hospitals_article_is_a_404(app, client, kb):
    article_id = write(app, "B", "b_admin", title="乙院文章", publish=True)
    client = client_for(app, "a_admin")
    for url in (f"/knowledge_base/{article_id}", f"/knowledge_base/{article_id}/edit",
                f"/knowledge_base/{article_id}/print", f"/knowledge_base/{article_id}/versions"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/knowledge_base/{article_id}/status", data={"action": "archive"}).status_code == 404


def test_types_settings(app, client, kb):
    client = client_for(app, "a_admin")
    assert client.post("/knowledge_base/settings/types", data={"code": "rehab", "name": "康复训练"}).status_code == 302
    assert client.post("/knowledge_base/settings/types", data={"code": "rehab", "name": "重复"}).status_code == 400
    with app.app_context(), as_user("a_admin"):
        assert db.session.execute(sa.select(ArticleType.name).where(ArticleType.code == "rehab")).scalar() == "康复训练"
    client = client_for(app, "a_staff")
    assert client.get("/knowledge_base/settings/types").status_code == 403


def test_sms_segments():
    assert services.sms_segments("") == 0
    assert services.sms_segments("字" * 70) == 1
    assert services.sms_segments("字" * 71) == 2


def test_author_is_the_writer(app, kb):
    article_id = write(app, "A", "a_staff", title="作者")
    with app.app_context(), as_user("a_staff"):
        assert db.session.get(Article, article_id).author_id == user("a_staff").id


def test_demo_data_shares_group_articles_and_is_idempotent(app, kb):
    from core.tenancy import hospital_scope
    from plugins.knowledge_base.demo import ARTICLES, demo_data
    from plugins.knowledge_base.tests.conftest import hospital
    with app.app_context():
        for code in ("A", "B", "A"):
            with hospital_scope(hospital(code)):
                demo_data(hospital(code))
                db.session.commit()
        group = sum(1 for row in ARTICLES if row[0])
        own = len(ARTICLES) - group
        for code in ("A", "B"):
            with hospital_scope(hospital(code)):
                rows = db.session.execute(sa.select(Article)).scalars().all()
                assert len(rows) == group + own
                assert sum(1 for r in rows if r.hospital_id is None) == group
                found = db.session.execute(services.list_select({"tokens": ["股骨", "骨折", "康复"]},
                                                                editor=False)).scalars().first()
                assert found.title == "股骨颈骨折术后康复指导" and found.hospital_id is None
