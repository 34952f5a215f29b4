"""Bulk SMS on the task queue: the page follows the sending task's progress; an unreachable
queue leaves nothing behind; a sender killed mid-batch never makes a patient get a text twice.
A throwaway plugin "slowsms" publishes a gateway whose provider log is a file (what a real
provider would bill) and which hangs on one message the first time, until its consumer is killed."""
from __future__ import annotations

import sys

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import finder_with, login, make_hospital, make_user, write_plugin
from core.testing_queue import FAST, consumers, drain, wait_until
from plugins.followup.models import SmsMessage, SmsSettings
from plugins.patients.public import Patient

pytestmark = pytest.mark.real_commits
PATIENTS = 30
HANG_ON = 12  # the provider hangs on the 12th message of the batch (first attempt only)

GATEWAY = '''
import os
import time
from pathlib import Path

from core import hookimpl

LOG = Path(os.environ["SLOWSMS_LOG"])


class Slow:
    name = "slow"
    title = "Slow provider"

    def send(self, message):
        with LOG.open("a") as log:
            log.write(f"{message.phone}\\n")
        if message.body.endswith("患者HANG_ON") and not Path(str(LOG) + ".hung").exists():
            Path(str(LOG) + ".hung").write_text("x")
            time.sleep(120)
        return True, f"slow-{message.id}"


@hookimpl
def followup_sms_gateways():
    return [Slow()]
'''.replace("HANG_ON", str(HANG_ON))


@pytest.fixture
def sms_app(app_factory, tmp_path, monkeypatch):
    package = write_plugin(tmp_path, "slowsms", code=GATEWAY, depends=("followup",))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SLOWSMS_LOG", str(tmp_path / "provider.log"))
    sys.modules.pop("slowsms", None)
    app = app_factory(finder=finder_with(package), HCRM_JOBS_PERIODIC=False, **FAST)  # the bulk task sends
    with app.app_context():
        hospital = make_hospital("A", "甲医院", plugins=["followup", "slowsms"])
        make_user(hospital, "a_admin", ("super_admin",))
        with hospital_scope(hospital):
            db.session.add(SmsSettings(gateway="slow", max_attempts=3))
            db.session.add_all([Patient(hospital_id=hospital.id, name=f"患者{i}", gender="F", phone=f"139{i:08d}",
                                        key_patient=False) for i in range(1, PATIENTS + 1)])
            db.session.commit()
    yield app, package, tmp_path / "provider.log"
    sys.modules.pop("slowsms", None)


def statuses(app):
    with app.app_context():
        hospital_id = db.session.execute(sa.text("SELECT id FROM core_hospital WHERE code = 'A'")).scalar()
        with hospital_scope(hospital_id):
            return dict(db.session.execute(sa.select(SmsMessage.phone, SmsMessage.status)).all())


def test_the_page_follows_the_bulk_task_and_a_killed_sender_never_sends_twice(sms_app):
    app, package, log = sms_app
    client = app.test_client()
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    with consumers(app, plugin_dirs=[package], workers=1) as (first,):
        response = client.post("/followup/sms/bulk", data={"body": "您好 {name}", "action": "send"})
        assert response.status_code == 302 and "task=" in response.headers["Location"]
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Sending the bulk SMS" in page and "task_status.js" in page
        task_id = int(response.headers["Location"].rsplit("task=", 1)[1])
        status = client.get(f"/admin/jobs/{task_id}/status").get_json()
        assert status["task"] == "followup.send_bulk" and status["state"] in ("queued", "running")
        wait_until((log.parent / "provider.log.hung").exists, timeout=60)
        first.kill()
    sent_once = log.read_text().split()
    with consumers(app, plugin_dirs=[package]):
        (task,) = [t for t in drain(app, timeout=90) if t.task == "followup.send_bulk"]
    assert (task.state, task.retries) == ("ok", 1)
    delivered = log.read_text().split()
    assert len(delivered) == len(set(delivered)) == PATIENTS  # every patient once, nobody twice
    final = statuses(app)
    hung_phone = sent_once[-1]
    assert final[hung_phone] == "sending"  # handed over when the sender died: left for a person to check
    assert sorted(set(final.values())) == ["sending", "sent"] and list(final.values()).count("sent") == PATIENTS - 1
    assert client.get(f"/admin/jobs/{task_id}/status").get_json()["finished"] is True


def test_an_unreachable_queue_refuses_the_bulk_sms_and_keeps_no_message(app_factory):
    app = app_factory(HCRM_JOBS_BACKEND="redis", HCRM_JOBS_URL="redis://127.0.0.1:1/0", HCRM_QUEUE_NAME="nowhere")
    with app.app_context():
        hospital = make_hospital("A", "甲医院", plugins=["followup"])
        make_user(hospital, "a_admin", ("super_admin",))
        with hospital_scope(hospital):
            db.session.add(Patient(hospital_id=hospital.id, name="张三", gender="M", phone="13812345678",
                                   key_patient=False))
            db.session.commit()
    client = app.test_client()
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    response = client.post("/followup/sms/bulk", data={"body": "您好", "action": "send"})
    assert response.status_code == 400
    assert "The task queue is not reachable right now" in response.get_data(as_text=True)
    assert statuses(app) == {}
