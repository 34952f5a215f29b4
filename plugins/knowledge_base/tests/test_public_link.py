"""The public read-only link per published article (for an SMS): no sign-in, only published
articles, an unguessable token per article and hospital that an editor renews or revokes; the
handout's QR code and the follow-up picker carry it. Bad paths: unknown, revoked or renewed
tokens, unpublished or archived articles, another hospital's article, a hospital without the plugin."""
import re

import pytest
import sqlalchemy as sa

from core import activation
from core.extensions import db
from core.models import utcnow
from core.tenancy import CrossHospitalReference, hospital_scope, system_scope
from plugins.knowledge_base import services
from plugins.knowledge_base.models import Article, PublicLink
from plugins.knowledge_base.tests.conftest import as_user, client_for, hospital, write

URL = re.compile(r'id="kb-public-url" readonly value="http://[^/]+(/knowledge_base/p/[^"]+)"')


def _make_link(client, article_id, action="create"):
    response = client.post(f"/knowledge_base/{article_id}/public_link", data={"action": action})
    assert response.status_code == 302
    found = URL.search(client.get(f"/knowledge_base/{article_id}").get_data(as_text=True))
    return found.group(1) if found else None


def test_a_patient_reads_a_published_article_without_signing_in(app, client, kb):
    article_id = write(app, "A", "a_manager", title="股骨颈骨折术后康复指导", publish=True,
                       body="<h2>锻炼</h2><p>踝泵运动</p>", summary="术后第一天开始")
    editor = client_for(app, "a_staff")
    path = _make_link(editor, article_id)
    assert path and len(path.rsplit("/", 1)[1]) >= 20  # 128 random bits, not the id
    page = client.get(path)  # nobody signed in
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "股骨颈骨折术后康复指导" in text and "<h2>锻炼</h2>" in text
    assert "甲医院" in text and "a_manager" not in text and "qr.svg" not in text
    assert re.findall(r"/knowledge_base/(?!public/handout\.css)", text) == []  # no way into the signed-in pages
    for stylesheet in re.findall(r'href="(/[^"]+\.css)"', text):
        assert client.get(stylesheet).status_code == 200, stylesheet
    assert page.headers["Referrer-Policy"] == "no-referrer" and "noindex" in page.headers["X-Robots-Tag"]
    # The handout's QR code points at it; the picker's link is it.
    import qrcode  # noqa: F401 — the view draws with it
    picked = editor.get("/followup/sms/content?q=股骨 骨折 康复").get_json()["items"]
    assert picked[0]["link"].endswith(path)


def test_renewing_or_revoking_kills_the_old_address(app, client, kb):
    article_id = write(app, "A", "a_manager", title="出院指导", publish=True)
    editor = client_for(app, "a_staff")
    first = _make_link(editor, article_id)
    second = _make_link(editor, article_id, "renew")
    assert second and second != first
    assert client.get(first).status_code == 404 and client.get(second).status_code == 200
    assert _make_link(editor, article_id, "revoke") is None
    assert client.get(second).status_code == 404
    with app.app_context(), system_scope():
        assert db.session.execute(sa.select(sa.func.count()).select_from(PublicLink)).scalar() == 0


def test_unpublished_archived_and_unknown_are_404(app, client, kb):
    draft = write(app, "A", "a_staff", title="草稿")
    editor = client_for(app, "a_manager")
    refused = editor.post(f"/knowledge_base/{draft}/public_link", data={"action": "create"}, follow_redirects=True)
    assert "Only a published article" in refused.get_data(as_text=True) or "只有已发布" in refused.get_data(as_text=True)
    with app.app_context(), system_scope():
        assert db.session.execute(sa.select(PublicLink)).first() is None
    published = write(app, "A", "a_manager", title="用药须知", publish=True)
    path = _make_link(editor, published)
    assert client.get(path).status_code == 200
    assert editor.post(f"/knowledge_base/{published}/status", data={"action": "archive"}).status_code == 302
    assert client.get(path).status_code == 404  # archived: the link stays but opens nothing
    for bad in ("/knowledge_base/p/x", "/knowledge_base/p/" + "a" * 80, path[:-1], path + "A",
                f"/knowledge_base/p/{published}"):
        assert client.get(bad).status_code == 404, bad
    assert editor.post(f"/knowledge_base/{published}/public_link", data={"action": "steal"}).status_code == 400


def test_another_hospitals_article_and_a_disabled_plugin(app, client, kb):
    theirs = write(app, "B", "b_admin", title="乙医院的文章", publish=True)
    ours = write(app, "A", "a_manager", title="甲医院的文章", publish=True)
    # Through the pages, A cannot make a link to B's article.
    editor = client_for(app, "a_staff")
    assert editor.post(f"/knowledge_base/{theirs}/public_link", data={"action": "create"}).status_code == 404
    # The core refuses a link of A naming B's article; one written behind its back (plain SQL)
    # opens nothing: the article is read in A's scope.
    with app.app_context(), hospital_scope(hospital("A")):
        db.session.add(PublicLink(article_id=theirs, token="forged-token-of-hospital-a-000000"))
        with pytest.raises(CrossHospitalReference):
            db.session.flush()
        db.session.rollback()
    with app.app_context(), system_scope():
        db.session.execute(sa.insert(PublicLink.__table__).values(
            hospital_id=kb["a"], article_id=theirs, token="forged-token-of-hospital-a-000000", created_at=utcnow()))
        db.session.commit()
    assert client.get("/knowledge_base/p/forged-token-of-hospital-a-000000").status_code == 404
    # A group article: each hospital has its own link, with its own name on the page.
    group = write(app, "A", "group_admin", title="集团文章", publish=True, group=True)
    a_page = client.get(_make_link(editor, group)).get_data(as_text=True)
    b_page = client.get(_make_link(client_for(app, "b_staff"), group)).get_data(as_text=True)
    assert "甲医院" in a_page and "乙医院" in b_page and "乙医院" not in a_page
    # The hospital turns the knowledge base off: its links stop.
    path = _make_link(editor, ours)
    assert client.get(path).status_code == 200
    with app.app_context():
        with system_scope():
            activation.disable(hospital("A"), "knowledge_base")
        db.session.commit()
    assert client.get(path).status_code == 404


def test_reader_without_edit_cannot_manage_links(app, kb):
    article_id = write(app, "A", "a_manager", title="须知", publish=True)
    analyst = client_for(app, "a_analyst")
    assert analyst.post(f"/knowledge_base/{article_id}/public_link", data={"action": "create"}).status_code == 403
    with app.app_context(), as_user("a_analyst"):
        assert services.public_link(db.session.get(Article, article_id)) is None
