"""Statistics, dashboard cards and the escalation job: a complaint taken, assigned, replied and
closed shows in the reports and on the dashboard; overdue ones are escalated once; another
hospital's numbers never mix in."""
import csv
import io
from datetime import timedelta

import sqlalchemy as sa

from core.clock import local_today
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import api_token, login
from plugins.complaints.escalation import run_escalation
from plugins.complaints.models import Complaint
from plugins.complaints.tests.conftest import hospital


def _take(client, centre, headers, category="attitude", **extra):
    body = {"channel_id": centre["channels"]["phone"], "category_id": centre["categories"][category],
            "complainant_name": "赵先生", "contact_phone": "13800001234", "department_id": centre["surgery"],
            "staff_ids": [centre["a_doc"]], "description": "候诊时间过长", **extra}
    response = client.post("/api/v1/complaints/", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _csv(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))


def test_reports_and_dashboard_show_the_office_work(app, client, centre):
    office = api_token(client, "a_office")
    first = _take(client, centre, office)
    _take(client, centre, office, category="fees")
    _take(client, centre, office, category="fees", settled_on_spot=True, resolution="退还多收费用")
    for action, data in (("accept", {}), ("assign", {"handler_id": centre["a_manager"],
                                                     "department_ids": [centre["surgery"]]}),
                         ("reply", {"reply_text": "已致歉", "reply_method": "phone"}),
                         ("close", {"finding": "justified"})):
        assert client.post(f"/api/v1/complaints/{first}/transitions", json={"action": action, **data},
                           headers=office).status_code == 200
    login(client, "a_office")
    client.post("/language", data={"locale": "en"})
    rows = _csv(client, "/reports/complaints.statistics.csv?by=category")
    header, data = rows[0], {r[0]: r[1:] for r in rows[1:]}
    assert header[:3] == ["Category", "Complaints", "Justified or partly"]
    assert data["收费问题"][0] == "2" and data["服务态度"][:3] == ["1", "1", "1"]
    assert float(data["服务态度"][4]) == 100.0  # replied by its deadline
    by_staff = {r[0]: r[1] for r in _csv(client, "/reports/complaints.statistics.csv?by=staff")[1:]}
    assert by_staff == {"A_Doc": "3"}
    monthly = _csv(client, f"/reports/complaints.monthly.csv?year={local_today().year}")
    assert monthly[-1][1] == "3"
    dashboard = client.get("/").get_data(as_text=True)
    assert "Complaints this month" in dashboard
    # The card's "new" is the list it links to: 1 (one was closed, one settled on the spot).
    import re
    since = local_today().replace(day=1).isoformat()
    listed = client.get(f"/complaints/?received_from={since}&status=new").get_data(as_text=True)
    assert len(set(re.findall(r'href="/complaints/(\d+)"', listed))) == 1
    assert f"received_from={since}&amp;status=new" in dashboard
    # Another hospital sees none of it.
    other = app.test_client()
    login(other, "b_admin")
    assert _csv(other, "/reports/complaints.statistics.csv?by=category")[1:] == []


def test_overdue_complaints_are_escalated_once(app, client, centre):
    office = api_token(client, "a_office")
    cid = _take(client, centre, office)
    with app.app_context(), hospital_scope(hospital("A")):
        complaint = db.session.get(Complaint, cid)
        complaint.due_date = local_today() - timedelta(days=1)
        db.session.commit()
        counts = run_escalation(hospital("A"))
        assert counts["overdue"] == 1 and counts["escalated"] == 1
        assert run_escalation(hospital("A"))["escalated"] == 0
        db.session.commit()  # as the queue does after the job
        assert db.session.get(Complaint, cid).escalated_at is not None
        reference = db.session.get(Complaint, cid).reference
    with app.app_context(), hospital_scope(hospital("B")):
        assert run_escalation(hospital("B")) == {"overdue": 0, "due_soon": 0, "escalated": 0, "notified": 0}
    login(client, "a_office")
    client.post("/language", data={"locale": "en"})
    dashboard = client.get("/").get_data(as_text=True)
    assert "Complaints needing a reply" in dashboard and reference in dashboard
    overdue_list = client.get("/complaints/?overdue=true").get_data(as_text=True)
    assert f"/complaints/{cid}" in overdue_list


def test_sanctions_report_per_department(app, client, centre):
    login(client, "a_office")
    for kind, amount in (("praise", ""), ("deduction", "200")):
        assert client.post("/complaints/sanctions", data={"user_id": centre["a_doc"], "kind": kind, "amount": amount,
                                                          "reason": "患者来信"}).status_code == 302
    from plugins.complaints.models import Sanction
    with app.app_context(), hospital_scope(hospital("A")):
        ids = db.session.execute(sa.select(Sanction.id)).scalars().all()
    for sid in ids:
        assert client.post(f"/complaints/sanctions/{sid}/decide", data={"decision": "approve"}).status_code == 302
    client.post("/language", data={"locale": "en"})
    record = client.get(f"/complaints/sanctions?user_id={centre['a_doc']}").get_data(as_text=True)
    assert "¥200" in record  # the approved totals of the staff member's record
    rows = _csv(client, "/reports/complaints.sanctions.csv")
    assert rows[1][:3] == ["外科", "1", "1"] and rows[1][4] in ("200.00", "200")


def test_statistics_count_only_what_the_caller_may_see(app, client, centre):
    """The grouped statistics keep the data scope and the "about me" rule: a surgery manager's
    figures leave out internal medicine's complaint and the one that names him."""
    office = api_token(client, "a_office")
    _take(client, centre, office, category="fees", department_id=centre["im"], staff_ids=[])
    _take(client, centre, office, category="fees")                         # surgery, names a_doc
    _take(client, centre, office, category="waiting", staff_ids=[centre["a_manager"]])  # surgery, names him
    figures = {}
    for username in ("a_office", "a_manager"):
        viewer = app.test_client()
        login(viewer, username)
        viewer.post("/language", data={"locale": "en"})
        for by in ("category", "department", "channel"):
            figures[username, by] = {r[0]: int(r[1]) for r in _csv(viewer, f"/reports/complaints.statistics.csv?by={by}")[1:]}
    assert figures["a_office", "category"] == {"收费问题": 2, "等候时间": 1}
    assert figures["a_office", "department"] == {"外科": 2, "内科": 1}
    assert figures["a_manager", "category"] == {"收费问题": 1}
    assert figures["a_manager", "department"] == {"外科": 1} and figures["a_manager", "channel"] == {"电话": 1}
