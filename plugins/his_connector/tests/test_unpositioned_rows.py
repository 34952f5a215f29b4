"""Rows the keyset cannot position (an empty cursor or key) are never read — and the run log, the
run page, the CLI and the preview say how many and why (issue 21, defect 5)."""
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.his_connector import services
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Connection
from plugins.his_connector.tests.conftest import connect, sync


def test_rows_with_an_empty_cursor_are_counted_with_the_reason(app, client, hospital, his):
    his.patient("P1", "张三")
    his.patient("P2", "李四", GXSJ=None)
    his.patient("P3", "王五", GXSJ=None)
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",), safety_lag=0)
        run = sync(hospital["a"], connection_id)[0]
        assert (run["status"], run["rows_read"], run["inserted"]) == ("ok", 1, 1)
        with hospital_scope(hospital["a"]):
            connection = db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one()
            assert services.list_runs(connection)[0].skipped == 2
            preview = services.preview(connection, "patients")
            assert preview.skipped == 2 and [r.key for r in preview.rows] == ["P1"]
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    page = client.get(f"/his_connector/runs/{run['id']}").get_data(as_text=True)
    assert "2 rows were not read" in page and "GXSJ" in page
    listed = client.get("/his_connector/runs").get_data(as_text=True)
    assert "2 rows were not read" in listed
    result = app.test_cli_runner().invoke(his_cli, ["preview", "--hospital", "A", "--connection", "HIS",
                                                    "--entity", "patients"])
    assert "2 rows of the query have an empty cursor or key column" in result.output
    runs = app.test_cli_runner().invoke(his_cli, ["runs", "--hospital", "A"])
    assert "2 not read (empty cursor GXSJ or key BRID)" in runs.output
