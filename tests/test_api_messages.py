"""Field errors of a 400/422 are in the caller's language, like the sentence above them:
marshmallow's own messages are the core catalog's (core.i18n sets them as its defaults)."""
import pytest
from marshmallow import Schema, ValidationError, fields, validate

from core.i18n import _FIELD_MESSAGES, _RANGE_SENTENCES, _SCHEMA_MESSAGES, _VALIDATOR_MESSAGES, localized
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
    messages = [m for group in (_FIELD_MESSAGES, _VALIDATOR_MESSAGES) for table in group.values()
                for m in table.values()] + list(_SCHEMA_MESSAGES.values()) + list(_RANGE_SENTENCES.values())
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        for message in messages:
            assert message.translated() != message.msgid, message.msgid


class Probe(Schema):
    kind = fields.String(validate=validate.OneOf(("outpatient", "inpatient")))
    name = fields.String(validate=validate.Length(max=3))
    count = fields.Integer(validate=validate.Range(min=0, max=10, max_inclusive=False))
    when = fields.DateTime()
    visits = fields.List(fields.Nested(Schema.from_dict({"at": fields.DateTime(required=True)})))


def test_marshmallow_formats_the_values_and_the_request_picks_the_language(app):
    with pytest.raises(ValidationError) as caught:
        Probe().load({"kind": "ward", "name": "四个字的", "count": 10, "when": "soon", "visits": [{}], "extra": 1})
    errors = caught.value.messages
    # As strings they are marshmallow's English sentences (logs, CLI, tests compare them as such).
    assert errors["kind"] == ["Must be one of: outpatient, inpatient."]
    assert errors["count"] == ["Must be greater than or equal to 0 and less than 10."]
    assert errors["name"] == ["Longer than maximum length 3."]
    with app.test_request_context(headers={"Accept-Language": "zh-CN"}):
        assert localized(errors) == {
            "kind": ["必须是以下之一：outpatient, inpatient。"], "name": ["长度不能超过 3。"],
            "count": ["必须大于或等于 0 且小于 10。"],
            "when": ["不是有效的日期时间（ISO 8601，如 2026-05-01T08:00:00）。"],
            "visits": {0: {"at": ["缺少此必填字段。"]}}, "extra": ["未知字段。"]}
        # A service's own message, already translated, stays as it is.
        assert localized({"id_number": ["身份证号校验位错误。"]}) == {"id_number": ["身份证号校验位错误。"]}
