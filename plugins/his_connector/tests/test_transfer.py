"""hcrm his export|import (issue 21, friction): a connection and its mappings as YAML without
secrets, imported for a second hospital in one command; an invalid file writes nothing."""
import pytest
import sqlalchemy as sa
import yaml

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.his_connector.cli import his_cli
from plugins.his_connector.models import Connection, Mapping
from plugins.his_connector.tests.conftest import connect, sync

pytestmark = pytest.mark.real_commits


def test_a_connection_exported_from_one_hospital_is_imported_by_another(app, hospital, his_file, tmp_path):
    his_file.patient("P1", "张三")
    his_file.tick()
    his_file.visit(1001, "P1")
    runner = app.test_cli_runner()
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], unknown_diagnoses="add", schedule_minutes=15)
        sync(hospital["a"], connection_id)
        exported = runner.invoke(his_cli, ["export", "--hospital", "A", "--connection", "HIS"])
        assert exported.exit_code == 0, exported.output
        document = yaml.safe_load(exported.output)
        assert document["settings"]["source"] == his_file.source["name"] and "url" not in exported.output.lower()
        assert set(document["mappings"]) == {"patients", "visits"}
        assert "cursor_value" not in exported.output and "password" not in str(document["settings"]).replace(
            "password_env", "")
        path = tmp_path / "his.yaml"
        path.write_text(exported.output, encoding="utf-8")

        broken = tmp_path / "broken.yaml"
        bad = yaml.safe_load(exported.output)
        bad["mappings"]["visits"]["fields"]["status"]["codes"]["2"] = "gone"
        broken.write_text(yaml.safe_dump(bad, allow_unicode=True), encoding="utf-8")
        refused = runner.invoke(his_cli, ["import", str(broken), "--hospital", "B"])
        assert refused.exit_code == 1 and "nothing was written" in refused.output and "gone" in refused.output
        with hospital_scope(hospital["b"]):
            assert db.session.execute(sa.select(Connection)).first() is None

        unknown_source = runner.invoke(his_cli, ["import", str(path), "--hospital", "B", "--source", "nowhere"])
        assert unknown_source.exit_code == 1 and "nothing was written" in unknown_source.output

        done = runner.invoke(his_cli, ["import", str(path), "--hospital", "B", "--name", "HIS 乙"])
        assert done.exit_code == 0, done.output
        with hospital_scope(hospital["b"]):
            connection = db.session.execute(sa.select(Connection)).scalar_one()
            mappings = {m.entity: m for m in db.session.execute(sa.select(Mapping)).scalars()}
            assert (connection.name, connection.unknown_diagnoses, connection.schedule_minutes) == ("HIS 乙", "add", 15)
            assert set(mappings) == {"patients", "visits"} and mappings["visits"].cursor_value is None
        runs = sync(hospital["b"], connection.id)
        assert [(r["status"], r["inserted"]) for r in runs] == [("ok", 1), ("ok", 1)]
        assert runner.invoke(his_cli, ["import", str(tmp_path / "none.yaml"), "--hospital", "B"]).exit_code == 2
