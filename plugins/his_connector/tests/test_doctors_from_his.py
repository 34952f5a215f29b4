"""Doctors from the HIS's staff table (issue 21, friction): a HIS whose visits name their doctor
by code gets the code → name table from the HIS itself, previewed first, so synced visits carry
the attending doctor's name without anybody typing the table in."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Mapping
from plugins.his_connector.tests.conftest import VISIT_FIELDS, connect, sync
from plugins.patients.public import Visit

pytestmark = pytest.mark.real_commits
STAFF = "SELECT YSDM, YSXM FROM DICT_YS"


@pytest.fixture
def staff_table(his_file):
    his_file.run("CREATE TABLE DICT_YS (YSDM VARCHAR(10) PRIMARY KEY, YSXM VARCHAR(80))")
    his_file.insert("DICT_YS", [{"YSDM": "D01", "YSXM": "王建国"}, {"YSDM": "D02", "YSXM": "李芳"},
                                {"YSDM": "D03", "YSXM": ""}])
    yield his_file
    his_file.run("DROP TABLE DICT_YS")


def _doctors(app, hospital_id):
    with app.app_context(), hospital_scope(hospital_id):
        return dict(db.session.execute(sa.select(Visit.external_id, Visit.doctor_name)).all())


def test_visits_carry_the_doctor_named_by_the_his_staff_table(app, hospital, staff_table):
    his_file = staff_table
    his_file.patient("P1", "张三")
    his_file.tick()
    his_file.visit(1001, "P1", YSXM="D01")  # the HIS's visits hold the doctor's code
    his_file.visit(1002, "P1", YSXM="D02")
    fields = {**VISIT_FIELDS, "doctor_name": {"column": "YSXM", "codes": {"D02": "李医生"}}}
    runner = app.test_cli_runner()
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], visit_fields=fields, safety_lag=0)
        assert sync(hospital["a"], connection_id)[1]["quarantined"] == 1  # D01: not in the typed table
        preview = runner.invoke(his_cli, ["doctors", "--hospital", "A", "--connection", "HIS", "--query", STAFF])
        assert preview.exit_code == 0, preview.output
        assert "D01\t王建国\t(to add)" in preview.output and "D02\t李芳\t(name changed)" in preview.output
        assert "D03\t\t(skipped: no name" in preview.output and "nothing written" in preview.output
        with hospital_scope(hospital["a"]):
            mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "visits")).scalar_one()
            assert mapping.fields["doctor_name"]["codes"] == {"D02": "李医生"}  # a preview writes nothing
        done = runner.invoke(his_cli, ["doctors", "--hospital", "A", "--connection", "HIS", "--query", STAFF,
                                       "--apply"])
        assert done.exit_code == 0 and "1 doctors added, 1 renamed" in done.output, done.output
        sync(hospital["a"], connection_id, entities=["visits"], full=True)
    assert _doctors(app, hospital["a"]) == {"1001": "王建国", "1002": "李芳"}


def test_a_doctor_import_needs_a_doctor_column_and_a_code_name_query(app, hospital, staff_table):
    runner = app.test_cli_runner()
    with app.app_context():
        connect(staff_table, hospital["a"], visit_fields=VISIT_FIELDS, safety_lag=0)  # doctor_name: a plain column
        with hospital_scope(hospital["a"]):
            mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "visits")).scalar_one()
            mapping.fields = {k: v for k, v in mapping.fields.items() if k != "doctor_name"}
            db.session.commit()
        missing = runner.invoke(his_cli, ["doctors", "--hospital", "A", "--connection", "HIS", "--query", STAFF])
        assert missing.exit_code != 0 and "no doctor column" in missing.output
        with hospital_scope(hospital["a"]):
            mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "visits")).scalar_one()
            mapping.fields = {**mapping.fields, "doctor_name": "YSXM"}
            db.session.commit()
        one = runner.invoke(his_cli, ["doctors", "--hospital", "A", "--connection", "HIS", "--query",
                                      "SELECT YSDM FROM DICT_YS", "--apply"])
        assert one.exit_code != 0 and "two columns" in one.output
        writes = runner.invoke(his_cli, ["doctors", "--hospital", "A", "--connection", "HIS", "--query",
                                         "DELETE FROM DICT_YS"])
        assert writes.exit_code != 0
    assert staff_table.run("SELECT COUNT(*) FROM DICT_YS").scalar() == 3


def test_the_doctors_page_previews_then_imports(app, client, hospital, staff_table):
    fields = {**VISIT_FIELDS, "doctor_name": {"column": "YSXM"}}
    with app.app_context():
        connection_id = connect(staff_table, hospital["a"], visit_fields=fields, safety_lag=0)
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    assert f"/his_connector/connections/{connection_id}/doctors" in client.get(
        f"/his_connector/connections/{connection_id}").get_data(as_text=True)
    url = f"/his_connector/connections/{connection_id}/doctors"
    page = client.post(url, data={"query": STAFF, "action": "preview"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="doctor-preview"' in text
    assert "王建国" in text and "will be added" in text and "skipped: no name" in text
    bad = client.post(url, data={"query": "DELETE FROM DICT_YS", "action": "preview"})
    assert bad.status_code == 400
    done = client.post(url, data={"query": STAFF, "action": "import"})
    assert done.status_code == 302
    with app.app_context(), hospital_scope(hospital["a"]):
        mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "visits")).scalar_one()
        assert mapping.fields["doctor_name"] == {"column": "YSXM", "codes": {"D01": "王建国", "D02": "李芳"}}
