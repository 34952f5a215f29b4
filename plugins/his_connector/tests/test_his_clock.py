"""The HIS clock is read in the connection's time zone, whatever the HIS server's session zone
(here UTC, as the issue's MariaDB), and "test connection" warns when it disagrees with the data
(issue 21, defect 4)."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.his_connector import services
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Connection
from plugins.his_connector.tests.conftest import connect, sync


def _shanghai_now() -> datetime:
    return datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None, microsecond=0)


def _connection(hospital_id, connection_id):
    return db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one()


def test_recent_local_rows_are_read_although_the_his_server_runs_in_utc(app, hospital, his):
    his.patient("P1", "张三", gxsj=_shanghai_now() - timedelta(minutes=5))  # Asia/Shanghai wall clock
    his.patient("P2", "李四", gxsj=_shanghai_now() + timedelta(minutes=5))  # inside the lag: next time
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",), safety_lag=60)
        run = sync(hospital["a"], connection_id)[0]
        assert (run["status"], run["rows_read"], run["inserted"]) == ("ok", 1, 1)
        assert run["cursor_after"].endswith("/ P1")


def test_connection_test_warns_when_the_his_clock_and_the_newest_cursor_disagree(app, client, hospital, his):
    his.patient("P1", "张三", gxsj=_shanghai_now() - timedelta(minutes=1))
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]):
            connection = _connection(hospital["a"], connection_id)
            good = services.test_connection(connection)
            assert good.ok and good.warnings == [] and connection.last_test_warning is None
            services.update_connection(connection, {"timezone": "UTC"})  # the wrong zone: data is 8 h "ahead"
            wrong = services.test_connection(connection)
            assert wrong.ok and len(wrong.warnings) == 1
            assert "8.0 hours ahead of the HIS clock read in UTC" in str(wrong.warnings[0])
            assert "GXSJ" in str(wrong.warnings[0])
        result = app.test_cli_runner().invoke(his_cli, ["test", "--hospital", "A"])
        assert "warning: The newest GXSJ of the patients query" in result.output
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    page = client.get(f"/his_connector/connections/{connection_id}").get_data(as_text=True)
    assert 'id="test-warning"' in page and "GXSJ" in page
