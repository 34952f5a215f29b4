"""The work queue (buckets, mine/team, filters, key patients, bulk reassign), escalation through
`hcrm jobs run`, the dashboard cards and the statistics report."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.clock import local_now
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.followup.models import Plan
from plugins.followup.tests.conftest import catalogue_ids, hospital, new_patient, user

NOW = local_now().replace(microsecond=0)
# 10:00 today: plans due an hour or two later are in the "today" bucket at any hour the suite runs.
TEN = datetime.combine(NOW.date(), datetime.min.time()) + timedelta(hours=10)


def _plans(app, centre, specs, base=None):
    """Plans of hospital A: (patient name, due offset from ``base`` (default now), owner, key
    patient, extra fields) → ids."""
    base = base or NOW
    from plugins.followup.planning import plan_services
    from plugins.patients.public import Patient
    made = []
    with app.app_context(), app.test_request_context():
        ids = catalogue_ids("A")
        for name, offset, owner, key, extra in specs:
            pid = new_patient("A", name=name, key_patient=key, department_id=centre["ortho"])
            with hospital_scope(hospital("A"), user=user("a_admin")):
                plan = plan_services.create_plan(db.session.get(Patient, pid), {
                    "category_id": ids["category_chronic"], "method_id": ids["method_phone"],
                    "due_at": base + offset, "owner_id": centre[owner]}, centre["a_admin"])
                for field, value in extra.items():
                    setattr(plan, field, value)
                db.session.commit()
                made.append(plan.id)
    return made


@pytest.fixture
def at_ten(monkeypatch):
    """The queue page and its buckets see the clock at 10:00 today."""
    from plugins.followup.planning import queue, views
    for module in (queue, views):
        monkeypatch.setattr(module, "local_now", lambda: TEN)
    return TEN


def test_buckets_mine_and_team(app, client, centre):
    # The buckets are counted at a fixed 10:00 today, so the test means the same at any hour.
    ten = TEN
    _plans(app, centre, [
        ("过期", -timedelta(hours=30), "a_doc", False, {}),
        ("今天", timedelta(hours=1), "a_doc", True, {}),
        ("下周", timedelta(days=3), "a_doc", False, {}),
        ("下月", timedelta(days=20), "a_doc", False, {}),
        ("以后", timedelta(days=60), "a_doc", False, {}),
        ("别人的", timedelta(days=2), "a_doc2", False, {}),
        ("完成的", -timedelta(days=3), "a_doc", False, {"status": "completed"}),
    ], base=ten)
    from plugins.followup.planning import queue
    with app.app_context(), hospital_scope(hospital("A")):
        counts = queue.counts(queue.QueueFilter(view="mine"), centre["a_doc"], now=ten)
        team = queue.counts(queue.QueueFilter(view="team"), centre["a_doc"], now=ten)
        key = queue.counts(queue.QueueFilter(view="mine", key_only=True), centre["a_doc"], now=ten)
    assert counts == {"overdue": 1, "today": 1, "week": 1, "month": 1, "later": 1, "escalated": 0}
    assert sum(team[b] for b in queue.BUCKETS) == 6 and sum(key[b] for b in queue.BUCKETS) == 1
    login(client, "a_doc")
    page = client.get("/followup/?bucket=overdue").get_data(as_text=True)
    assert "过期" in page and "下周" not in page and "别人的" not in page
    later = client.get("/followup/?bucket=later").get_data(as_text=True)
    assert "以后" in later and "过期" not in later


def test_staff_see_only_their_plans_and_no_team_view(app, client, centre, at_ten):
    _plans(app, centre, [("我的", timedelta(hours=1), "a_doc", False, {}),
                         ("同事的", timedelta(hours=1), "a_doc2", False, {})], base=at_ten)
    login(client, "a_doc")
    page = client.get("/followup/?view=team&bucket=today").get_data(as_text=True)
    assert "我的" in page and "同事的" not in page  # staff: own scope, the team view falls back to mine


def test_bulk_reassign_by_a_supervisor(app, client, centre, at_ten):
    first, second = _plans(app, centre, [("甲", timedelta(hours=1), "a_doc", False, {}),
                                         ("乙", timedelta(hours=2), "a_doc", False, {})], base=at_ten)
    login(client, "a_super")
    client.post("/language", data={"locale": "en"})
    page = client.get("/followup/?view=team&bucket=today").get_data(as_text=True)
    assert "甲" in page and "Reassign" in page
    refused = client.post("/followup/reassign", data={"plan_id": [first], "owner_id": "99999"},
                          follow_redirects=True)
    assert "Unknown choice" in refused.get_data(as_text=True)
    empty = client.post("/followup/reassign", data={"owner_id": centre["a_doc2"]}, follow_redirects=True)
    assert "Select at least one plan" in empty.get_data(as_text=True)
    done = client.post("/followup/reassign", data={"plan_id": [first, second], "owner_id": centre["a_doc2"]},
                       follow_redirects=True)
    assert "2 plan(s) reassigned." in done.get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        assert set(db.session.execute(sa.select(Plan.owner_id)).scalars()) == {centre["a_doc2"]}
    staff = app.test_client()
    login(staff, "a_doc")
    assert staff.post("/followup/reassign", data={"plan_id": [first], "owner_id": centre["a_doc"]}).status_code == 403


@pytest.mark.real_commits
def test_escalation_job_flags_late_plans_once_for_supervisors(app, client, centre, queue_consumer):
    from core.cli import main
    late, recent = _plans(app, centre, [("很久", -timedelta(hours=30), "a_doc", False, {}),
                                        ("刚过", -timedelta(hours=2), "a_doc", False, {})])
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["jobs", "run", "followup.escalate", "--hospital", "A", "--wait"])
    assert result.exit_code == 0 and "followup.escalate: ok" in result.output, result.output
    with app.app_context(), hospital_scope(hospital("A")):
        flagged = dict(db.session.execute(sa.select(Plan.id, Plan.escalated_at)).all())
    assert flagged[late] is not None and flagged[recent] is None
    again = runner.invoke(main, ["followup", "escalate", "--hospital", "A"])
    assert again.exit_code == 0 and "0 newly escalated" in again.output and "2 overdue" in again.output
    login(client, "a_super")
    client.post("/language", data={"locale": "en"})
    section = client.get("/followup/?view=team&bucket=escalated").get_data(as_text=True)
    assert "很久" in section and "刚过" not in section
    dashboard = client.get("/").get_data(as_text=True)
    assert "Overdue follow-ups" in dashboard and "Escalated" in dashboard


def test_dashboard_cards_today_and_this_months_calls(app, client, centre):
    from plugins.followup.planning import plan_services
    (plan_id,) = _plans(app, centre, [("今日患者", timedelta(minutes=30), "a_doc", False, {})])
    with app.app_context(), app.test_request_context(), hospital_scope(hospital("A"), user=user("a_doc")):
        plan = db.session.get(Plan, plan_id)
        plan_services.record_round(plan, {"reached": True, "outcome": "in_progress"}, centre["a_doc"])
        db.session.commit()
    login(client, "a_doc")
    client.post("/language", data={"locale": "en"})
    page = client.get("/").get_data(as_text=True)
    assert "Today&#39;s follow-ups for me" in page or "Today's follow-ups for me" in page
    assert "今日患者" in page or NOW.hour == 23
    assert "Phone follow-ups this month" in page and "1 by me · 1 reached" in page
    assert "SMS this month" in page and 'class="hcrm-trend' in page


def test_dashboard_phone_and_sms_cards_count_apart_and_the_sms_card_equals_its_log(app, client, centre):
    """Seed §8: this month's phone follow-ups and SMS separately. The SMS figure is the SMS log's
    own count for the link's filters; each card carries 30 days of trend, today last."""
    from core.models import utcnow
    from plugins.followup.models import SmsMessage
    from plugins.followup.outreach.cards import sms_month_card
    from plugins.followup.planning import cards, plan_services
    with app.app_context():
        ids = catalogue_ids("A")
    phone, sms = _plans(app, centre, [("电话", timedelta(minutes=30), "a_doc", False, {}),
                                      ("短信", timedelta(minutes=40), "a_doc", False, {})])
    with app.app_context(), app.test_request_context(), hospital_scope(hospital("A"), user=user("a_doc")):
        plan_services.record_round(db.session.get(Plan, phone), {"reached": True}, centre["a_doc"])
        plan = db.session.get(Plan, sms)
        plan_services.record_round(plan, {"reached": True, "method_id": ids["method_sms"]}, centre["a_doc"])
        for status in ("sent", "sent", "failed"):
            db.session.add(SmsMessage(hospital_id=hospital("A").id, patient_id=plan.patient_id, phone="13800138000",
                                      body="复诊提醒", status=status, created_at=utcnow()))
        db.session.commit()
    with app.app_context(), app.test_request_context(), hospital_scope(hospital("A"), user=user("a_admin")):
        from flask_login import login_user
        login_user(user("a_admin"))
        calls, texts = cards.month_calls_card(), sms_month_card()
    assert (calls.value, texts.value) == (1, 2)
    assert len(calls.trend) == 30 and calls.trend[-1][1] == 1.0 and texts.trend[-1][1] == 2.0
    login(client, "a_admin")
    log = client.get(texts.url).get_data(as_text=True)
    assert log.count("复诊提醒") == 2


def test_statistics_report_rates_and_excel_export(app, client, centre):
    from plugins.followup.planning import plan_services
    done, _late, _open = _plans(app, centre, [("完成", -timedelta(hours=3), "a_doc", False, {}),
                                              ("逾期", -timedelta(hours=5), "a_doc", False, {}),
                                              ("待办", timedelta(days=1), "a_doc2", False, {})])
    with app.app_context(), app.test_request_context(), hospital_scope(hospital("A"), user=user("a_doc")):
        plan = db.session.get(Plan, done)
        plan_services.record_round(plan, {"reached": False, "outcome": "in_progress"}, centre["a_doc"])
        plan_services.record_round(plan, {"reached": True}, centre["a_doc"])
        db.session.commit()
    from flask_babel import force_locale

    from plugins.followup.planning.statistics import plan_statistics
    with app.app_context(), app.test_request_context(), hospital_scope(hospital("A")), force_locale("en"):
        start = (NOW - timedelta(days=1)).date()
        result = plan_statistics({"date_from": start, "date_to": start + timedelta(days=3), "group": "assignee"})
    rows = {str(r["group"]): r for r in result.rows}
    assert rows, result
    # Seed §3.8.2: completed (完成), following up (跟进: a round, not closed), not completed (未完成).
    assert [(r["completed"], r["following_up"], r["not_completed"]) for r in (rows["A_Doc"], rows["A_Doc2"])] == [
        (1, 0, 1), (0, 0, 1)]
    doc = rows["A_Doc"]
    assert (doc["plans"], doc["completed"], doc["overdue"], doc["completion_rate"], doc["overdue_rate"]) == \
        (2, 1, 1, 50.0, 50.0)
    assert (doc["rounds"], doc["reached"], doc["reach_rate"]) == (2, 1, 50.0)
    assert rows["Total"]["plans"] == 3
    login(client, "a_admin")
    url = f"/reports/followup.plan_statistics.xlsx?date_from={start}&date_to={start + timedelta(days=3)}&group=method"
    exported = client.get(url)
    assert exported.status_code == 200 and exported.data[:2] == b"PK"
    staff = app.test_client()
    login(staff, "a_doc")
    assert staff.get("/reports/followup.plan_statistics").status_code in (403, 404)


def test_key_patient_filter_uses_the_partial_index(app, centre):
    """``= true`` and ``merged_into_id IS NULL``, as the partial index ``ix_patients_patient_key``
    is written: ``IS true`` would read every patient of the hospital on each queue page."""
    from core.testing import postgres_plan, statements_run
    from plugins.followup.planning import queue
    _plans(app, centre, [("重点", timedelta(hours=1), "a_doc", True, {}),
                         ("普通", timedelta(hours=1), "a_doc", False, {})], base=TEN)
    with app.app_context(), hospital_scope(hospital("A")):
        if db.engine.dialect.name == "postgresql":
            from plugins.patients.testing import pad_patients
            pad_patients(hospital("A").id)
        with statements_run() as seen:
            counts = queue.counts(queue.QueueFilter(view="mine", key_only=True), centre["a_doc"], now=TEN)
        assert counts["today"] == 1
        for sql, params in seen:
            assert "key_patient IS" not in sql, sql
            if db.engine.dialect.name == "postgresql":
                assert "ix_patients_patient_key" in postgres_plan(sql, params)


def test_method_crosstab_per_department_and_person_and_its_exports(app, client, centre):
    """Seed §3.8.3: phone and SMS follow-ups counted per department and per person, on a small
    known set: ORTH's doctor called once (not reached) then texted; IM's doctor called once."""
    from flask_babel import force_locale

    from plugins.followup.planning import plan_services
    from plugins.followup.planning.statistics import method_crosstab, plan_statistics
    with app.app_context():
        ids = catalogue_ids("A")
    ortho_plan, im_plan, _untouched = _plans(app, centre, [
        ("骨科患者", timedelta(minutes=30), "a_doc", False, {}),
        ("内科患者", timedelta(minutes=30), "a_doc2", False, {"department_id": centre["im"]}),
        ("未联系", timedelta(minutes=30), "a_doc", False, {})])
    with app.app_context(), app.test_request_context(), hospital_scope(hospital("A"), user=user("a_admin")):
        plan = db.session.get(Plan, ortho_plan)
        plan_services.record_round(plan, {"reached": False}, centre["a_doc"])
        plan_services.record_round(plan, {"reached": True, "method_id": ids["method_sms"]}, centre["a_doc"])
        plan_services.record_round(db.session.get(Plan, im_plan), {"reached": True, "outcome": "in_progress"},
                                   centre["a_doc2"])
        db.session.commit()
    period = {"date_from": NOW.date() - timedelta(days=1), "date_to": NOW.date() + timedelta(days=1)}
    with app.app_context(), app.test_request_context(), hospital_scope(hospital("A")), force_locale("en"):
        by_department = method_crosstab({**period, "per": "department"})
        by_person = method_crosstab({**period, "per": "assignee"})
        statuses = plan_statistics({**period, "group": "department"})
    labels = {k: str(label) for k, label in by_department.columns}
    key = {label: k for k, label in labels.items()}
    assert [labels[k] for k, _l in by_department.columns][:3] == ["Department", "电话", "短信"]

    def table(result):
        return {str(r["group"]): (r[key["电话"]], r[key["短信"]], r["total"]) for r in result.rows}

    assert table(by_department) == {"骨科": (1, 1, 2), "内科": (1, 0, 1), "Total": (2, 1, 3)}
    assert table(by_person) == {"A_Doc": (1, 1, 2), "A_Doc2": (1, 0, 1), "Total": (2, 1, 3)}
    status = {str(r["group"]): (r["completed"], r["following_up"], r["not_completed"]) for r in statuses.rows}
    assert status == {"骨科": (1, 0, 1), "内科": (0, 1, 0), "Total": (1, 1, 1)}
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    query = f"date_from={period['date_from']}&date_to={period['date_to']}&per=department"
    csv = client.get(f"/reports/followup.method_crosstab.csv?{query}")
    assert csv.status_code == 200
    lines = csv.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].split(",")[:3] == ["Department", "电话", "短信"] and lines[1].startswith("骨科,1,1,")
    xlsx = client.get(f"/reports/followup.method_crosstab.xlsx?{query}")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    page = client.get(f"/reports/followup.method_crosstab?{query}")
    assert page.status_code == 200 and "hcrm-report-chart" in page.get_data(as_text=True)
    assert client.get("/reports/followup.method_crosstab?date_from=2026-01-01&date_to=2026-01-02&per=moon").status_code == 400


def test_queue_opens_on_overdue_when_there_is_late_work_and_shows_the_plans_content(app, client, centre, at_ten):
    login(client, "a_doc")
    client.post("/language", data={"locale": "en"})
    (today_plan,) = _plans(app, centre, [("今天的", timedelta(hours=2), "a_doc", False, {})], base=at_ten)
    with app.app_context(), hospital_scope(hospital("A")):
        plan = db.session.get(Plan, today_plan)
        plan.content = "询问术后伤口愈合情况，提醒下周复查"
        db.session.commit()
    opened = client.get("/followup/").get_data(as_text=True)
    assert "今天的" in opened and "询问术后伤口愈合情况，提醒下周复查" in opened  # nothing late: today
    _plans(app, centre, [("迟了", -timedelta(hours=3), "a_doc", False, {})], base=at_ten)
    opened = client.get("/followup/").get_data(as_text=True)
    assert "迟了" in opened and "今天的" not in opened  # late work first
    assert "今天的" in client.get("/followup/?bucket=today").get_data(as_text=True)  # still one click away
    assert client.get("/followup/?bucket=moon").status_code == 200
