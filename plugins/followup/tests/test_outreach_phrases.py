"""The phrase library, the SMS dashboard card, the demo data."""
import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.followup.models import Category, Phrase, SmsMessage, SurveyResponse
from plugins.followup.outreach import phrases
from plugins.followup.outreach.validation import OutreachInvalid
from plugins.followup.tests.outreach_fixtures import hospital, user


def test_shared_and_private_phrases(app, outreach):
    with app.app_context(), hospital_scope(hospital("A"), user("a_staff")), force_locale("en"):
        staff = user("a_staff")
        seeded = phrases.phrases_for(staff)
        assert seeded and all(p.shared for p in seeded)
        mine = phrases.create_phrase({"text": "我的常用语"}, staff)
        assert not mine.shared
        with pytest.raises(OutreachInvalid) as caught:
            phrases.create_phrase({"text": "想共享", "shared": "y"}, staff)  # staff lack followup.templates
        assert "shared" in caught.value.errors
        for data, field in [({"text": ""}, "text"), ({"text": "x" * 1001}, "text"),
                            ({"text": "x", "category_id": "12345"}, "category_id")]:
            with pytest.raises(OutreachInvalid) as caught:
                phrases.create_phrase(data, staff)
            assert field in caught.value.errors
        db.session.rollback()
        revisit = db.session.execute(sa.select(Category).where(Category.code == "revisit")).scalar_one()
        in_category = phrases.phrases_for(staff, revisit.id)
        assert mine in in_category  # a phrase without a category fits every category
        assert all(p.category_id in (None, revisit.id) for p in in_category)
        with pytest.raises(OutreachInvalid):
            phrases.delete_phrase(seeded[0], staff)  # a shared phrase is the managers'
        assert mine not in phrases.phrases_for(user("a_manager"))  # private to its author


def test_phrase_pages(client, app, outreach):
    login(client, "a_staff")
    client.post("/language", data={"locale": "en"})
    assert client.post("/followup/phrases/", data={"text": ""}).status_code == 400
    assert client.post("/followup/phrases/", data={"text": "术后第三天请换药"}).status_code == 302
    assert "术后第三天请换药" in client.get("/followup/phrases/").get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        phrase_id = db.session.execute(sa.select(Phrase.id).where(Phrase.text == "术后第三天请换药")).scalar_one()
    manager = app.test_client()
    login(manager, "a_manager")
    assert manager.get(f"/followup/phrases/{phrase_id}").status_code == 404  # someone else's private phrase
    assert "术后第三天请换药" not in manager.get("/followup/phrases/").get_data(as_text=True)
    assert client.post(f"/followup/phrases/{phrase_id}", data={"text": "术后第三天换药"}).status_code == 302
    assert client.post(f"/followup/phrases/{phrase_id}/delete").status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(Phrase.id).where(Phrase.id == phrase_id)).first() is None
    other = app.test_client()
    login(other, "b_admin")
    assert other.post(f"/followup/phrases/{phrase_id}/delete").status_code == 404


def test_dashboard_card_counts_this_months_messages(client, app, outreach):
    from plugins.followup.outreach import sms
    from plugins.patients.public import Patient
    with app.app_context(), hospital_scope(hospital("A")):
        sms.send_now(sms.queue_message(db.session.get(Patient, outreach["zhang"]), "one"))
        db.session.commit()
    login(client, "a_manager")
    client.post("/language", data={"locale": "en"})
    page = client.get("/").get_data(as_text=True)
    assert "SMS this month" in page


def test_demo_data(app, outreach):
    from core.testing import make_department, make_hospital, make_user
    from plugins.followup import outreach as part
    from plugins.patients.public import load_demo as load_patients
    with app.app_context():
        demo = make_hospital("DEMO", "演示医院", plugins=["followup"])
        for code in ("IM", "SURG", "ORTH"):
            make_department(demo, code, code)
        make_user(demo, "demo_doctor", ("staff",))
        with hospital_scope(demo):
            load_patients(demo)
            db.session.commit()
            part.demo_data(demo)
            db.session.commit()
            sent = db.session.execute(sa.select(sa.func.count()).select_from(SmsMessage)).scalar()
            responses = db.session.execute(sa.select(sa.func.count()).select_from(SurveyResponse)).scalar()
            assert sent > 0 and responses > 0
            part.demo_data(demo)  # idempotent
            db.session.commit()
            assert db.session.execute(sa.select(sa.func.count()).select_from(SmsMessage)).scalar() == sent
