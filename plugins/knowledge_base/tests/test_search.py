"""Chinese full-text search (FTS5 on SQLite, a weighted tsvector with GIN on PostgreSQL): words
in any order, title above text, pinyin initials, hospital terms, filters, bad searches."""
import sqlalchemy as sa

from core.extensions import db
from plugins.knowledge_base import services
from plugins.knowledge_base.models import Article
from plugins.knowledge_base.tests.conftest import as_user, client_for, write


def _titles(client, query: str, **params):
    response = client.get("/knowledge_base/", query_string={"q": query, **params})
    return response, response.get_data(as_text=True)


def _corpus(app):
    ids = {
        "femur": write(app, "A", "a_manager", title="股骨颈骨折术后康复指导", type_code="postop",
                       body="<p>术后第一天可在床上做踝泵运动。</p>", departments="骨科", icd_codes="S72",
                       tags="骨折,康复", publish=True),
        "body_only": write(app, "A", "a_manager", title="老年人居家安全",
                           body="<p>预防跌倒,避免股骨骨折;骨折后积极康复。</p>", publish=True),
        "diabetes": write(app, "A", "a_manager", title="糖尿病饮食指导", type_code="education",
                          body="<p>控制总热量,少食多餐。</p>", departments="内分泌科", tags="慢病", publish=True),
        "draft": write(app, "A", "a_manager", title="股骨骨折康复草稿", body="<p>未发布</p>"),
    }
    return ids


def test_words_in_any_order_find_the_title_ranked_above_the_text(app, kb):
    ids = _corpus(app)
    client = client_for(app, "a_analyst")  # a reader: published articles only
    response, page = _titles(client, "股骨 骨折 康复")
    assert response.status_code == 200
    assert "股骨颈骨折术后康复指导" in page.replace("<mark>", "").replace("</mark>", "")
    assert page.index(f"/knowledge_base/{ids['femur']}") < page.index(f"/knowledge_base/{ids['body_only']}")
    assert "糖尿病" not in page and "草稿" not in page
    assert "<mark>骨折</mark>" in page


def test_api_search_ranks_and_filters(app, client, kb):
    ids = _corpus(app)
    from core.testing import api_token
    headers = api_token(client, "a_analyst")
    found = client.get("/api/v1/knowledge_base/articles", query_string={"q": "康复 骨折"}, headers=headers).get_json()
    assert [item["id"] for item in found["items"]][:2] == [ids["femur"], ids["body_only"]]
    typed = client.get("/api/v1/knowledge_base/articles", query_string={"q": "骨折", "type": "postop"},
                       headers=headers).get_json()
    assert [item["id"] for item in typed["items"]] == [ids["femur"]]
    by_department = client.get("/api/v1/knowledge_base/articles", query_string={"department": "内分泌科"},
                               headers=headers).get_json()
    assert [item["id"] for item in by_department["items"]] == [ids["diabetes"]]
    by_tag = client.get("/api/v1/knowledge_base/articles", query_string={"tag": "慢病"}, headers=headers).get_json()
    assert [item["id"] for item in by_tag["items"]] == [ids["diabetes"]]


def test_pinyin_initials_of_a_title_find_it(app, kb):
    ids = _corpus(app)
    client = client_for(app, "a_analyst")
    for typed in ("ggjgz", "GGJGZSHKFZD", "tnb"):
        response, page = _titles(client, typed)
        assert response.status_code == 200
    _r, page = _titles(client, "ggjgz")
    assert f"/knowledge_base/{ids['femur']}" in page and f"/knowledge_base/{ids['diabetes']}" not in page
    _r, page = _titles(client, "tnb")
    assert f"/knowledge_base/{ids['diabetes']}" in page


def test_a_hospital_term_becomes_a_word(app, kb):
    article_id = write(app, "A", "a_manager", title="术后注意事项", body="<p>阑尾炎术后要早期下床。</p>", publish=True)
    client = client_for(app, "a_admin")
    _r, page = _titles(client, "阑尾炎术后")
    before = f"/knowledge_base/{article_id}" in page
    assert client.post("/knowledge_base/settings/terms", data={"word": "阑尾炎术后"}).status_code == 302
    with app.app_context(), as_user("a_admin"):
        tokens = db.session.get(Article, article_id).body_tokens.split()
    assert "阑尾炎术后" in tokens
    _r, page = _titles(client, "阑尾炎术后")
    assert f"/knowledge_base/{article_id}" in page
    assert before in (True, False)  # jieba alone may or may not cut it whole; with the term it always does
    assert client.post("/knowledge_base/settings/terms", data={"word": "阑尾 炎"}).status_code == 400
    assert client.post("/knowledge_base/settings/terms", data={"word": "阑尾炎术后"}).status_code == 400


def test_silly_searches_get_a_clear_message(app, client, kb):
    _corpus(app)
    browser = client_for(app, "a_analyst")
    response, page = _titles(browser, "，。!!?…——")
    assert response.status_code == 400 and 'class="alert alert-warning"' in page
    response, page = _titles(browser, "骨" * 2000)
    assert response.status_code == 400 and "2,000" in page and 'class="alert alert-warning"' in page
    from core.testing import api_token
    headers = api_token(client, "a_analyst")
    api = client.get("/api/v1/knowledge_base/articles", query_string={"q": "%%%"}, headers=headers)
    assert api.status_code == 400 and "q" in api.get_json()["error"]["fields"]
    api = client.get("/api/v1/knowledge_base/articles", query_string={"q": "x" * 2000}, headers=headers)
    assert api.status_code == 400
    # quotes, operators and SQL in a search are words like any other, never an error
    for odd in ('"股骨', "骨折 & | !", "a:*", "'; drop table x; --", "NEAR(骨折)", "*"):
        response, _page = _titles(browser, odd)
        assert response.status_code in (200, 400), odd


def test_export_follows_the_filters(app, kb):
    ids = _corpus(app)
    client = client_for(app, "a_manager")
    response = client.get("/knowledge_base/export", query_string={"q": "糖尿病", "format": "csv"})
    assert response.status_code == 200
    text = response.get_data().decode("utf-8-sig")
    assert text.splitlines()[0].startswith("类型,文章标题,文章内容")
    assert "糖尿病饮食指导" in text and "股骨" not in text
    assert client.get("/knowledge_base/export", query_string={"q": "。。"}).status_code == 400
    xlsx = client.get("/knowledge_base/export")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    assert ids


def test_search_sees_only_the_hospital_and_the_group(app, kb):
    mine = write(app, "A", "a_manager", title="甲院骨折护理", publish=True)
    theirs = write(app, "B", "b_admin", title="乙院骨折护理", publish=True)
    group = write(app, "A", "group_admin", title="集团骨折护理", publish=True, group=True)
    with app.app_context(), as_user("b_staff"):
        found = [a.id for a in db.session.execute(services.list_select(
            {"tokens": ["骨折"]}, editor=False)).scalars()]
    assert set(found) == {theirs, group} and mine not in found
    with app.app_context(), as_user("b_staff"):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Article)).scalar() == 2


def test_a_common_word_lists_its_best_candidates_title_matches_first(app, client, kb, monkeypatch):
    """A search ranks a bounded set (search.CANDIDATES): the title matches, even old ones, are in
    it and first; the count stops at the same bound, so every page it announces has rows, each
    article once."""
    from core.testing import api_token
    from plugins.knowledge_base import search
    monkeypatch.setattr(search, "CANDIDATES", 3)
    old_title = write(app, "A", "a_manager", title="康复训练要点", body="<p>循序渐进</p>", publish=True)
    newer = [write(app, "A", "a_manager", title=f"住院须知{n}", body="<p>出院后注意康复</p>", publish=True)
             for n in range(5)]
    write(app, "A", "a_manager", title="康复草稿", body="<p>草稿</p>")  # not published: not for readers
    headers = api_token(client, "a_analyst")
    first = client.get("/api/v1/knowledge_base/articles", query_string={"q": "康复", "per_page": 2},
                       headers=headers).get_json()
    assert first["total"] == 3 and first["total_exact"] is False
    assert [a["id"] for a in first["items"]][0] == old_title
    second = client.get("/api/v1/knowledge_base/articles", query_string={"q": "康复", "per_page": 2, "page": 2},
                        headers=headers).get_json()
    listed = [a["id"] for a in first["items"] + second["items"]]
    assert len(listed) == len(set(listed)) and set(listed) <= {old_title, *newer}
