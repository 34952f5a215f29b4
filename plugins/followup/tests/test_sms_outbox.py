"""The SMS outbox: queueing, delivery through the hospital's gateway (the published hook),
failures and retries, the delivery job, the pages, tenancy and a disabled plugin."""
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core import activation, jobs
from core.clock import local_now
from core.extensions import db
from core.tenancy import hospital_scope, system_scope
from core.testing import finder_with, login, make_app, write_plugin
from plugins.followup.models import Settings, SmsMessage, SmsSettings
from plugins.followup.outreach import gateways, sms, sms_settings
from plugins.followup.tests.outreach_fixtures import hospital
from plugins.patients.public import Patient

FLAKY_GATEWAY = '''
from core import hookimpl

SENT = []
FAILURES = {"left": 0}


class Flaky:
    name = "flaky"
    title = "Flaky test provider"

    def send(self, message):
        if FAILURES["left"]:
            FAILURES["left"] -= 1
            raise ConnectionError("provider unreachable")
        SENT.append((message.phone, message.body))
        return True, f"flaky-{len(SENT)}"


@hookimpl
def followup_sms_gateways():
    return [Flaky()]
'''


def messages(app, code="A") -> list[tuple]:
    """(id, status, body) of the hospital's messages, read in a fresh app context."""
    with app.app_context(), hospital_scope(hospital(code)):
        return [(m.id, m.status, m.body) for m in
                db.session.execute(sa.select(SmsMessage).order_by(SmsMessage.id)).scalars()]


def test_queue_and_deliver_through_the_outbox(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")):
        zhang = db.session.get(Patient, outreach["zhang"])
        message = sms.queue_message(zhang, "您好")
        db.session.commit()
        assert (message.status, message.phone, message.attempts) == ("queued", "13812345678", 0)
        sms.send_now(message)
        assert message.status == "sent" and message.gateway == "outbox" and message.attempts == 1
        assert message.gateway_ref == f"outbox-{message.id}" and message.sent_at is not None


def test_mobile_choice_signature_and_refusals(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        db.session.execute(sa.update(Settings).values(sms_signature="【甲医院】"))
        li = db.session.get(Patient, outreach["li"])
        message = sms.queue_message(li, "请按时复诊")
        assert message.phone == "13900001111"  # the landline cannot take a text: the second phone does
        assert message.body == "请按时复诊【甲医院】"
        db.session.commit()
        for patient_id, body, when, field in [
                (outreach["wang"], "hi", None, "phone"), (outreach["zhao"], "hi", None, "phone"),
                (outreach["zhang"], "   ", None, "body"), (outreach["zhang"], "x" * 600, None, "body"),
                (outreach["zhang"], "hi", local_now() - timedelta(days=1), "scheduled_at")]:
            with pytest.raises(sms.SmsInvalid) as caught:
                sms.queue_message(db.session.get(Patient, patient_id), body, scheduled_at=when)
            assert field in caught.value.errors
        db.session.rollback()
        assert len(messages(app)) == 1
        with pytest.raises(sms.SmsInvalid, match="no mobile"):
            sms.queue_message(db.session.get(Patient, outreach["wang"]), "hi")


@pytest.fixture
def flaky(app, outreach, tmp_path, monkeypatch):
    """An app with a third-party plugin offering the "flaky" gateway, enabled for hospital A."""
    package = f"smsflaky_{tmp_path.name[-12:].replace('-', '_')}"
    pkg = write_plugin(tmp_path, "smsflaky", FLAKY_GATEWAY, depends=["followup"], package=package)
    monkeypatch.syspath_prepend(str(tmp_path))
    application = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))
    module = application.extensions["hcrm"].registry.pm.get_plugin("smsflaky")
    with application.app_context():
        with system_scope():
            activation.enable(hospital("A"), "smsflaky")
        db.session.commit()
    return application, module


def test_gateway_plugin_failure_then_retry(flaky, outreach):
    application, module = flaky
    with application.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        assert set(gateways.available_gateways()) == {"outbox", "flaky"}
        with pytest.raises(sms.OutreachInvalid, match="Unknown gateway"):
            sms_settings.save_settings({"gateway": "nope", "max_attempts": 3})
        db.session.rollback()
        sms_settings.save_settings({"gateway": "flaky", "max_attempts": 2, "signature": ""})
        module.FAILURES["left"] = 1
        message = sms.queue_message(db.session.get(Patient, outreach["zhang"]), "复诊提醒")
        db.session.commit()
        sms.send_now(message)
        assert (message.status, message.attempts) == ("failed", 1)
        assert message.error == "ConnectionError: provider unreachable"
        counts = sms.deliver_due()  # the job's function: the failed message is tried again
        assert counts["sent"] == 1 and message.status == "sent" and message.gateway_ref == "flaky-1"
        assert module.SENT == [("13812345678", "复诊提醒")]
        # Attempts run out: the message stays failed and is no longer picked up.
        module.FAILURES["left"] = 5
        second = sms.queue_message(db.session.get(Patient, outreach["zhang"]), "第二条")
        db.session.commit()
        sms.deliver_due()
        sms.deliver_due()
        assert (second.status, second.attempts) == ("failed", 2)
        assert sms.deliver_due()["failed"] == 0 and second.attempts == 2
        sms.retry(second)  # a person may queue it again
        module.FAILURES["left"] = 0
        sms.deliver_due()
        assert second.status == "sent"
    # B never chose the flaky gateway and does not have its plugin: its messages use the outbox.
    with application.app_context(), hospital_scope(hospital("B")):
        assert set(gateways.available_gateways()) == {"outbox"}


def test_missing_gateway_keeps_messages_waiting(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")):
        db.session.add(SmsSettings(gateway="gone", max_attempts=3))
        message = sms.queue_message(db.session.get(Patient, outreach["zhang"]), "hi")
        db.session.commit()
        assert sms.deliver_due()["waiting"] == 1
        assert message.status == "queued" and message.attempts == 0 and "gone" in message.error


@pytest.mark.real_commits
def test_job_sends_due_messages_only_and_expires_stale_ones(app, outreach, queue_consumer):
    with app.app_context():
        with hospital_scope(hospital("A")):
            zhang = db.session.get(Patient, outreach["zhang"])
            later = sms.queue_message(zhang, "later", scheduled_at=local_now() + timedelta(hours=2))
            now = sms.queue_message(zhang, "now")
            stale = sms.queue_message(zhang, "stale")
            stale.created_at = datetime.utcnow() - timedelta(days=4)
            db.session.commit()
            ids = later.id, now.id, stale.id
        outcomes = jobs.run_now("followup.send_sms", wait=True, timeout=60)
        assert {(o.hospital_id, o.state) for o in outcomes} == {(hospital("A").id, "ok"), (hospital("B").id, "ok")}
        statuses = {m[0]: m[1] for m in messages(app)}
        assert [statuses[i] for i in ids] == ["queued", "sent", "cancelled"]
        with hospital_scope(hospital("A")):
            assert sms.deliver_due(now=local_now() + timedelta(hours=3))["sent"] == 1


def test_compose_page_sends_and_refuses_bad_input(client, app, outreach):
    login(client, "a_manager")  # sees the department's patients; phones masked
    client.post("/language", data={"locale": "en"})
    url = f"/followup/sms/compose/{outreach['zhang']}"
    assert client.get(url).status_code == 200
    response = client.post(url, data={"body": "{name}您好", "action": "preview"})
    assert "张三您好" in response.get_data(as_text=True) and not messages(app)
    response = client.post(url, data={"body": "", "action": "send"})
    assert response.status_code == 400 and not messages(app)
    response = client.post(url, data={"body": "{nmae}", "action": "send"})
    assert response.status_code == 400 and "Unknown placeholder {nmae}" in response.get_data(as_text=True)
    response = client.post(url, data={"body": "hi", "scheduled_at": "yesterday", "action": "send"})
    assert response.status_code == 400 and not messages(app)
    response = client.post(url, data={"body": "{name}您好", "action": "send"})
    assert response.status_code == 302 and "tab=followup.sms" in response.headers["Location"]
    [(_id, status, body)] = messages(app)
    assert (body, status) == ("张三您好", "sent")
    assert client.post(f"/followup/sms/compose/{outreach['wang']}", data={"body": "hi", "action": "send"}).status_code == 400
    # The patient page shows the SMS tab with the number masked for staff.
    page = client.get(f"/patients/{outreach['zhang']}?tab=followup.sms").get_data(as_text=True)
    assert "张三您好" in page and "138****5678" in page and "13812345678" not in page
    outbox = client.get("/followup/sms/?status=sent").get_data(as_text=True)
    assert "张三您好" in outbox
    assert client.get("/followup/sms/?status=nonsense").status_code == 400


def test_cancel_and_tenancy(client, app, outreach):
    with app.app_context(), hospital_scope(hospital("A")):
        message = sms.queue_message(db.session.get(Patient, outreach["zhang"]), "甲医院的提醒",
                                    scheduled_at=local_now() + timedelta(days=1))
        db.session.commit()
        message_id = message.id
    login(client, "b_admin")
    assert client.get(f"/followup/sms/compose/{outreach['zhang']}").status_code == 404
    assert client.post(f"/followup/sms/messages/{message_id}/cancel").status_code == 404
    assert "甲医院的提醒" not in client.get("/followup/sms/").get_data(as_text=True)
    staff = app.test_client()
    login(staff, "a_staff")  # own scope: 张三 is not theirs, so neither is his message
    assert staff.post(f"/followup/sms/messages/{message_id}/cancel").status_code == 404
    assert messages(app)[0][1] == "queued"
    manager = app.test_client()
    login(manager, "a_manager")  # 张三 is a patient of the manager's department
    assert manager.post(f"/followup/sms/messages/{message_id}/cancel").status_code == 302
    assert messages(app)[0][1] == "cancelled"
    assert manager.post(f"/followup/sms/messages/{message_id}/cancel").status_code == 302  # refused, flashed
    assert messages(app)[0][1] == "cancelled"


@pytest.mark.real_commits
def test_disabled_plugin_hides_pages_and_keeps_messages(client, app, outreach, queue_consumer):
    with app.app_context():
        with hospital_scope(hospital("A")):
            sms.queue_message(db.session.get(Patient, outreach["zhang"]), "kept")
            db.session.commit()
        with system_scope():
            activation.disable(hospital("A"), "followup")
        db.session.commit()
    login(client, "a_admin")
    assert client.get("/followup/sms/").status_code == 404
    assert client.post(f"/followup/sms/compose/{outreach['zhang']}", data={"body": "x"}).status_code == 404
    assert "kept" not in client.get(f"/patients/{outreach['zhang']}").get_data(as_text=True)
    with app.app_context():
        outcomes = jobs.run_now("followup.send_sms", wait=True, timeout=60)
        assert hospital("A").id not in {o.hospital_id for o in outcomes}
        assert [m[1] for m in messages(app)] == ["queued"]  # kept, not sent
