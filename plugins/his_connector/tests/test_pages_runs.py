"""Starting a sync from the web, the run log and the quarantine pages (a SQLite file as the HIS)."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import Hospital, Role, User, utcnow
from core.tenancy import hospital_scope
from core.testing import login, make_user
from core.testing_queue import drain
from plugins.his_connector import services
from plugins.his_connector.models import Connection, Mapping, Quarantine, Run
from plugins.his_connector.tests.conftest import connect, id_number, sync
from plugins.patients.public import Patient

pytestmark = pytest.mark.real_commits

BAD_ID = "430621198003071230"  # wrong check digit


@pytest.fixture
def his_file(sqlite_his):
    sqlite_his.clear()
    yield sqlite_his
    sqlite_his.clear()


def _wait_for_background_syncs(app):
    return drain(app)


def _runs(app, hospital_id):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(Run).order_by(Run.id)).scalars().all()


def _user_with(app, hospital_id, username, permissions):
    """A user of a role holding exactly ``permissions`` (e.g. HIS work without patients.view_sensitive)."""
    with app.app_context():
        with hospital_scope(hospital_id):
            role = Role(hospital_id=hospital_id, code=username + "_role", name=username)
            role.set_permissions(permissions)
            db.session.add(role)
            db.session.commit()
        make_user(db.session.get(Hospital, hospital_id), username, (username + "_role",))


def _setup(app, his, hospital):
    his.patient("P1", "张三", SFZH=id_number("19800307", "123"), LXDH="13800138000")
    his.patient("P2", "李四", SFZH=BAD_ID, LXDH="13900139000")
    his.tick()
    his.visit(1001, "P1")
    with app.app_context():
        return connect(his, hospital["a"], safety_lag=0)


@pytest.mark.real_commits  # the page queues the sync for a consumer process
def test_sync_now_runs_in_the_background_and_the_run_log_shows_it(app, client, hospital, his_file, start_consumers):
    connection_id = _setup(app, his_file, hospital)
    start_consumers()
    login(client, "a_admin")
    page = client.get("/his_connector/runs").get_data(as_text=True)
    assert "立即同步" in page and "后台" in page and "还没有同步记录" in page
    response = client.post("/his_connector/runs/start", data={"connection_id": connection_id, "entity": ""})
    assert response.status_code == 302 and f"connection={connection_id}" in response.headers["Location"]
    _wait_for_background_syncs(app)
    runs = _runs(app, hospital["a"])
    assert [(r.entity, r.status, r.trigger, r.rows_read, r.inserted, r.quarantined) for r in runs] == [
        ("patients", "ok", "web", 2, 1, 1), ("visits", "ok", "web", 1, 1, 0)]
    with app.app_context(), hospital_scope(hospital["a"]):
        admin = db.session.execute(sa.select(User).where(User.username == "a_admin")).scalar_one()
        assert {r.user_id for r in runs} == {admin.id}
        assert db.session.execute(sa.select(Patient.external_id)).scalars().all() == ["P1"]
    page = client.get(f"/his_connector/runs?connection={connection_id}").get_data(as_text=True)
    assert "成功" in page and "网页" in page and 'http-equiv="refresh"' not in page
    detail = client.get(f"/his_connector/runs/{runs[0].id}").get_data(as_text=True)
    assert "本次同步隔离的行" in detail and "P2" in detail and "李四" in detail
    assert "13900139000" in detail  # the administrator holds patients.view_sensitive


def test_a_running_run_refreshes_the_page_and_blocks_a_second_start(app, client, hospital, his_file):
    connection_id = _setup(app, his_file, hospital)
    with app.app_context(), hospital_scope(hospital["a"]):  # another process is syncing: it holds the lock
        services.claim_sync(db.session.get(Connection, connection_id))
        mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "patients")).scalar_one()
        db.session.add(Run(hospital_id=hospital["a"], connection_id=connection_id, mapping_id=mapping.id,
                           entity="patients", trigger="cli", status="running", started_at=utcnow(), rows_read=15000))
        db.session.commit()
    login(client, "a_admin")
    page = client.get("/his_connector/runs").get_data(as_text=True)
    assert 'http-equiv="refresh"' in page and "进行中" in page and "15,000" in page
    response = client.post("/his_connector/runs/start", data={"connection_id": connection_id, "entity": "visits"})
    assert response.status_code == 409 and "正在进行" in response.get_data(as_text=True)
    assert len(_runs(app, hospital["a"])) == 1
    delete = client.post(f"/his_connector/connections/{connection_id}/delete", follow_redirects=True)
    assert "请等其结束后再删除连接" in delete.get_data(as_text=True)


def test_bad_sync_requests_say_what_is_wrong_and_start_nothing(app, client, hospital, his_file, monkeypatch):
    connection_id = _setup(app, his_file, hospital)
    with app.app_context():
        other = connect(his_file, hospital["b"], entities=())
    login(client, "a_admin")
    cases = [({"connection_id": connection_id, "entity": "bogus"}, 400, "请选择同步内容"),
             ({"connection_id": other, "entity": ""}, 400, "请选择本院的一个连接"),
             ({"connection_id": "x", "entity": ""}, 400, "请选择本院的一个连接"),
             ({"connection_id": connection_id, "entity": "charges"}, 409, "没有对应的已启用映射")]
    for data, status, message in cases:
        response = client.post("/his_connector/runs/start", data=data)
        assert response.status_code == status, data
        assert message in response.get_data(as_text=True), data
    with app.app_context(), hospital_scope(hospital["a"]):
        db.session.get(Connection, connection_id).password_env = "HCRM_HIS_PASSWORD_NOT_THERE"
        db.session.commit()
    monkeypatch.delenv("HCRM_HIS_PASSWORD_NOT_THERE", raising=False)
    response = client.post("/his_connector/runs/start", data={"connection_id": connection_id, "entity": ""})
    assert response.status_code == 409 and "HCRM_HIS_PASSWORD_NOT_THERE" in response.get_data(as_text=True)
    assert client.get("/his_connector/runs?status=bogus").status_code == 400
    assert client.get("/his_connector/runs?connection=abc").status_code == 400
    assert client.get(f"/his_connector/runs?connection={other}").status_code == 404
    assert client.get("/his_connector/quarantine?show=bogus").status_code == 400
    _wait_for_background_syncs(app)
    assert _runs(app, hospital["a"]) == []


@pytest.mark.real_commits  # the page queues the sync for a consumer process
def test_quarantine_masks_raw_rows_resolves_and_retries(app, client, hospital, his_file, start_consumers):
    connection_id = _setup(app, his_file, hospital)
    start_consumers()
    with app.app_context():
        sync(hospital["a"], connection_id)
    _user_with(app, hospital["a"], "a_operator", ["his_connector.run"])
    login(client, "a_operator")
    page = client.get("/his_connector/quarantine").get_data(as_text=True)
    assert "P2" in page and "李四" in page and "身份证" in page       # the row, its reason
    assert "13900139000" not in page and BAD_ID not in page           # masked without view_sensitive
    assert "重试" in page
    with app.app_context(), hospital_scope(hospital["a"]):
        entry = db.session.execute(sa.select(Quarantine)).scalar_one()
        mapping_id = entry.mapping_id
    his_file.update("MZ_BRXX", "BRID", "P2", SFZH=id_number("19900101", "135"))  # a man, as XB says
    response = client.post(f"/his_connector/quarantine/retry/{mapping_id}")
    assert response.status_code == 302
    _wait_for_background_syncs(app)
    with app.app_context(), hospital_scope(hospital["a"]):
        assert sorted(db.session.execute(sa.select(Patient.external_id)).scalars()) == ["P1", "P2"]
        assert db.session.execute(sa.select(Quarantine.resolved)).scalar_one() is True
    assert "没有隔离的行" in client.get("/his_connector/quarantine").get_data(as_text=True)


def test_mark_quarantined_rows_resolved(app, client, hospital, his_file):
    connection_id = _setup(app, his_file, hospital)
    with app.app_context():
        sync(hospital["a"], connection_id)
        with hospital_scope(hospital["a"]):
            entry_id = db.session.execute(sa.select(Quarantine.id)).scalar_one()
    login(client, "a_admin")
    response = client.post("/his_connector/quarantine/resolve", data={"entry": ["x"]}, follow_redirects=True)
    assert "请勾选" in response.get_data(as_text=True)
    response = client.post("/his_connector/quarantine/resolve", data={"entry": [str(entry_id)]}, follow_redirects=True)
    assert "已将 1 行标记为已处理" in response.get_data(as_text=True)
    resolved = client.get("/his_connector/quarantine?show=resolved").get_data(as_text=True)
    assert "P2" in resolved and "已处理" in resolved


def test_hospital_b_never_sees_hospital_a_runs_or_quarantine(app, client, hospital, his_file):
    connection_id = _setup(app, his_file, hospital)
    with app.app_context():
        sync(hospital["a"], connection_id)
        with hospital_scope(hospital["a"]):
            entry = db.session.execute(sa.select(Quarantine)).scalar_one()
            entry_id, mapping_id = entry.id, entry.mapping_id
            run_id = db.session.execute(sa.select(Run.id)).scalars().first()
        make_user(db.session.get(Hospital, hospital["b"]), "b_admin", ("super_admin",))
    login(client, "b_admin")
    assert client.get(f"/his_connector/runs/{run_id}").status_code == 404
    assert client.get(f"/his_connector/quarantine?mapping={mapping_id}").status_code == 404
    assert client.post(f"/his_connector/quarantine/retry/{mapping_id}").status_code == 404
    assert "P2" not in client.get("/his_connector/quarantine").get_data(as_text=True)
    assert "李四" not in client.get("/his_connector/runs").get_data(as_text=True)
    client.post("/his_connector/quarantine/resolve", data={"entry": [str(entry_id)]})
    with app.app_context(), hospital_scope(hospital["a"]):
        assert db.session.get(Quarantine, entry_id).resolved is False


def test_a_director_runs_syncs_but_does_not_configure_connections(app, client, hospital, his_file):
    connection_id = _setup(app, his_file, hospital)
    with app.app_context():
        make_user(db.session.get(Hospital, hospital["a"]), "a_director", ("director",))
    login(client, "a_director")
    assert client.get("/his_connector/runs").status_code == 200
    assert client.get("/his_connector/quarantine").status_code == 200
    assert client.get("/his_connector/connections").status_code == 403
    assert client.get(f"/his_connector/connections/{connection_id}").status_code == 403
    assert client.get("/his_connector/").headers["Location"].endswith("/his_connector/runs")
    menu = client.get("/").get_data(as_text=True)
    assert "HIS接口" in menu and "同步记录" in menu and "HIS连接" not in menu
