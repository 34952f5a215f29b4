"""Bulk SMS to a filtered patient list: preview, one message per patient with a mobile, guards."""
import time
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.followup.models import SmsMessage
from plugins.followup.outreach import bulk, sms
from plugins.followup.tests.outreach_fixtures import hospital
from plugins.patients.models import Patient
from plugins.patients.services import PatientQuery


def count_messages():
    return db.session.execute(sa.select(sa.func.count()).select_from(SmsMessage)).scalar()


def test_preview_and_queue_skip_patients_without_mobile(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        query = PatientQuery(department_id=outreach["ortho"])
        audience = bulk.preview(query, "{name}{gender_title},{department}{doctor}提醒您")
        assert (audience.matched, audience.with_mobile, audience.without_mobile) == (3, 2, 1)
        texts = sorted(text for _patient, _phone, text in audience.sample)
        assert texts == ["张三先生,骨科A_Manager提醒您", "李四女士,骨科提醒您"]
        assert count_messages() == 0  # a preview writes nothing
        result = bulk.queue_bulk(query, "{name}您好")
        assert (result.queued, result.skipped) == (2, 1)
        rows = db.session.execute(sa.select(SmsMessage.phone, SmsMessage.body, SmsMessage.status, SmsMessage.hospital_id)
                                  .order_by(SmsMessage.phone)).all()
        assert rows == [("13812345678", "张三您好", "queued", hospital("A").id),
                        ("13900001111", "李四您好", "queued", hospital("A").id)]
        assert sms.deliver_due()["sent"] == 2


def test_bulk_refusals_write_nothing(app, outreach, monkeypatch):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        with pytest.raises(sms.SmsInvalid, match="Nobody of this list may receive it"):
            bulk.queue_bulk(PatientQuery(q="王五"), "hi")
        with pytest.raises(sms.SmsInvalid, match="follow-up plan"):
            bulk.queue_bulk(PatientQuery(), "{due_date}")
        with pytest.raises(sms.SmsInvalid, match="Unknown placeholder"):
            bulk.preview(PatientQuery(), "{nmae}")
        with pytest.raises(sms.SmsInvalid) as caught:
            bulk.queue_bulk(PatientQuery(), "hi", scheduled_at=datetime(2020, 1, 1))
        assert "scheduled_at" in caught.value.errors
        monkeypatch.setattr(bulk, "MAX_BULK", 1)
        with pytest.raises(sms.SmsInvalid, match="at most 1"):
            bulk.queue_bulk(PatientQuery(), "hi")
        assert count_messages() == 0


def test_bulk_page(client, app, outreach):
    staff = app.test_client()
    login(staff, "a_staff")
    assert staff.get("/followup/sms/bulk").status_code == 403  # followup.sms_bulk: managers only
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    page = client.get(f"/followup/sms/bulk?department_id={outreach['ortho']}").get_data(as_text=True)
    assert "3 patients match; 2 have a mobile number" in page
    assert client.get("/followup/sms/bulk?visit_from=nonsense").status_code == 400
    response = client.post(f"/followup/sms/bulk?department_id={outreach['ortho']}",
                           data={"body": "{name}您好", "action": "preview"})
    assert "张三您好" in response.get_data(as_text=True)
    response = client.post("/followup/sms/bulk?q=赵六", data={"body": "hi", "action": "send"})
    assert response.status_code == 400 and "nothing was sent" in response.get_data(as_text=True)
    response = client.post(f"/followup/sms/bulk?department_id={outreach['ortho']}",
                           data={"body": "{name}您好", "action": "send"})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        assert count_messages() == 2
    with app.app_context(), hospital_scope(hospital("B")):
        assert count_messages() == 0  # another hospital's patients are never in the list


def test_ten_thousand_patients_queue_in_seconds(app, outreach):
    """Set-based: 10,000 recipients are read, filled and inserted in one transaction quickly."""
    with app.app_context(), hospital_scope(hospital("A")):
        hospital_id = hospital("A").id
        db.session.execute(sa.insert(Patient), [
            dict(hospital_id=hospital_id, name=f"患者{i}", gender="F" if i % 2 else "M", phone=f"139{i:08d}",
                 department_id=outreach["ortho"], key_patient=False) for i in range(10_000)])
        db.session.commit()
        started = time.perf_counter()
        result = bulk.queue_bulk(PatientQuery(department_id=outreach["ortho"]), "{name}{gender_title}您好,{hospital}提醒您")
        elapsed = time.perf_counter() - started
        assert result.queued == 10_002 and result.skipped == 1
        assert elapsed < 20, f"bulk queue of 10k took {elapsed:.1f}s"
        assert db.session.execute(sa.select(SmsMessage.body).where(SmsMessage.phone == "13900000001")).scalar() \
            == "患者1女士您好,甲医院提醒您"
