"""Group articles (hospital NULL): read by every hospital of the group, written only by a
group-level editor; a hospital publishes its own local copy, which then stands for it."""
import sqlalchemy as sa

from core.extensions import db
from plugins.knowledge_base.models import Article
from plugins.knowledge_base.tests.conftest import as_user, client_for, write


def test_a_group_article_shows_in_both_hospitals_read_only(app, kb):
    group_id = write(app, "A", "group_admin", title="集团:股骨骨折康复", publish=True, group=True)
    with app.app_context(), as_user("group_admin"):
        assert db.session.get(Article, group_id).hospital_id is None
    for username in ("a_staff", "b_staff"):
        client = client_for(app, username)
        page = client.get(f"/knowledge_base/{group_id}")
        assert page.status_code == 200, username
        assert "集团:股骨骨折康复" in client.get("/knowledge_base/").get_data(as_text=True)
        assert client.get(f"/knowledge_base/{group_id}/edit").status_code == 403
        refused = client.post(f"/knowledge_base/{group_id}/status", data={"action": "archive"})
        assert refused.status_code in (302, 403)
    with app.app_context(), as_user("a_admin"):
        assert db.session.get(Article, group_id).status == "published"  # nothing changed


def test_only_a_group_editor_writes_group_rows(app, client, kb):
    admin = client_for(app, "a_admin")  # a hospital's administrator is no group-level editor
    assert "name=\"group\"" not in admin.get("/knowledge_base/new").get_data(as_text=True)
    editor = client_for(app, "group_admin")
    assert 'name="group"' in editor.get("/knowledge_base/new").get_data(as_text=True)
    response = editor.post("/knowledge_base/new", data={"type_code": "faq", "title": "集团常见问题", "body": "<p>答</p>",
                                                        "group": "y"})
    assert response.status_code == 302
    with app.app_context(), as_user("group_admin"):
        row = db.session.execute(sa.select(Article).where(Article.title == "集团常见问题")).scalar_one()
        assert row.hospital_id is None
    from core.testing import api_token
    refused = client.post("/api/v1/knowledge_base/articles?group=true", headers=api_token(client, "a_staff"),
                          json={"type_code": "faq", "title": "不许"})
    assert refused.status_code == 403


def test_a_local_copy_replaces_the_group_article_in_the_hospital(app, kb):
    group_id = write(app, "A", "group_admin", title="集团糖尿病饮食", publish=True, group=True, body="<p>少糖</p>")
    client = client_for(app, "a_manager")
    response = client.post(f"/knowledge_base/{group_id}/copy")
    assert response.status_code == 302
    with app.app_context(), as_user("a_manager"):
        copy = db.session.execute(sa.select(Article).where(Article.source_id == group_id)).scalar_one()
        assert copy.hospital_id is not None and copy.status == "draft" and copy.body == "<p>少糖</p>"
        copy_id = copy.id
    # copying again opens the same copy
    assert client.post(f"/knowledge_base/{group_id}/copy").headers["Location"].endswith(f"/{copy_id}/edit")
    assert client.post(f"/knowledge_base/{copy_id}/status", data={"action": "publish"}).status_code == 302
    listing = client.get("/knowledge_base/", query_string={"q": "糖尿病"}).get_data(as_text=True)
    assert f"/knowledge_base/{copy_id}\"" in listing and f"/knowledge_base/{group_id}\"" not in listing
    # hospital B still sees the group's article
    other = client_for(app, "b_staff").get("/knowledge_base/", query_string={"q": "糖尿病"}).get_data(as_text=True)
    assert f"/knowledge_base/{group_id}\"" in other and f"/knowledge_base/{copy_id}\"" not in other
