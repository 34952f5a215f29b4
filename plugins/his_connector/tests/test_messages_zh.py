"""Messages the engine builds (field-map problems, the stored test outcome, the dashboard card)
reach the Chinese UI in Chinese, with times on the hospitals' clock."""
from datetime import datetime

import pytest

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.his_connector import services
from plugins.his_connector.models import Connection, Run
from plugins.his_connector.tests.conftest import PATIENTS_QUERY, connect


def test_field_map_problems_are_shown_in_chinese_and_english(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
    login(client, "a_admin")
    url = f"/his_connector/connections/{connection_id}/mappings/patients"
    data = {"query": PATIENTS_QUERY, "key_column": "BRID", "cursor_column": "GXSJ", "enabled": "y",
            "f_gender-column": "XB", "f_gender-codes": "1=M\n2=X", "action": "save"}  # no name; X is no gender
    page = client.post(url, data=data).get_data(as_text=True)
    assert "请映射必填字段“name”" in page and "X 不在 F, M, U 之中" in page
    assert "map the required field" not in page and "not among" not in page
    client.post("/language", data={"locale": "en"})
    page = client.post(url, data=data).get_data(as_text=True)
    assert "map the required field &#39;name&#39;" in page and "gender: X not among F, M, U" in page
    with app.app_context(), hospital_scope(hospital["a"]):  # the CLI and logs get English
        connection = db.session.get(Connection, connection_id)
        with pytest.raises(services.HisError) as refused:
            services.save_mapping(connection, "patients", {"query": PATIENTS_QUERY, "key_column": "BRID",
                                                           "cursor_column": "GXSJ", "fields": {"nom": "XM"}})
        assert "unknown field 'nom'" in str(refused.value) and "map the required field 'name'" in str(refused.value)


def test_the_last_test_message_follows_the_readers_language(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):  # tested from the command line, in English
            result = services.test_connection(db.session.get(Connection, connection_id))
            assert result.ok and str(services.last_test_message(db.session.get(Connection, connection_id))) \
                .startswith("Connected to sqlite")
    login(client, "a_admin")
    for path in (f"/his_connector/connections/{connection_id}", "/his_connector/connections"):
        page = client.get(path).get_data(as_text=True)
        assert "已连接 sqlite" in page and "Connected to" not in page, path
    client.post("/language", data={"locale": "en"})
    assert "Connected to sqlite" in client.get(f"/his_connector/connections/{connection_id}").get_data(as_text=True)


def test_a_message_stored_before_as_plain_text_still_shows(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):
            connection = db.session.get(Connection, connection_id)
            connection.last_test_at, connection.last_test_ok = datetime(2026, 1, 1), False
            connection.last_test_message = "Cannot connect to mysql://x: 100% gone (Access denied)"
            db.session.commit()
    login(client, "a_admin")
    page = client.get(f"/his_connector/connections/{connection_id}").get_data(as_text=True)
    assert "100% gone" in page and "账号" in page  # shown as is, and the hint still found


def test_the_dashboard_card_uses_local_time_and_entity_labels(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=("patients",))
        with hospital_scope(hospital["a"]):
            mapping_id = db.session.get(Connection, connection_id).mappings[0].id
            db.session.add(Run(hospital_id=hospital["a"], connection_id=connection_id, mapping_id=mapping_id,
                               entity="visits", trigger="cli", status="ok", started_at=datetime(2026, 3, 1, 23, 0),
                               finished_at=datetime(2026, 3, 1, 23, 30), rows_read=7, inserted=5, updated=1))
            db.session.commit()
    login(client, "a_admin")
    page = client.get("/").get_data(as_text=True)
    # 23:30 UTC is 07:30 the next morning in Asia/Shanghai (the configured i18n.timezone)
    assert "最近同步 2026-03-02 07:30：就诊，读取 7，写入 6" in page
    assert "UTC" not in page.split("HIS同步")[1][:400] and "visits" not in page
