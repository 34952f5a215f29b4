"""`hcrm init --demo` gives the HIS connector a demo HIS (a SQLite file under the instance folder)
with a connection and mappings: a newcomer can preview and sync from the web UI at once."""
import pytest
import sqlalchemy as sa

from core.demo import DEMO_PASSWORD, load_demo
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login, make_hospital
from plugins.his_connector import demo, services
from plugins.his_connector.models import Connection, Mapping, Quarantine
from plugins.his_connector.testing import allow_sources
from plugins.patients.public import Patient, Visit

# As config.yaml gives it to the demo hospital.
DEMO_SOURCE = {"name": "demo-his", "title": "演示HIS", "dialect": "sqlite", "database": "demo_his_demo1.sqlite3"}


@pytest.fixture
def demo_hospital(app, tmp_path, monkeypatch):
    with app.app_context():
        hospital = make_hospital("DEMO1", "示范第一医院", plugins=["his_connector"])
        allow_sources(hospitals={"DEMO1": [DEMO_SOURCE]}, sqlite_dir=str(tmp_path))
        load_demo(hospital)
        yield hospital.id


def test_the_demo_sets_up_a_his_once(app, demo_hospital, tmp_path):
    with app.app_context(), hospital_scope(demo_hospital):
        connection = db.session.execute(sa.select(Connection)).scalar_one()
        assert connection.name == demo.CONNECTION_NAME and connection.password_env is None
        assert services.connection_password_state(connection) == "none"
        assert sorted(m.entity for m in connection.mappings) == ["patients", "visits"]
        assert (tmp_path / "demo_his_demo1.sqlite3").exists()
        first = (connection.id, [m.id for m in connection.mappings])
        hospital = connection.hospital_id
    with app.app_context():
        from core.models import Hospital
        load_demo(db.session.get(Hospital, hospital))  # again: nothing new
        with hospital_scope(demo_hospital):
            connections = db.session.execute(sa.select(Connection)).scalars().all()
            assert [(c.id, [m.id for m in c.mappings]) for c in connections] == [first]
            assert db.session.execute(sa.select(sa.func.count(Mapping.id))).scalar() == 2


def test_syncing_the_demo_his_brings_patients_and_visits_and_quarantines_the_bad_rows(app, demo_hospital):
    with app.app_context(), hospital_scope(demo_hospital):
        connection = db.session.execute(sa.select(Connection)).scalar_one()
        assert services.test_connection(connection).ok
        preview = services.preview(connection, "patients", limit=50)
        assert len(preview.rows) == 50 and sum(1 for r in preview.rows if r.errors) >= 2
        before = db.session.execute(sa.select(sa.func.count(Patient.id))).scalar()
        runs = services.sync(connection)
        assert [r.status for r in runs] == ["ok", "ok"]
        patients, visits = runs
        assert patients.rows_read == demo.PATIENTS and patients.inserted == demo.PATIENTS - 3
        assert patients.quarantined == 3
        assert visits.inserted > demo.PATIENTS and visits.quarantined >= 2
        synced = db.session.execute(sa.select(sa.func.count(Patient.id))
                                    .where(Patient.external_id.isnot(None))).scalar()
        assert synced == demo.PATIENTS - 3
        assert db.session.execute(sa.select(sa.func.count(Patient.id))).scalar() == before + synced
        assert db.session.execute(sa.select(sa.func.count(Visit.id))
                                  .where(Visit.external_id.isnot(None))).scalar() == visits.inserted
        reasons = db.session.execute(sa.select(Quarantine.reason)).scalars().all()
        assert len(reasons) == patients.quarantined + visits.quarantined
        again = services.sync(connection)
        assert [r.rows_read for r in again] == [0, 0]


@pytest.mark.real_commits
def test_the_demo_can_be_synced_from_the_page(app, client, demo_hospital, start_consumers):
    from core.testing_queue import drain
    start_consumers()  # they get the demo's source, configured by demo_hospital
    with app.app_context(), hospital_scope(demo_hospital):
        connection_id = db.session.execute(sa.select(Connection.id)).scalar_one()
    login(client, "demo1_super_admin", DEMO_PASSWORD)
    assert demo.CONNECTION_NAME in client.get("/his_connector/connections").get_data(as_text=True)
    mapping = client.get(f"/his_connector/connections/{connection_id}/mappings/visits").get_data(as_text=True)
    assert "ZY_JZJL" in mapping and "尚未读取" in mapping
    response = client.post("/his_connector/runs/start", data={"connection_id": connection_id, "entity": ""})
    assert response.status_code == 302
    assert [t.state for t in drain(app)] == ["ok"]
    with app.app_context(), hospital_scope(demo_hospital):
        assert db.session.execute(sa.select(sa.func.count(Visit.id)).where(Visit.external_id.isnot(None))).scalar() > 0
    runs = client.get("/his_connector/runs").get_data(as_text=True)
    assert "成功" in runs


def test_a_sqlite_source_refuses_a_password_variable(app, demo_hospital):
    with app.app_context(), hospital_scope(demo_hospital):
        connection = db.session.execute(sa.select(Connection)).scalar_one()
        with pytest.raises(services.HisError) as refused:
            services.update_connection(connection, {"password_env": "HCRM_HIS_PASSWORD_DEMO"})
        assert refused.value.errors["password_env"] == "A SQLite file has no password: leave the password variable empty."
        db.session.rollback()
        assert db.session.get(Connection, connection.id).password_env is None
