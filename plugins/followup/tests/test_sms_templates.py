"""SMS templates: placeholders checked on save, filled for a real patient, previewed masked."""
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.followup.models import Plan, SmsTemplate
from plugins.followup.outreach import sms_templates
from plugins.followup.outreach.templating import TemplateInvalid, check, render_template_for
from plugins.followup.outreach.validation import OutreachInvalid
from plugins.followup.tests.outreach_fixtures import hospital
from plugins.patients.public import Patient


def test_unknown_placeholder_is_named_with_the_valid_ones(app, outreach):
    with app.app_context(), force_locale("en"):
        with pytest.raises(TemplateInvalid) as caught:
            check("{name}您好,{nmae}")
        assert "{nmae}" in str(caught.value)
        assert "{name}" in str(caught.value) and "{due_date}" in str(caught.value)
        with pytest.raises(TemplateInvalid, match="Unbalanced brace"):
            check("{name 您好")
        with pytest.raises(TemplateInvalid, match="Unknown placeholder"):
            check("{name!r}")  # conversions and format specs are not placeholders
        assert check("{{literal}} {name}") == {"name"}


def test_render_for_a_patient_with_plan_and_visit(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")):
        zhang = db.session.get(Patient, outreach["zhang"])
        li = db.session.get(Patient, outreach["li"])
        plan = Plan(patient_id=zhang.id, due_at=datetime(2026, 12, 1, 9, 30), visit_id=outreach["visit"])
        text = render_template_for("{surname}{gender_title}:{department}{doctor}医生提醒您{due_date}{due_time}复诊;"
                                   "出院{discharge_date}。{hospital}", zhang, plan=plan)
        assert text == "张先生:骨科A_Manager医生提醒您2026年12月1日09:30复诊;出院2026年3月9日。甲医院"
        # Without a plan the latest visit still fills the visit's fields; a woman is 女士.
        assert render_template_for("{name}{gender_title} {visit_date}", li) == "李四女士 "
        assert render_template_for("{visit_date}", zhang) == "2026年3月2日"
        with pytest.raises(TemplateInvalid, match="due_date"):
            render_template_for("{due_date}", zhang)


def test_save_refuses_bad_templates_and_writes_nothing(app, outreach):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        before = db.session.execute(sa.select(sa.func.count()).select_from(SmsTemplate)).scalar()
        for data, field in [({"name": "x", "body": "{nam}"}, "body"), ({"name": "", "body": "hi"}, "name"),
                            ({"name": "出院关怀", "body": "hi"}, "name"),  # seeded on enable
                            ({"name": "x", "body": "a" * 501}, "body"), ({"name": "x", "body": "hi", "category_id": "999"},
                                                                          "category_id")]:
            with pytest.raises(OutreachInvalid) as caught:
                sms_templates.save_template(data)
            assert field in caught.value.errors
            db.session.rollback()
        assert db.session.execute(sa.select(sa.func.count()).select_from(SmsTemplate)).scalar() == before
        saved = sms_templates.save_template({"name": "复查", "body": "{name}请于{due_date}复查", "active": "y"})
        assert saved.active and saved.hospital_id == hospital("A").id


def test_defaults_are_seeded_once_per_hospital(app, outreach):
    from plugins.followup.outreach.setup import seed_defaults
    with app.app_context(), hospital_scope(hospital("A")):
        names = set(db.session.execute(sa.select(SmsTemplate.name)).scalars())
        assert {"出院关怀", "复诊提醒", "生日祝福"} <= names
        seed_defaults(hospital("A"))
        db.session.commit()
        assert db.session.execute(sa.select(sa.func.count()).select_from(SmsTemplate)).scalar() == len(names)
        for template in db.session.execute(sa.select(SmsTemplate)).scalars():
            check(template.body)  # every default is a valid template


def test_template_pages(client, app, outreach):
    login(client, "a_manager")
    client.post("/language", data={"locale": "en"})
    response = client.post("/followup/sms/templates/new", data={"name": "坏模板", "body": "您好{patient}"})
    assert response.status_code == 400
    assert "Unknown placeholder {patient}" in response.get_data(as_text=True)
    response = client.post("/followup/sms/templates/new", data={"name": "好模板", "body": "{name}您好", "active": "y"})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        template = db.session.execute(sa.select(SmsTemplate).where(SmsTemplate.name == "好模板")).scalar_one()
    page = client.get(f"/followup/sms/templates/preview?template_id={template.id}&q=张三")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "张三您好" in text
    assert "138****5678" in text and "13812345678" not in text  # a manager sees the phone masked
    admin = app.test_client()
    login(admin, "a_admin")  # super_admin holds patients.view_sensitive
    assert "13812345678" in admin.get(f"/followup/sms/templates/preview?template_id={template.id}&q=张三").get_data(
        as_text=True)
    staff = app.test_client()
    login(staff, "a_staff")
    assert staff.get("/followup/sms/templates").status_code == 403
