"""The audit log page: rows written by changes made through the UI, filters, paging, isolation."""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import sqlalchemy as sa

from core.testing import PASSWORD, make_hospital, make_user
from core.testing import login as sign_in


def login(client, username, password=PASSWORD):
    """Sign in and switch to English, so the messages asserted below are the source strings."""
    sign_in(client, username, password)
    client.post("/language", data={"locale": "en"})


def text(response):
    return response.get_data(as_text=True)


def detail_rows(html: str) -> list[str]:
    """The expandable before/after blocks of the page, one string each."""
    return re.findall(r'<tr class="collapse hcrm-audit-detail".*?</table>', html, re.S)


def summary_rows(html: str) -> list[str]:
    body = html[html.index("<tbody"):]
    return re.findall(r'<tr>\s*<td>.*?</tr>', body, re.S)


def setup(app):
    with app.app_context():
        a = make_hospital("A")
        b = make_hospital("B")
        make_user(a, "admin_a", ("super_admin",))
        make_user(b, "admin_b", ("super_admin",))
        return a.id, b.id


def add_log_rows(app, hospital_id, count, start=datetime(2024, 3, 1, 8, 0)):
    from core.extensions import db
    from core.models import AuditLog
    with app.app_context():
        db.session.execute(sa.insert(AuditLog.__table__), [dict(
            at=start + timedelta(minutes=i), hospital_id=hospital_id, username="robot", action="update",
            model="Probe", record_id=str(i), before={"n": i}, after={"n": i + 1}) for i in range(count)])
        db.session.commit()


def test_user_created_through_the_ui_is_in_the_audit_log_with_before_and_after(app, client):
    setup(app)
    login(client, "admin_a")
    created = client.post("/admin/users/new", data={
        "username": "zhang.san", "display_name": "张三", "password": "long-enough-1", "confirm": "long-enough-1"})
    assert created.status_code == 302
    user_id = int(created.headers["Location"].rsplit("/", 1)[1])
    client.post(f"/admin/users/{user_id}", data={"display_name": "张三丰", "active": "y"})

    page = client.get(f"/admin/audit?model=User&record_id={user_id}")
    assert page.status_code == 200
    html = text(page)
    rows = summary_rows(html)
    assert len(rows) == 2 and "update" in rows[0] and "create" in rows[1]  # newest first
    assert all("admin_a" in r for r in rows)
    update, create = detail_rows(html)
    assert re.search(r"display_name</code></th>\s*<td[^>]*>.*?张三</span>\s*</td>\s*<td[^>]*>.*?张三丰", update, re.S)
    assert "zhang.san" in create and "password_hash" not in create
    assert "password_hash" not in html and "long-enough-1" not in html


def test_filters_and_paging(app, client):
    a_id, _b = setup(app)
    add_log_rows(app, a_id, 60)
    login(client, "admin_a")
    first = text(client.get("/admin/audit?user=robot"))
    rows = summary_rows(first)
    assert len(rows) == 50 and "60 records" in first
    assert "2024-03-01 16:59:00" in rows[0] and "2024-03-01 16:10:00" in rows[-1]  # UTC 08:59 in Shanghai
    second = summary_rows(text(client.get("/admin/audit?user=robot&page=2")))
    assert len(second) == 10 and "2024-03-01 16:00:00" in second[-1]
    assert len(summary_rows(text(client.get("/admin/audit?model=Probe&record_id=7")))) == 1
    assert len(summary_rows(text(client.get("/admin/audit?action=update&date_from=2024-03-01&date_to=2024-03-01")))) == 50
    assert "No audit records match" in text(client.get("/admin/audit?user=robot&date_from=2024-03-02"))


def test_bad_filter_values_are_400_with_a_message(app, client):
    setup(app)
    login(client, "admin_a")
    bad_date = client.get("/admin/audit?date_from=2024-13-45")
    assert bad_date.status_code == 400
    assert "Not a valid date value" in text(bad_date) and "not valid" in text(bad_date)
    reversed_range = client.get("/admin/audit?date_from=2024-05-02&date_to=2024-05-01")
    assert reversed_range.status_code == 400 and "The end date is before the start date." in text(reversed_range)
    too_long = client.get("/admin/audit?action=" + "x" * 40)
    assert too_long.status_code == 400
    assert client.get("/admin/audit?page=abc").status_code == 200  # a bad page number shows page 1


def test_hospitals_see_only_their_own_rows_and_group_admins_all(app, client):
    a_id, b_id = setup(app)
    add_log_rows(app, a_id, 2)
    with app.app_context():
        from core.extensions import db
        from core.models import Hospital
        b = db.session.get(Hospital, b_id)
        make_user(b, "chief", (), group_admin=True)
    login(client, "admin_b")
    assert "robot" not in text(client.get("/admin/audit"))
    filtered = text(client.get("/admin/audit?user=robot"))
    assert "No audit records match" in filtered and "0 records" in filtered  # the count is scoped too
    group = client.application.test_client()
    login(group, "chief")
    # Working in B, the group administrator reads B's trail; the whole group on request only.
    assert "No audit records match" in text(group.get("/admin/audit?user=robot"))
    html = text(group.get("/admin/audit?user=robot&whole_group=1"))
    assert len(summary_rows(html)) == 2 and "<code>A</code>" in html
    assert 'hcrm-whole-group" role="note"' in html and 'name="whole_group" value="1"' in html
