"""Preview (writes nothing), the ``hcrm his`` commands, the scheduled job and the dashboard card."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core import jobs
from core.extensions import db
from core.models import utcnow
from core.tenancy import hospital_scope
from core.testing import login
from core.testing_queue import drain
from plugins.his_connector import services
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Connection, Run
from plugins.his_connector.tests.conftest import connect, id_number
from plugins.patients.public import Patient


def _connection(connection_id):
    return db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one()


def test_preview_maps_rows_shows_every_error_masks_and_writes_nothing(app, hospital, his):
    his.patient("P1", "张三", SFZH=id_number("19800307", "123"), LXDH="13912345678", gxsj=his.tick())
    his.patient("P2", "李四", XB="5", LXDH="999", gxsj=his.tick())
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]), force_locale("en"):
            preview = services.preview(_connection(connection_id), "patients")
            assert [r.key for r in preview.rows] == ["P1", "P2"]
            first, second = preview.rows
            assert first.errors == [] and first.values["name"] == "张三" and first.values["gender"] == "M"
            assert first.values["phone"] == "139****5678" and first.raw["LXDH"] == "139****5678"
            assert first.values["id_number"] == "4306**********" + id_number("19800307", "123")[-4:]
            assert second.values is None and len(second.errors) == 2
            assert any("code “5”" in e for e in second.errors) and any("999" in e for e in second.errors)
            unmasked = services.preview(_connection(connection_id), "patients", unmasked=True)
            assert unmasked.rows[0].values["phone"] == "13912345678"
            draft = services.preview(_connection(connection_id), "patients", {
                "query": "SELECT BRID, XM, GXSJ FROM MZ_BRXX", "key_column": "BRID", "cursor_column": "GXSJ",
                "fields": {"name": "XM"}}, limit=1)
            assert [r.values for r in draft.rows] == [{"external_id": "P1", "name": "张三"}]
            assert db.session.execute(sa.select(sa.func.count(Patient.id))).scalar_one() == 0
            assert db.session.execute(sa.select(sa.func.count(Run.id))).scalar_one() == 0


def test_cli_sync_runs_and_test(app, hospital, his):
    his.patient("P1", "张三", gxsj=his.tick())
    his.visit(1, "P1", gxsj=his.tick())
    runner = app.test_cli_runner()
    with app.app_context():
        connect(his, hospital["a"])
    result = runner.invoke(his_cli, ["sync", "--hospital", "A"])
    assert result.exit_code == 0, result.output
    assert "HIS/patients: ok — 1 read, 1 inserted" in result.output
    assert "HIS/visits: ok — 1 read, 1 inserted" in result.output
    again = runner.invoke(his_cli, ["sync", "--hospital", "A", "--entity", "visits", "--no-progress"])
    assert again.exit_code == 0 and "HIS/visits: ok — 0 read, 0 inserted" in again.output
    assert "patients" not in again.output
    full = runner.invoke(his_cli, ["sync", "--hospital", "A", "--full", "--no-progress"])
    assert "1 read, 0 inserted, 0 updated, 1 unchanged" in full.output
    runs = runner.invoke(his_cli, ["runs", "--hospital", "A"])
    assert runs.exit_code == 0 and runs.output.count("HIS/") == 5 and " ok " in runs.output
    tested = runner.invoke(his_cli, ["test", "--hospital", "A"])
    assert tested.exit_code == 0 and "OK — Connected to" in tested.output
    preview = runner.invoke(his_cli, ["preview", "--hospital", "A", "--connection", "HIS", "--entity", "patients"])
    assert preview.exit_code == 0 and "P1: external_id=P1, name=张三" in preview.output


def test_cli_names_the_problem(app, hospital, his):
    runner = app.test_cli_runner()
    with app.app_context():
        from core.testing import make_hospital
        make_hospital("C", plugins=["patients"])
    cases = [(["sync", "--hospital", "NOPE"], "no hospital with code 'NOPE'"),
             (["sync", "--hospital", "C"], "not enabled for hospital 'C'"),
             (["sync", "--hospital", "A"], "no enabled HIS connection"),
             (["test", "--hospital", "A", "--connection", "X"], "no HIS connection named 'X'")]
    for args, message in cases:
        result = runner.invoke(his_cli, args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]):
            if his.kind == "sqlite":  # settings refuse a variable for a file now; one saved before still fails clearly
                _connection(connection_id).password_env = "HCRM_HIS_PASSWORD_NO_SUCH_VARIABLE"
                db.session.commit()
            else:
                services.update_connection(_connection(connection_id), {"password_env": "HCRM_HIS_PASSWORD_NO_SUCH_VARIABLE"})
    result = runner.invoke(his_cli, ["sync", "--hospital", "A", "--no-progress"])
    assert result.exit_code != 0 and "HCRM_HIS_PASSWORD_NO_SUCH_VARIABLE" in result.output and "failed" in result.output
    result = runner.invoke(his_cli, ["sync", "--hospital", "A", "--entity", "visits"])
    assert result.exit_code != 0 and "no enabled mapping for visits" in result.output


@pytest.mark.real_commits
def test_the_job_syncs_connections_whose_schedule_is_due(app, hospital, his, start_consumers):
    his.patient("P1", "张三", gxsj=his.tick())
    with app.app_context():
        scheduled = connect(his, hospital["a"], entities=("patients",), schedule_minutes=30)
        with hospital_scope(hospital["a"]):
            manual = services.create_connection({"name": "manual", "source": his.source["name"], "username": his.username})
            manual_id = manual.id
        start_consumers()  # after the source is configured, as workers start after config.yaml
        (scheduling,) = jobs.run_now("his_connector.schedule", hospital_code="A", wait=True, timeout=60)
        assert scheduling.state == "ok"
        tasks = drain(app)
        assert [(t.task, t.state, t.args) for t in tasks[1:]] == [
            ("his_connector.sync", "ok", {"connection_id": scheduled, "trigger": "schedule"})]
        with hospital_scope(hospital["a"]):
            runs = services.list_runs()
            assert [(r.connection_id, r.trigger, r.inserted) for r in runs] == [(scheduled, "schedule", 1)]
            assert services.due_connections() == []
            later = utcnow() + timedelta(minutes=31)
            assert [c.id for c in services.due_connections(later)] == [scheduled]
            assert manual_id not in [c.id for c in services.due_connections(later)]


def test_dashboard_card_shows_the_last_run_and_open_quarantine(app, hospital, his):
    his.patient("P1", "张三", gxsj=his.tick())
    his.patient("P2", "李四", SFZH="123", gxsj=his.tick())
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]):
            services.sync(_connection(connection_id))
            summary = services.last_run_summary()
            assert summary["last"].status == "ok" and summary["open_quarantine"] == 1
            assert summary["failures_7d"] == 0
    admin, staff = app.test_client(), app.test_client()
    for client, user in ((admin, "a_admin"), (staff, "a_staff")):
        login(client, user)
        client.post("/language", data={"locale": "en"})
    page = admin.get("/").get_data(as_text=True)
    assert "HIS sync" in page and "Rows in quarantine" in page
    assert "HIS sync" not in staff.get("/").get_data(as_text=True)  # staff lack his_connector.run


@pytest.mark.real_commits
def test_the_cli_queues_a_sync_for_the_workers(app, hospital, his, start_consumers):
    his.patient("P1", "张三", gxsj=his.tick())
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
    start_consumers()
    result = app.test_cli_runner().invoke(his_cli, ["sync", "--hospital", "A", "--queue"])
    assert result.exit_code == 0 and "HIS: queued as task #" in result.output
    (task,) = drain(app)
    assert (task.task, task.state, task.args["connection_id"], task.args["trigger"]) == (
        "his_connector.sync", "ok", connection_id, "cli")
    with app.app_context(), hospital_scope(hospital["a"]):
        assert [r.trigger for r in services.list_runs()] == ["cli"]
        assert db.session.execute(sa.select(Patient.external_id)).scalars().all() == ["P1"]
