"""The vip pages and API as users see them: permissions, bad input (400/422 with the message,
nothing written), another hospital's patient (404), the OpenAPI document, the patient tab."""
import sqlalchemy as sa

from core.extensions import db
from core.models import TaskRecord
from core.tenancy import hospital_scope, system_scope
from core.testing import api_token, login, make_hospital
from plugins.vip import retier, value
from plugins.vip.models import Member, Tier, TierChange, TierRule
from plugins.vip.tests.conftest import add_patient, hospital, members, tier_ids

EN = {"Accept-Language": "en"}  # the API's language; pages follow the session's (english() below)


def english(client, username):
    login(client, username)
    client.post("/language", data={"locale": "en"})


def _applied(app):
    with app.app_context():
        hid = hospital("A").id
        with hospital_scope(hid):
            retier.apply(hid)
            value.rescore(hid)
            db.session.commit()


def test_every_page_renders_for_an_admin_in_chinese_and_english(app, client, vip):
    with app.app_context():
        patient = add_patient("A", "张三", visits=[(3, 25000), (200, 100)])
        gold = tier_ids("A")["gold"]
    _applied(app)
    login(client, "a_admin")
    for lang in ("zh_CN", "en"):
        client.post("/language", data={"locale": lang})
        for url in ("/vip/members", f"/vip/members?tier_id={gold}", "/vip/members/export", f"/vip/patients/{patient}",
                    "/vip/tiers", f"/vip/tiers/{gold}", "/vip/tiers/new", "/vip/retier", "/vip/value/analysis",
                    "/vip/value/rules", "/vip/churn", "/vip/referrers", f"/patients/{patient}"):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
    page = client.get("/vip/members").get_data(as_text=True)
    assert "张三" in page and "金卡" in page
    panel = client.get(f"/patients/{patient}").get_data(as_text=True)
    assert "VIP &amp; value" in panel and "Value score" in panel
    client.post("/language", data={"locale": "zh_CN"})
    chinese = client.get("/vip/retier").get_data(as_text=True)
    assert "重新定级" in chinese and "名患者升级" in chinese
    assert "VIP与价值" in client.get(f"/patients/{patient}").get_data(as_text=True)
    assert "张三" in client.get("/vip/members/export").get_data(as_text=True)


def test_members_filters_are_one_schema_for_page_export_and_api(app, client, vip):
    login(client, "a_admin")
    for url in ("/vip/members?tier_id=abc", "/vip/members?reason_kind=bogus", "/vip/members/export?tier_id=-1"):
        assert client.get(url, headers=EN).status_code == 400, url
    headers = api_token(client, "a_admin")
    response = client.get("/api/v1/vip/members?reason_kind=bogus", headers=headers | EN)
    assert response.status_code == 400 and "reason_kind" in response.get_json()["error"]["fields"]


def test_manual_change_form_needs_a_reason_and_is_recorded(app, client, vip):
    with app.app_context():
        patient = add_patient("A", "李四", department_id=vip["ortho"])  # the supervisor's department
        gold = tier_ids("A")["gold"]
    english(client, "a_super")
    response = client.post(f"/vip/patients/{patient}", data={"tier_id": gold, "reason": "  "}, headers=EN)
    assert response.status_code == 400 and "This field is required." in response.get_data(as_text=True)
    with app.app_context():
        assert members("A") == {}
    response = client.post(f"/vip/patients/{patient}", data={"tier_id": gold, "reason": "<b>老客户</b>"}, headers=EN)
    assert response.status_code == 302
    with app.app_context():
        assert members("A") == {patient: "gold"}
    page = client.get(f"/vip/patients/{patient}", headers=EN).get_data(as_text=True)
    assert "&lt;b&gt;老客户&lt;/b&gt;" in page and "<b>老客户</b>" not in page


def test_staff_read_but_cannot_change_tiers_or_manage_rules(app, client, vip):
    with app.app_context():
        patient = add_patient("A", "王五", department_id=vip["ortho"], owner_id=vip["a_staff"])
        gold = tier_ids("A")["gold"]
    login(client, "a_staff")
    assert client.post(f"/vip/patients/{patient}", data={"tier_id": gold, "reason": "x"}).status_code == 403
    for url in ("/vip/tiers", "/vip/retier", "/vip/value/rules"):
        assert client.get(url).status_code == 403
    assert client.post("/vip/value/rescore").status_code == 403
    with app.app_context():
        assert members("A") == {}


def test_another_hospitals_patient_is_a_404_on_pages_and_api(app, client, vip):
    with app.app_context():
        theirs = add_patient("B", "赵六")
        gold = tier_ids("A")["gold"]
    login(client, "a_admin")
    assert client.get(f"/vip/patients/{theirs}").status_code == 404
    assert client.post(f"/vip/patients/{theirs}", data={"tier_id": gold, "reason": "x"}).status_code == 404
    headers = api_token(client, "a_admin")
    assert client.get(f"/api/v1/vip/patients/{theirs}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/vip/patients/{theirs}/tier", headers=headers,
                       json={"tier_id": gold, "reason": "x"}).status_code == 404
    with app.app_context():
        assert members("B") == {}


def test_tier_form_refuses_overlaps_and_negative_thresholds_and_previews(app, client, vip):
    with app.app_context():
        add_patient("A", "甲", visits=[(3, 6000)])
        gold = tier_ids("A")["gold"]
    english(client, "a_admin")
    base = {"name": "金卡", "code": "gold", "position": "2", "colour": "#c9a227", "active": "y", "has_rule": "y",
            "window_months": "12", "combine": "or", "grace_days": "90", "rule_active": "y"}
    response = client.post(f"/vip/tiers/{gold}", data=base | {"min_spending": "3000", "min_visits": "2"}, headers=EN)
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "These rules overlap" in text and "银卡" in text
    response = client.post(f"/vip/tiers/{gold}", data=base | {"min_spending": "-20000"}, headers=EN)
    assert response.status_code == 400 and "Must not be negative." in response.get_data(as_text=True)
    response = client.post(f"/vip/tiers/{gold}", data=base | {"min_spending": "5500", "min_visits": "",
                                                                 "preview": "1"}, headers=EN)
    assert response.status_code == 200 and "would move 1 patient(s) up" in response.get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        rule = db.session.execute(sa.select(TierRule).where(TierRule.tier_id == gold)).scalar_one()
        assert rule.min_spending == 20000  # the preview saved nothing


def test_retier_and_rescore_buttons_queue_tasks(app, client, vip):
    login(client, "a_admin")
    assert client.post("/vip/retier").status_code == 302
    assert client.post("/vip/value/rescore").status_code == 302
    with app.app_context(), system_scope():
        tasks = set(db.session.execute(sa.select(TaskRecord.task).where(TaskRecord.hospital_id == vip["a"])).scalars())
    assert {"vip.retier", "vip.rescore"} <= tasks


def test_api_tiers_patient_value_and_manual_change(app, client, vip):
    with app.app_context():
        patient = add_patient("A", "钱七", visits=[(3, 25000)])
        diamond = tier_ids("A")["diamond"]
    _applied(app)
    headers = api_token(client, "a_admin")
    tiers = client.get("/api/v1/vip/tiers", headers=headers).get_json()
    assert [t["name"] for t in tiers] == ["钻石", "金卡", "银卡", "普通"] and tiers[1]["rule"]["min_spending"] == "20000.00"
    info = client.get(f"/api/v1/vip/patients/{patient}", headers=headers).get_json()
    assert info["member"]["tier"]["name"] == "金卡" and info["segment"] and info["explanation"]
    assert {item["code"] for item in info["explanation"]} >= {"spending", "recency"}
    bad = client.post(f"/api/v1/vip/patients/{patient}/tier", headers=headers | EN, json={"tier_id": diamond})
    assert bad.status_code == 422 and "reason" in bad.get_json()["error"]["fields"]
    bad = client.post(f"/api/v1/vip/patients/{patient}/tier", headers=headers | EN, json={"tier_id": 999999, "reason": "x"})
    assert bad.status_code == 422 and "tier_id" in bad.get_json()["error"]["fields"]
    ok = client.post(f"/api/v1/vip/patients/{patient}/tier", headers=headers, json={"tier_id": diamond, "reason": "VIP"})
    assert ok.status_code == 200 and ok.get_json()["member"]["reason_kind"] == "manual"
    listed = client.get("/api/v1/vip/members?reason_kind=manual", headers=headers).get_json()
    assert [m["patient"]["id"] for m in listed["items"]] == [patient]
    spec = client.get("/api/v1/openapi.json", headers=headers).get_json()
    assert {"/api/v1/vip/tiers", "/api/v1/vip/members", "/api/v1/vip/patients/{patient_id}"} <= set(spec["paths"])
    with app.app_context(), hospital_scope(hospital("A")):
        kinds = db.session.execute(sa.select(TierChange.kind).where(TierChange.patient_id == patient)
                                   .order_by(TierChange.id)).scalars().all()
        assert kinds == ["rule", "manual"]


def test_delete_tier_with_members_is_refused(app, client, vip):
    with app.app_context():
        add_patient("A", "甲", visits=[(3, 100)])
        normal = tier_ids("A")["normal"]
    _applied(app)
    login(client, "a_admin")
    client.post(f"/vip/tiers/{normal}/delete")
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.get(Tier, normal) is not None
        assert db.session.execute(sa.select(sa.func.count()).select_from(Member)).scalar_one() == 1


def test_churn_list_creates_follow_up_plans_where_followup_is_live(app, client, vip):
    from core.testing import make_user
    with app.app_context():
        c = make_hospital("C", "丙医院", plugins=["patients", "followup", "vip"])
        make_user(c, "c_admin", ("super_admin",))
        lost = add_patient("C", "流失", visits=[(100, 100), (130, 100), (160, 100)])
        add_patient("C", "常来", visits=[(3, 100), (33, 100)])
        hid = hospital("C").id
        with hospital_scope(hid):
            value.rescore(hid)
            db.session.commit()
    english(client, "c_admin")
    page = client.get("/vip/churn", headers=EN).get_data(as_text=True)
    assert "流失" in page and "常来" not in page and "Create follow-up plans for these" in page
    assert client.post("/vip/churn").status_code == 302
    with app.app_context(), hospital_scope(hid):
        planned = db.session.execute(sa.text("SELECT patient_id FROM followup_plan WHERE hospital_id = :h"),
                                     {"h": hid}).scalars().all()
        assert planned == [lost]
    # Without followup (hospital A) the button is not offered and the POST is refused.
    other = app.test_client()
    english(other, "a_admin")
    assert "Create follow-up plans" not in other.get("/vip/churn", headers=EN).get_data(as_text=True)
    assert other.post("/vip/churn").status_code == 403


def test_patient_list_gains_tier_and_segment_filters(app, client, vip):
    with app.app_context():
        add_patient("A", "富甲", visits=[(3, 25000)])
        poor = add_patient("A", "穷乙", visits=[(3, 10)])
        gold = tier_ids("A")["gold"]
        theirs_gold = tier_ids("B")["gold"]
    _applied(app)
    english(client, "a_admin")
    page = client.get(f"/patients/?vip_tier={gold}", headers=EN)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "富甲" in text and "穷乙" not in text and "VIP tier" in text
    assert client.get(f"/patients/?vip_tier={theirs_gold}", headers=EN).status_code == 400
    assert client.get("/patients/?vip_segment=nonsense", headers=EN).status_code == 400
    with app.app_context(), hospital_scope(hospital("A")):
        segment = value.score_of(poor).segment
    listed = client.get(f"/patients/?vip_segment={segment}", headers=EN).get_data(as_text=True)
    assert "穷乙" in listed


def test_the_api_reads_the_tier_and_segment_filters_as_the_page_does(app, client, vip):
    with app.app_context():
        add_patient("A", "富甲", visits=[(3, 25000)])
        poor = add_patient("A", "穷乙", visits=[(3, 10)])
        gold = tier_ids("A")["gold"]
        theirs_gold = tier_ids("B")["gold"]
    _applied(app)
    with app.app_context(), hospital_scope(hospital("A")):
        segment = value.score_of(poor).segment
    auth = {**api_token(client, "a_admin"), **EN}

    def names(**params):
        response = client.get("/api/v1/patients", query_string=params, headers=auth)
        assert response.status_code == 200, response.get_json()
        return [item["name"] for item in response.get_json()["items"]]

    assert names(vip_tier=gold) == ["富甲"]
    assert names(vip_segment=segment) == ["穷乙"]
    assert names(vip_tier=gold, vip_segment=segment) == []
    assert sorted(names(vip_tier="")) == ["富甲", "穷乙"]  # empty: no filter, as on the page
    for bad, field in (({"vip_tier": theirs_gold}, "vip_tier"), ({"vip_segment": "nonsense"}, "vip_segment")):
        response = client.get("/api/v1/patients", query_string=bad, headers=auth)
        assert response.status_code == 400
        assert response.get_json()["error"]["fields"][field] == [
            f"{'VIP tier' if field == 'vip_tier' else 'RFM segment'} must be chosen from the list "
            f"(got “{bad[field]}”)."]
    zh = client.get("/api/v1/patients", query_string={"vip_segment": "nonsense"},
                    headers={**auth, "Accept-Language": "zh-CN"})
    assert zh.status_code == 400 and "RFM" in zh.get_json()["error"]["fields"]["vip_segment"][0]
    assert "必须" in zh.get_json()["error"]["fields"]["vip_segment"][0]
    # The choices are the caller's hospital's: B's own gold reads there, A's is refused.
    theirs = {**api_token(client, "b_admin"), **EN}
    assert client.get("/api/v1/patients", query_string={"vip_tier": theirs_gold}, headers=theirs).status_code == 200
    refused = client.get("/api/v1/patients", query_string={"vip_tier": gold}, headers=theirs)
    assert refused.status_code == 400 and "vip_tier" in refused.get_json()["error"]["fields"]
