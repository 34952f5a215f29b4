"""SMS consent in bulk SMS: marketing only to patients who agreed, nobody who opted out ever,
and the bulk page's birthday-month, diagnosis and purpose filters."""
from datetime import date

import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.followup.models import SmsMessage
from plugins.followup.outreach import bulk
from plugins.followup.tests.outreach_fixtures import hospital, patient_in
from plugins.patients import public as patient_services
from plugins.patients.public import Patient, PatientQuery


def _consent(patient_id: int, value) -> None:
    with hospital_scope(hospital("A")):
        patient = db.session.get(Patient, patient_id)
        patient_services.update_patient(patient, {"sms_consent": value})
        db.session.commit()


def _recipients() -> set[str]:
    return set(db.session.execute(sa.select(SmsMessage.phone)).scalars())


def test_marketing_reaches_only_consenting_and_care_skips_opted_out(app, outreach):
    with app.app_context():
        _consent(outreach["zhang"], True)    # 13812345678
        _consent(outreach["li"], False)      # second phone 13900001111: opted out
        fan = patient_in("A", "孙八", phone="13611112222", department_id=outreach["ortho"])  # not asked
        with hospital_scope(hospital("A")), force_locale("en"):
            query = PatientQuery(department_id=outreach["ortho"])
            marketing = bulk.count_audience(query, bulk.Reach(marketing=True))
            assert (marketing.matched, marketing.allowed, marketing.with_mobile) == (4, 1, 1)
            assert marketing.without_consent == 3
            care = bulk.count_audience(query, bulk.Reach())
            assert (care.matched, care.allowed, care.with_mobile, care.without_mobile) == (4, 3, 2, 1)

            result = bulk.queue_bulk(query, "新品体检套餐优惠", reach=bulk.Reach(marketing=True))
            assert (result.queued, result.without_consent) == (1, 3)
            assert _recipients() == {"13812345678"}
            db.session.execute(sa.delete(SmsMessage))
            db.session.commit()

            result = bulk.queue_bulk(query, "门诊搬迁通知", reach=bulk.Reach())
            assert result.queued == 2 and _recipients() == {"13812345678", "13611112222"}
            assert fan.id  # the not-asked patient gets care notices, never marketing


def test_nobody_allowed_writes_nothing_and_says_why(app, outreach):
    with app.app_context():
        _consent(outreach["zhang"], False)
        with hospital_scope(hospital("A")), force_locale("en"):
            try:
                bulk.queue_bulk(PatientQuery(q="张三"), "hi", reach=bulk.Reach(marketing=True))
            except bulk.sms.SmsInvalid as exc:
                message = exc.errors["recipients"]
            else:
                raise AssertionError("queued for an opted-out patient")
            assert "1 matched, 1 without consent" in message
            assert db.session.execute(sa.select(sa.func.count()).select_from(SmsMessage)).scalar() == 0


def test_birth_month_filter(app, outreach):
    with app.app_context():
        with hospital_scope(hospital("A")):
            db.session.get(Patient, outreach["zhang"]).birth_date = date(1960, 5, 17)
            db.session.get(Patient, outreach["li"]).birth_date = date(1972, 11, 3)
            db.session.commit()
            may = bulk.count_audience(PatientQuery(), bulk.Reach(birth_month=5))
            assert (may.matched, may.with_mobile) == (1, 1)


def test_bulk_page_filters_and_bad_values(client, app, outreach):
    with app.app_context():
        _consent(outreach["zhang"], True)
        _consent(outreach["li"], False)
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    ortho = outreach["ortho"]
    page = client.get(f"/followup/sms/bulk?department_id={ortho}&purpose=marketing").get_data(as_text=True)
    assert "3 patients match; 1 have a mobile number" in page
    assert "2 are left out: their SMS consent does not allow this message" in page
    assert client.get("/followup/sms/bulk?purpose=spam").status_code == 400
    bad_month = client.get("/followup/sms/bulk?birth_month=13")
    assert bad_month.status_code == 400 and "1 to 12" in bad_month.get_data(as_text=True)
    unknown = client.get("/followup/sms/bulk?disease=ZZZ99")
    assert unknown.status_code == 400 and "ZZZ99" in unknown.get_data(as_text=True)
    response = client.post(f"/followup/sms/bulk?department_id={ortho}&purpose=marketing",
                           data={"body": "{name}您好，体检优惠", "action": "send"})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        assert _recipients() == {"13812345678"}


def test_page_shows_birthday_month_names_in_chinese(client, outreach):
    login(client, "a_admin")
    client.post("/language", data={"locale": "zh_CN"})
    page = client.get("/followup/sms/bulk").get_data(as_text=True)
    assert "五月" in page or "5月" in page
