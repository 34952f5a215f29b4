"""Notifications: ``notify`` tells each user once per (kind, key), never a user of another
hospital; the bell counts the unread; ``/notifications`` shows one's own only, in the hospital one
works in, and marks them read (one's own, with a CSRF token); a channel plugin receives each new
one through ``hcrm_notification_created``."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from core import activation
from core.extensions import db
from core.models import Hospital, Notification
from core.notifications import notify
from core.tenancy import hospital_scope, system_scope
from core.testing import PASSWORD, finder_with, login, make_hospital, make_user, write_plugin

ENGLISH = {"default_locale": "en"}


@pytest.fixture
def people(app):
    with app.app_context():
        a, b = make_hospital("A"), make_hospital("B")
        ids = {"ann": make_user(a, "ann").id, "abe": make_user(a, "abe").id, "bob": make_user(b, "bob").id,
               "a": a.id, "b": b.id}
        return ids


def _notify(app, hospital_id, users, key="c1", title="Complaint TS1 is overdue"):
    with app.app_context(), hospital_scope(hospital_id):
        made = notify(users, "complaints.overdue", title, "Reply due 2026-12-01", "/complaints/1", key=key)
        db.session.commit()
        return [n.user_id for n in made]


def _rows(app):
    with app.app_context(), system_scope():
        return db.session.execute(sa.select(Notification.user_id, Notification.key, Notification.read_at)
                                  .order_by(Notification.id)).all()


def test_a_notice_reaches_each_user_once_and_never_another_hospital(app, people):
    assert _notify(app, people["a"], [people["ann"], people["abe"], people["bob"], people["ann"]]) == [
        people["ann"], people["abe"]]
    assert _notify(app, people["a"], [people["ann"], people["abe"]]) == []  # the job ran again
    assert _notify(app, people["a"], [people["ann"]], key="c2") == [people["ann"]]  # another occasion
    assert [(u, k) for u, k, _ in _rows(app)] == [(people["ann"], "c1"), (people["abe"], "c1"), (people["ann"], "c2")]


def test_the_bell_counts_the_unread_and_the_page_marks_them_read(app, client, people):
    _notify(app, people["a"], [people["ann"], people["abe"]], key="c1", title="Complaint <b>TS1</b> is overdue")
    _notify(app, people["a"], [people["ann"]], key="c2", title="Complaint TS2 is due soon")
    login(client, "ann")
    client.post("/language", data={"locale": "en"})
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'hcrm-bell-count">2<', home)
    page = client.get("/notifications").get_data(as_text=True)
    assert "Complaint &lt;b&gt;TS1&lt;/b&gt; is overdue" in page and "Complaint TS2 is due soon" in page
    with app.app_context(), system_scope():
        mine = db.session.execute(sa.select(Notification.id).where(Notification.user_id == people["ann"])
                                  .order_by(Notification.id)).scalars().all()
        others = db.session.execute(sa.select(Notification.id).where(Notification.user_id == people["abe"])).scalar_one()
    opened = client.post(f"/notifications/{mine[0]}/read", data={"open": "1"})
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/complaints/1")
    assert re.search(r'hcrm-bell-count">1<', client.get("/").get_data(as_text=True))
    assert client.post(f"/notifications/{others}/read").status_code == 404  # abe's: as if it did not exist
    assert client.post("/notifications/999999999999999/read").status_code == 404
    done = client.post("/notifications/read-all", follow_redirects=True).get_data(as_text=True)
    assert "1 notification marked read." in done and "hcrm-bell-count" not in done
    assert [(u, r is not None) for u, _, r in _rows(app)] == [(people["ann"], True), (people["abe"], False),
                                                             (people["ann"], True)]
    assert "No unread notifications." in client.get("/notifications?unread=1").get_data(as_text=True)


def test_marking_read_needs_the_forms_csrf_token(app_factory, people):
    application = app_factory(config_overrides=ENGLISH, WTF_CSRF_ENABLED=True)
    _notify(application, people["a"], [people["ann"]])
    client = application.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    client.post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": token})
    with application.app_context(), system_scope():
        nid = db.session.execute(sa.select(Notification.id)).scalar_one()
    refused = client.post(f"/notifications/{nid}/read")
    assert refused.status_code == 400 and "The form has expired" in refused.get_data(as_text=True)
    assert client.post("/notifications/read-all").status_code == 400
    assert _rows(application)[0][2] is None  # still unread
    form = client.get("/notifications").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post(f"/notifications/{nid}/read", data={"csrf_token": token}).status_code == 302
    assert _rows(application)[0][2] is not None


def test_a_group_administrator_sees_their_own_in_the_chosen_hospital_only(app, client, people):
    with app.app_context():
        boss = make_user(db.session.get(Hospital, people["a"]), "boss", ("super_admin",), group_admin=True).id
    _notify(app, people["a"], [boss], title="From A")
    _notify(app, people["a"], [people["ann"]], key="c9", title="Ann's own")
    login(client, "boss")
    page = client.get("/notifications").get_data(as_text=True)
    assert "From A" in page and "Ann" not in page
    client.post("/hospital", data={"hospital_id": people["b"]})
    page = client.get("/notifications").get_data(as_text=True)
    assert "From A" not in page and "hcrm-bell-count" not in page


CHANNEL = """
from core import hookimpl
SENT = []

@hookimpl
def hcrm_notification_created(notification):
    SENT.append((notification.user_id, notification.kind, notification.title, notification.id is not None))
"""


def test_a_channel_plugin_receives_each_new_notification_once(app_factory, tmp_path, monkeypatch, people):
    monkeypatch.syspath_prepend(str(tmp_path))
    channel = write_plugin(tmp_path, "smschannel", CHANNEL)
    application = app_factory(finder=finder_with(channel))
    with application.app_context(), system_scope():
        activation.enable(db.session.get(Hospital, people["a"]), "smschannel")
        db.session.commit()
    import smschannel
    _notify(application, people["a"], [people["ann"]])
    _notify(application, people["a"], [people["ann"]])
    sent = smschannel.SENT
    assert sent == [(people["ann"], "complaints.overdue", "Complaint TS1 is overdue", True)]
    _notify(application, people["b"], [people["bob"]])  # not live in B: B's notices stay in the bell
    assert len(smschannel.SENT) == 1
