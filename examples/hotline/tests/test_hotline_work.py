"""The hotline beyond its pages: event and typed hook, report, dashboard card, jobs, CLI, demo data."""
from datetime import timedelta

import sqlalchemy as sa
from hcrm_hotline import jobs, services
from hcrm_hotline.cli import hotline_cli
from hcrm_hotline.models import Call
from hotline_testing import PHONE, PLUGINS, add_patient, sign_in

from core.demo import load_demo
from core.extensions import db
from core.manifest import builtin_candidates, entry_point_candidates
from core.models import Hospital, utcnow
from core.queue import TaskRecord
from core.tenancy import hospital_scope, system_scope
from core.testing import make_app, make_hospital, make_user, write_plugin

LISTENER = '''
from markupsafe import Markup

from core import hookimpl
from core.declarations import Panel

heard = []


@hookimpl
def hotline_call_received(call):
    heard.append((call.phone, call.topic))


@hookimpl
def hcrm_panels():
    return [Panel("hotline_listener.echo", target="hotline.call", title="Echo", permission="hotline.read",
                  render=lambda call: Markup("<p>echo: %s</p>") % call.topic)]
'''


def record(hospital_id, phone=PHONE, topic="Results?"):
    with hospital_scope(hospital_id):
        return services.record_call(phone, topic).id


def patient_of(hospital_id, call_id):
    with hospital_scope(hospital_id):
        return db.session.execute(sa.select(Call.patient_id).where(Call.id == call_id)).scalar_one()


def test_a_plugin_depending_on_the_hotline_hears_each_call(app, tmp_path, monkeypatch):
    write_plugin(tmp_path, "hotline_listener", LISTENER, depends=["hotline"])
    monkeypatch.syspath_prepend(str(tmp_path))

    def finder():  # the installed plugins (the hotline among them) and the listener
        third_party, problems = entry_point_candidates()
        listener = (tmp_path / "hotline_listener", "hotline_listener", "hcrm-test-plugins")
        return builtin_candidates() + third_party + [listener], problems

    listening = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder)
    from hotline_listener import heard
    with listening.app_context():
        hospital = make_hospital("L", plugins=PLUGINS + ["hotline_listener"])
        make_user(hospital, "l_admin", ("super_admin",))
        call = record(hospital.id, topic="<b>Heard?</b>")
    assert heard == [(PHONE, "<b>Heard?</b>")]
    client = listening.test_client()  # its panel, on the call page the hotline declares as a target
    sign_in(client, "l_admin")
    assert "<p>echo: &lt;b&gt;Heard?&lt;/b&gt;</p>" in client.get(f"/hotline/{call}").get_data(as_text=True)


def test_a_new_patient_gets_the_earlier_calls_from_their_number(app, clinic):
    with app.app_context():
        call = record(clinic["a"], phone="13900000000")
        assert patient_of(clinic["a"], call) is None
        patient = add_patient(clinic["a"], "李四", "13900000000")  # patients.patient_created
        assert patient_of(clinic["a"], call) == patient


def test_the_periodic_job_links_calls_a_staff_user_could_not(app, client, clinic):
    sign_in(client, "a_staff")  # sees only their own patients: the call stays unlinked
    client.post("/hotline/new", data={"phone": PHONE, "topic": "Results?"})
    with app.app_context(), hospital_scope(clinic["a"]):
        call = db.session.execute(sa.select(Call)).scalar_one()
        assert call.patient_id is None
        jobs.link_unlinked_calls(None)  # what the worker runs, in the hospital's scope
        db.session.flush()
        assert call.patient_id == clinic["patient"]


def test_the_retag_task_is_queued_from_the_list_and_tags_the_calls(app, client, clinic):
    with app.app_context():
        first, second = record(clinic["a"]), record(clinic["a"], topic="Again")
        other = record(clinic["a"], phone="13900000000")
    sign_in(client, "a_admin")
    response = client.post("/hotline/retag", data={"phone": PHONE, "tag": "VIP"}, follow_redirects=True)
    assert "are being tagged in the background" in response.get_data(as_text=True)
    with app.app_context():
        with hospital_scope(clinic["a"]):
            task = db.session.execute(sa.select(TaskRecord).where(TaskRecord.task == "hotline.retag")).scalar_one()
            assert (task.state, sorted(task.args["call_ids"]), task.args["tag"]) == ("queued", sorted([first, second]), "VIP")
            jobs.retag_calls(None, **task.args)  # what the worker runs
            tags = dict(db.session.execute(sa.select(Call.id, Call.tag)).all())
    assert tags == {first: "VIP", second: "VIP", other: None}
    response = client.post("/hotline/retag", data={"phone": PHONE, "tag": ""}, follow_redirects=True)
    assert "Enter a tag of at most 32 characters." in response.get_data(as_text=True)
    staff = app.test_client()
    sign_in(staff, "a_staff")  # not a supervisor: may not tag
    assert staff.post("/hotline/retag", data={"phone": PHONE, "tag": "X"}).status_code == 403


def test_the_report_counts_calls_per_hospital_day(app, client, clinic):
    with app.app_context():
        record(clinic["a"])
        record(clinic["a"])
        record(clinic["b"])
        with hospital_scope(clinic["a"]):
            db.session.add(Call(phone=PHONE, topic="Long ago", received_at=utcnow() - timedelta(days=90)))
            db.session.commit()
    sign_in(client, "a_admin")
    page = client.get("/reports/hotline.calls_per_day").get_data(as_text=True)
    assert "Hotline calls per day" in page
    csv = client.get("/reports/hotline.calls_per_day.csv").get_data(as_text=True)
    rows = [line.split(",") for line in csv.strip().splitlines()[1:]]
    assert [int(calls) for _day, calls in rows] == [2]


def test_the_dashboard_card_counts_todays_calls_and_links_to_them(app, client, clinic):
    with app.app_context():
        record(clinic["a"])
        record(clinic["b"])
    sign_in(client, "a_admin")
    page = client.get("/").get_data(as_text=True)
    assert "Hotline calls today" in page and "/hotline/?since=" in page


def test_the_cli_records_a_call_and_refuses_bad_input(app, clinic):
    runner = app.test_cli_runner()
    result = runner.invoke(hotline_cli, ["record", PHONE, "Called from the switchboard", "--hospital", "A"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("recorded call ")
    assert runner.invoke(hotline_cli, ["record", PHONE, "x", "--hospital", "NOPE"]).exit_code == 1
    bad = runner.invoke(hotline_cli, ["record", "12ab", "x", "--hospital", "A"])
    assert bad.exit_code == 1 and "Error:" in bad.output
    with app.app_context():
        make_hospital("OFF", plugins=PLUGINS[:1])
    off = runner.invoke(hotline_cli, ["record", PHONE, "x", "--hospital", "OFF"])
    assert off.exit_code == 1 and "not enabled" in off.output
    with app.app_context(), hospital_scope(clinic["a"]):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one() == 1


def test_demo_data_is_loaded_once(app):
    with app.app_context():
        hospital = make_hospital("D", plugins=PLUGINS)
        load_demo(hospital)
        load_demo(hospital)
        with hospital_scope(hospital):
            assert db.session.execute(sa.select(sa.func.count()).select_from(Call)).scalar_one() == 2


def test_a_group_administrators_task_runs_in_the_hospital_they_switched_to(app, client, clinic):
    with app.app_context():
        record(clinic["b"])
        with system_scope():
            hospital_a = db.session.get(Hospital, clinic["a"])
        make_user(hospital_a, "group_admin", ("super_admin",), group_admin=True)  # of hospital A
    sign_in(client, "group_admin")
    assert client.post("/hospital", data={"hospital_id": clinic["b"]}).status_code == 302
    client.post("/hotline/retag", data={"phone": PHONE, "tag": "B"})
    with app.app_context(), system_scope():
        task = db.session.execute(sa.select(TaskRecord).where(TaskRecord.task == "hotline.retag")).scalar_one()
        assert task.hospital_id == clinic["b"]
