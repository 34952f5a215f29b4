"""Departments from the HIS's own code table (issue 21, friction): previewed, then created and
mapped in one step, so that nobody types them in by hand; from the CLI too."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import Department
from core.tenancy import hospital_scope
from core.testing import login
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Mapping
from plugins.his_connector.tests.conftest import VISIT_FIELDS, connect, sync
from plugins.patients.public import Visit

pytestmark = pytest.mark.real_commits
CODE_TABLE = "SELECT KSDM, KSMC FROM DICT_KS"


@pytest.fixture
def code_table(his_file):
    his_file.insert("DICT_KS", [{"KSDM": "0401", "KSMC": "骨科"}])  # our ORTH by its name
    yield his_file
    his_file.run("DELETE FROM DICT_KS WHERE KSDM = '0401'")


def test_departments_come_from_the_his_code_table_with_a_preview(app, client, hospital, code_table):
    his_file = code_table
    his_file.patient("P1", "张三")
    his_file.tick()
    his_file.visit(1001, "P1", KSDM="0301")
    his_file.visit(1002, "P1", KSDM="0201")
    fields = {**VISIT_FIELDS, "department": {"column": "KSDM"}}  # no code table typed in
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], visit_fields=fields, safety_lag=0)
        assert sync(hospital["a"], connection_id)[1]["quarantined"] == 2  # 0301, 0201: not our codes
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    url = f"/his_connector/connections/{connection_id}/departments"
    assert client.get(url).status_code == 200
    page = client.post(url, data={"query": CODE_TABLE, "entity": "visits", "action": "preview"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="department-preview"' in text
    assert "体检中心" in text and "will be created" in text and "same name here" in text
    with app.app_context(), hospital_scope(hospital["a"]):
        assert db.session.execute(sa.select(Department).where(Department.code == "0301")).first() is None
    bad = client.post(url, data={"query": "DELETE FROM DICT_KS", "entity": "visits", "action": "preview"})
    assert bad.status_code == 400
    done = client.post(url, data={"query": CODE_TABLE, "entity": "visits", "action": "import"})
    assert done.status_code == 302
    with app.app_context():
        with hospital_scope(hospital["a"]):
            created = db.session.execute(sa.select(Department.code, Department.name)
                                         .where(Department.code.in_(["0101", "0301"]))).all()
            codes = {m.entity: m.fields["department"].get("codes")
                     for m in db.session.execute(sa.select(Mapping)).scalars()}
        assert sorted(created) == [("0301", "体检中心")]  # 0101 and 0201 are in the patients mapping's table
        assert codes["visits"] == {"0101": "ORTH", "0201": "NEURO", "0301": "0301", "0401": "ORTH"}
        assert codes["patients"]["0301"] == "0301"  # the patients mapping's table gets them too
        sync(hospital["a"], connection_id, entities=["visits"], full=True)
        with hospital_scope(hospital["a"]):
            departments = dict(db.session.execute(sa.select(Visit.external_id, Department.code)
                                                  .join(Department, Department.id == Visit.department_id)).all())
        assert departments == {"1001": "0301", "1002": "NEURO"}
        again = app.test_cli_runner().invoke(his_cli, ["departments", "--hospital", "A", "--connection", "HIS",
                                                       "--from-mapping", "visits"])
        assert again.exit_code == 0 and "0301\t0301\t→ 0301 (already in the code table)" in again.output
