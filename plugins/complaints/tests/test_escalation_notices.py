"""The escalation job notifies: an overdue (or due-soon) complaint reaches its handler, the heads
of the departments involved and the complaint office's supervisors -- once per complaint and
stage however often the job runs, never a user of another hospital, and never a head the
complaint names (the "complaints about me are hidden" rule)."""
from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask_babel import force_locale

from core.clock import local_today
from core.extensions import db
from core.models import Notification, User
from core.tenancy import hospital_scope, system_scope
from core.testing import api_token, login, make_user
from plugins.complaints.escalation import run_escalation
from plugins.complaints.models import Complaint
from plugins.complaints.tests.conftest import hospital


def _take(client, centre, headers, staff, **extra):
    body = {"channel_id": centre["channels"]["phone"], "category_id": centre["categories"]["attitude"],
            "complainant_name": "赵先生", "contact_phone": "13800001234", "department_id": centre["surgery"],
            "staff_ids": staff, "description": "候诊时间过长", **extra}
    response = client.post("/api/v1/complaints/", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _due(app, code, cid, days):
    with app.app_context(), hospital_scope(hospital(code)):
        db.session.get(Complaint, cid).due_date = local_today() + timedelta(days=days)
        db.session.commit()


def _notices(app):
    """username -> sorted [(kind, complaint path)] of every notification written."""
    with app.app_context(), system_scope():
        rows = db.session.execute(sa.select(User.username, Notification.kind, Notification.link)
                                  .join(User, User.id == Notification.user_id)).all()
    found = {}
    for username, kind, link in rows:
        found.setdefault(username, []).append((kind, link))
    return {k: sorted(v) for k, v in found.items()}


def test_overdue_and_due_soon_complaints_notify_once_the_people_concerned(app, client, centre):
    with app.app_context():
        im = SimpleNamespace(id=centre["im"])
        make_user(hospital("A"), "a_im_head", ("dept_manager",), department=im)
        handler = make_user(hospital("A"), "a_handler", ("supervisor",), department=im).id
    office = api_token(client, "a_office")
    late = _take(client, centre, office, [centre["a_doc"]])
    for action, data in (("accept", {}), ("assign", {"handler_id": handler,
                                                     "department_ids": [centre["surgery"], centre["im"]]})):
        assert client.post(f"/api/v1/complaints/{late}/transitions", json={"action": action, **data},
                           headers=office).status_code == 200
    about_head = _take(client, centre, office, [centre["a_manager"]])  # names the surgery head
    _due(app, "A", late, -2)
    _due(app, "A", about_head, 0)
    b_office = api_token(app.test_client(), "b_admin")
    b_late = _take(client, {**centre, "surgery": centre["b_dept"],
                            "channels": _ids(app, "B", "channel"), "categories": _ids(app, "B", "category")},
                   b_office, [])
    _due(app, "B", b_late, -1)

    for _ in range(2):  # the job runs hourly: the second run tells nobody anything new
        with app.app_context(), hospital_scope(hospital("A")), force_locale("zh_CN"):  # the hospital's language
            counts = run_escalation(hospital("A"))
            db.session.commit()
        with app.app_context(), hospital_scope(hospital("B")):
            b_counts = run_escalation(hospital("B"))
            db.session.commit()
        if _ == 0:
            assert (counts["overdue"], counts["due_soon"], counts["escalated"], counts["notified"]) == (1, 1, 1, 7)
            assert (b_counts["escalated"], b_counts["notified"]) == (1, 1)
        else:
            assert (counts["escalated"], counts["notified"], b_counts["notified"]) == (0, 0, 0)

    overdue, soon = ("complaints.overdue", f"/complaints/{late}"), ("complaints.due_soon", f"/complaints/{about_head}")
    assert _notices(app) == {
        "a_admin": sorted([overdue, soon]), "a_office": sorted([overdue, soon]),  # complaints.supervise
        "a_handler": [overdue],                                                   # the handler
        "a_manager": [overdue],      # head of surgery; the due-soon complaint names him: not told
        "a_im_head": [overdue],                                                   # head of an assigned department
        "b_admin": [("complaints.overdue", f"/complaints/{b_late}")],             # B's own only
    }
    login(client, "a_handler")
    page = client.get("/notifications").get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        reference = db.session.get(Complaint, late).reference
    assert f"投诉 {reference} 已超期" in page and "原应于" in page


def _ids(app, code, what):
    from plugins.complaints.models import ComplaintCategory, ComplaintChannel
    from plugins.complaints.tests.conftest import ids_of
    with app.app_context():
        return ids_of(ComplaintChannel if what == "channel" else ComplaintCategory, code)
