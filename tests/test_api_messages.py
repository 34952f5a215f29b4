"""Field errors of a 400/422 are in the caller's language, like the sentence above them."""
import pytest

from core.api.messages import MARSHMALLOW_MESSAGES, translate_errors, translate_message
from core.testing import api_token, make_hospital, make_user


@pytest.fixture
def headers(app, client):
    with app.app_context():
        make_user(make_hospital("A"), "alice")
    return api_token(client, "alice")


def test_query_and_body_field_errors_follow_the_callers_language(client, headers):
    zh = client.get("/api/v1/auth/tokens", query_string={"page": 0, "per_page": 500},
                    headers={**headers, "Accept-Language": "zh-CN"})
    assert zh.status_code == 400
    error = zh.get_json()["error"]
    assert error["message"] == "查询参数无效。"
    assert error["fields"] == {"page": ["必须大于或等于 1。"], "per_page": ["必须在 1 到 200 之间（含两端）。"]}

    en = client.get("/api/v1/auth/tokens", query_string={"page": 0}, headers={**headers, "Accept-Language": "en"})
    assert en.get_json()["error"]["fields"] == {"page": ["Must be greater than or equal to 1."]}

    body = client.post("/api/v1/auth/token", json={"username": "alice"}, headers={"Accept-Language": "zh-CN"})
    assert body.status_code == 422
    assert body.get_json()["error"]["fields"]["password"] == ["缺少此必填字段。"]


def test_every_marshmallow_sentence_has_a_translation(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        for message in MARSHMALLOW_MESSAGES:
            assert message.translated() != message.msgid, message.msgid


def test_sentences_are_matched_whole_with_their_values(app):
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert translate_message("Must be one of: outpatient, inpatient, emergency.") == \
            "必须是以下之一：outpatient, inpatient, emergency。"
        assert translate_message("Longer than maximum length 64.") == "长度不能超过 64。"
        # A service's own message, already translated, and unknown English stay as they are.
        assert translate_message("身份证号校验位错误。") == "身份证号校验位错误。"
        assert translate_message("Not a valid integer. Really.") == "Not a valid integer. Really."
        nested = {"visits": {0: {"visit_at": ["Not a valid datetime."]}}, "_schema": ["Invalid input type."]}
        assert translate_errors(nested) == {"visits": {0: {"visit_at": ["不是有效的日期时间（ISO 8601，如 2026-05-01T08:00:00）。"]}},
                                            "_schema": ["输入类型无效。"]}
