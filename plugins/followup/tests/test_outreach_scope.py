"""Data scope in outreach: the SMS log follows the patient list's rule (a message is seen by whoever
may see its patient), rounds and their surveys follow their plan, and a row the scope hides is a
404 — never a page that crashes on the missing parent."""
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import api_token, login, make_user
from plugins.followup.models import Questionnaire, Round
from plugins.followup.outreach import sms, surveys
from plugins.followup.outreach.setup import QUESTIONNAIRE_NAME
from plugins.followup.tests.dashboard_cards import card_links
from plugins.followup.tests.outreach_fixtures import hospital, plan_and_round, user
from plugins.patients import public as patient_services
from plugins.patients.public import Patient


def own_patient_and_messages(app, outreach) -> dict:
    """孙八, owned by a_staff, and one message to him and one to 张三 (who is nobody's)."""
    with app.app_context():
        with hospital_scope(hospital("A"), user=user("a_staff")):
            sun = patient_services.create_patient({"name": "孙八", "phone": "13811112222"}, allow_duplicate=True)
            db.session.commit()
            sun_id = sun.id
        with hospital_scope(hospital("A")):
            mine = sms.queue_message(db.session.get(Patient, sun_id), "孙八您好，请按时复诊")
            other = sms.queue_message(db.session.get(Patient, outreach["zhang"]), "张三您好，术后第七天请复查")
            db.session.commit()
            return {"sun": sun_id, "mine": mine.id, "other": other.id}


def test_own_scope_staff_see_only_their_patients_messages_in_the_log_page(app, client, outreach):
    made = own_patient_and_messages(app, outreach)
    login(client, "a_staff")
    page = client.get("/followup/sms/").get_data(as_text=True)
    assert "孙八您好" in page and "张三您好" not in page
    assert client.get(f"/followup/sms/?patient_id={outreach['zhang']}").status_code == 404
    assert client.post(f"/followup/sms/messages/{made['other']}/cancel").status_code == 404
    manager = app.test_client()
    login(manager, "a_manager")  # department scope: 张三 is a patient of the orthopaedics department
    page = manager.get("/followup/sms/").get_data(as_text=True)
    assert "张三您好" in page and "孙八您好" not in page  # 孙八 has no department and is not the manager's
    admin = app.test_client()
    login(admin, "a_admin")
    page = admin.get("/followup/sms/").get_data(as_text=True)
    assert "张三您好" in page and "孙八您好" in page


def test_own_scope_staff_see_only_their_patients_messages_in_the_api(app, client, outreach):
    made = own_patient_and_messages(app, outreach)
    staff = api_token(client, "a_staff")
    listed = client.get("/api/v1/followup/sms/messages", headers=staff).get_json()
    assert [m["id"] for m in listed["items"]] == [made["mine"]] and listed["total"] == 1
    assert listed["items"][0]["patient"] == {"id": made["sun"], "name": "孙八"}
    assert listed["items"][0]["phone"] == "138****2222"  # masked without patients.view_sensitive
    assert client.get(f"/api/v1/followup/sms/messages?patient_id={outreach['zhang']}",
                      headers=staff).status_code == 404
    admin = api_token(client, "a_admin")
    everything = client.get("/api/v1/followup/sms/messages?status=queued", headers=admin).get_json()
    assert {m["id"] for m in everything["items"]} == {made["mine"], made["other"]}
    other_hospital = client.get("/api/v1/followup/sms/messages", headers=api_token(client, "b_admin")).get_json()
    assert other_hospital["items"] == [] and other_hospital["total"] == 0
    bad = client.get("/api/v1/followup/sms/messages?status=lost&since=2026-02-30", headers=admin)
    assert bad.status_code == 400 and set(bad.get_json()["error"]["fields"]) == {"status", "since"}


def test_the_sms_card_counts_what_the_log_it_opens_lists(app, client, outreach):
    own_patient_and_messages(app, outreach)
    login(client, "a_staff")
    links = {url.split("&")[0]: (url, number) for _label, url, number in card_links(client.get("/").get_data(as_text=True))}
    waiting_link, waiting = links["/followup/sms/?status=queued"]
    assert waiting == 1 and "since=" in waiting_link  # before: the hospital's 2 messages
    listed = client.get(waiting_link).get_data(as_text=True)
    assert "孙八您好" in listed and "张三您好" not in listed


def test_survey_pages_of_a_round_the_scope_hides_are_404(app, client, outreach):
    with app.app_context():
        make_user(hospital("A"), "a_staff2", ("staff",))
        with hospital_scope(hospital("A")):
            questionnaire_id = db.session.execute(
                sa.select(Questionnaire.id).where(Questionnaire.name == QUESTIONNAIRE_NAME)).scalar_one()
        # a_staff's plan and round, for 张三, whom a_staff does not own.
        _plan_id, round_id = plan_and_round("A", outreach["zhang"], questionnaire_id=questionnaire_id)
        with hospital_scope(hospital("A")):
            items = db.session.get(Questionnaire, questionnaire_id).items
            answers = {item.question_id: 4 for item in items if item.question.kind == "scale"}
            answers[next(item.question_id for item in items if item.question.kind == "single")] = "愿意"
            response_id = surveys.record_response(db.session.get(Round, round_id), answers).id
            db.session.commit()
    other = app.test_client()
    login(other, "a_staff2")
    assert other.get(f"/followup/surveys/rounds/{round_id}").status_code == 404
    assert other.post(f"/followup/surveys/rounds/{round_id}", data={}).status_code == 404
    assert other.get(f"/followup/surveys/responses/{response_id}").status_code == 404
    # The assignee opens their round although their scope hides 张三's record: his name comes
    # from the plan's brief, not from the record.
    login(client, "a_staff")
    page = client.get(f"/followup/surveys/rounds/{round_id}")
    assert page.status_code == 200 and "张三" in page.get_data(as_text=True)
    assert client.get(f"/followup/surveys/responses/{response_id}").status_code == 200
