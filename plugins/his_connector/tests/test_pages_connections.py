"""The HIS connector's connection and mapping pages, with a SQLite file as the HIS."""
import sqlalchemy as sa

from core.extensions import db
from core.models import AuditLog, Hospital, Role
from core.tenancy import hospital_scope, system_scope
from core.testing import login, make_hospital, make_user
from plugins.his_connector.models import Connection, Mapping, Quarantine, Run
from plugins.his_connector.testing import allow, allow_sources
from plugins.his_connector.tests.conftest import PATIENTS_QUERY, connect, id_number, sync
from plugins.patients.public import Patient

SECRET = "Zx9-his-password-never-shown"
ENV = "HCRM_HIS_PASSWORD_PAGETEST"


def _count(app, hospital_id, model):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(sa.func.count()).select_from(model)).scalar_one()


def _mapping_form(query=PATIENTS_QUERY, key="BRID", cursor="GXSJ", **fields):
    """Form data of the patients mapping page: name, gender (with a code table), ID number, phone."""
    data = {"query": query, "key_column": key, "cursor_column": cursor, "enabled": "y",
            "f_name-column": "XM", "f_gender-column": "XB", "f_gender-codes": "1=M\n2=F\n9=U",
            "f_id_number-column": "SFZH", "f_phone-column": "LXDH", "action": "save"}
    data.update(fields)
    return data


def test_connection_pages_render_in_chinese_with_the_menu(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"])
    login(client, "a_admin")
    page = client.get("/his_connector/connections").get_data(as_text=True)
    assert "HIS接口" in page and "HIS连接" in page and "同步记录" in page and "隔离区" in page
    assert "新建连接" in page and "测试连接" in page
    detail = client.get(f"/his_connector/connections/{connection_id}").get_data(as_text=True)
    assert "映射" in detail and "删除此连接" in detail
    for entity in ("patients", "visits", "charges"):
        response = client.get(f"/his_connector/connections/{connection_id}/mappings/{entity}")
        assert response.status_code == 200
        assert "预览（不写入任何数据）" in response.get_data(as_text=True)
    form = client.get("/his_connector/connections/new").get_data(as_text=True)
    assert "密码环境变量" in form and "HCRM_HIS_PASSWORD_H1" in form and "systemctl edit hcrm" in form


def test_create_edit_and_delete_a_connection(app, client, hospital, his_file):
    with app.app_context():
        source = allow(his_file)
    login(client, "a_admin")
    form = client.get("/his_connector/connections/new").get_data(as_text=True)
    assert f'<option value="{source}">' in form and "his.sqlite3" in form  # the operator's sources, to pick from
    response = client.post("/his_connector/connections/new", data={
        "name": "HIS主库", "source": source, "password_env": "", "timezone": "Asia/Shanghai",
        "encoding": "gbk", "statement_timeout": "60", "batch_size": "1000", "safety_lag": "30",
        "schedule_minutes": "15", "enabled": "y"})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital["a"]):
        connection = db.session.execute(sa.select(Connection)).scalar_one()
        assert (connection.name, connection.encoding, connection.batch_size, connection.schedule_minutes) == (
            "HIS主库", "gbk", 1000, 15)
        connection_id = connection.id
    response = client.post(f"/his_connector/connections/{connection_id}/edit", data={
        "name": "HIS主库", "source": source, "timezone": "Asia/Shanghai", "encoding": "utf8",
        "statement_timeout": "60", "batch_size": "1000", "safety_lag": "30", "schedule_minutes": ""})
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital["a"]):
        connection = db.session.get(Connection, connection_id)
        assert (connection.encoding, connection.schedule_minutes, connection.enabled) == ("utf8", None, False)
    response = client.post(f"/his_connector/connections/{connection_id}/delete", follow_redirects=True)
    assert "已删除" in response.get_data(as_text=True)
    assert _count(app, hospital["a"], Connection) == 0


def test_a_bad_connection_form_shows_each_message_and_writes_nothing(app, client, hospital):
    login(client, "a_admin")
    response = client.post("/his_connector/connections/new", data={
        "name": "", "url": "mysql+pymysql://his_ro:secret@10.0.0.5/his", "password_env": "1BAD",
        "timezone": "Mars/Olympus", "encoding": "latin1", "statement_timeout": "abc", "batch_size": "5",
        "safety_lag": "0"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "请选择本医院已配置的HIS数据源" in page  # a typed URL is no source
    assert "HCRM_HIS_PASSWORD_" in page and "密码变量" in page  # 1BAD is not a HIS password variable
    assert "未知时区" in page and "请输入整数" in page and "请输入100到100000之间的数字" in page
    assert "secret" not in page.replace("password_env", "")
    assert _count(app, hospital["a"], Connection) == 0


def test_the_password_never_appears_on_any_page(app, client, hospital, his_file, monkeypatch):
    monkeypatch.setenv(ENV, SECRET)
    his_file.patient("P1", "张三", SFZH="430621198003071230")  # an invalid ID number: quarantined
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], safety_lag=0)
        sync(hospital["a"], connection_id)
        with hospital_scope(hospital["a"]):  # named afterwards: SQLite refuses a URL with a password
            db.session.get(Connection, connection_id).password_env = ENV
            db.session.commit()
    login(client, "a_admin")
    with app.app_context(), hospital_scope(hospital["a"]):
        run_id = db.session.execute(sa.select(Run.id)).scalars().first()
    pages = ["/his_connector/connections", f"/his_connector/connections/{connection_id}",
             f"/his_connector/connections/{connection_id}/edit", "/his_connector/runs", f"/his_connector/runs/{run_id}",
             "/his_connector/quarantine", "/"]
    pages += [f"/his_connector/connections/{connection_id}/mappings/{e}" for e in ("patients", "visits", "charges")]
    responses = [client.get(p) for p in pages]
    responses.append(client.post(f"/his_connector/connections/{connection_id}/test", follow_redirects=True))
    responses.append(client.post(f"/his_connector/connections/{connection_id}/mappings/patients",
                                 data=_mapping_form(action="preview")))
    responses.append(client.post(f"/his_connector/connections/{connection_id}/mappings/patients",
                                 data=_mapping_form(query="SELECT NOPE FROM MZ_BRXX", action="preview")))
    for path, response in zip(pages + ["test", "preview", "bad preview"], responses, strict=True):
        assert response.status_code in (200, 400), path
        assert SECRET not in response.get_data(as_text=True), path
    listing = responses[0].get_data(as_text=True)
    assert ENV in listing and "已在本服务器设置" in listing  # the variable's name and that it is set
    monkeypatch.delenv(ENV)
    listing = client.get("/his_connector/connections").get_data(as_text=True)
    assert "本服务器未设置" in listing


def test_test_connection_reports_the_result_for_it_staff(app, client, hospital, his_file, monkeypatch):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
    login(client, "a_admin")
    page = client.post(f"/his_connector/connections/{connection_id}/test", follow_redirects=True).get_data(as_text=True)
    assert "连接测试通过" in page and "sqlite" in page
    with app.app_context(), hospital_scope(hospital["a"]):
        db.session.get(Connection, connection_id).password_env = "HCRM_HIS_PASSWORD_UNSET_X"
        db.session.commit()
    monkeypatch.delenv("HCRM_HIS_PASSWORD_UNSET_X", raising=False)
    page = client.post(f"/his_connector/connections/{connection_id}/test", follow_redirects=True).get_data(as_text=True)
    assert "连接测试失败" in page and "HCRM_HIS_PASSWORD_UNSET_X" in page


def test_save_a_mapping_from_the_field_table(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
    login(client, "a_admin")
    url = f"/his_connector/connections/{connection_id}/mappings/patients"
    response = client.post(url, data=_mapping_form(**{"f_birth_date-column": "CSRQ", "f_birth_date-format": "%Y%m%d"}))
    assert response.status_code == 302
    with app.app_context(), hospital_scope(hospital["a"]):
        mapping = db.session.execute(sa.select(Mapping)).scalar_one()
        assert mapping.fields == {"name": {"column": "XM"}, "gender": {"column": "XB", "codes": {"1": "M", "2": "F", "9": "U"}},
                                  "birth_date": {"column": "CSRQ", "format": "%Y%m%d"},
                                  "id_number": {"column": "SFZH"}, "phone": {"column": "LXDH"}}
        assert (mapping.key_column, mapping.cursor_column) == ("BRID", "GXSJ")
    page = client.get(url).get_data(as_text=True)
    assert "1=M\n2=F\n9=U" in page and "尚未读取" in page  # the table comes back as typed; nothing read yet


def test_bad_mappings_show_the_message_and_write_nothing(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
    login(client, "a_admin")
    url = f"/his_connector/connections/{connection_id}/mappings/patients"
    cases = [
        (_mapping_form(key=""), "请输入查询结果中的列名"),                              # no key column
        (_mapping_form(query="SELECT BRID, XM, GXSJ FROM MZ_BRXX WHERE"), "HIS拒绝了该查询"),  # syntax error
        (_mapping_form(**{"f_phone-column": "DHHM"}), "DHHM"),                           # unknown column
        (_mapping_form(**{"f_gender-codes": "1=M\nF"}), "第2行"),                        # a code table line without =
        (_mapping_form(query="DELETE FROM MZ_BRXX"), "查询必须是一条SELECT语句"),
    ]
    for data, message in cases:
        for action in ("save", "preview"):
            response = client.post(url, data={**data, "action": action})
            assert response.status_code == 400, (message, action)
            assert message in response.get_data(as_text=True), (message, action)
    assert _count(app, hospital["a"], Mapping) == 0


def test_preview_maps_rows_shows_errors_and_writes_nothing(app, client, hospital, his_file):
    his_file.patient("P1", "张三", SFZH=id_number("19800307", "123"), LXDH="13800138000")
    his_file.patient("P2", "李四", XB="7")  # no code 7 in the gender table
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
    login(client, "a_admin")
    url = f"/his_connector/connections/{connection_id}/mappings/patients"
    response = client.post(url, data=_mapping_form(action="preview"))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "张三" in page and "13800138000" in page  # the administrator may see phones (and is audited)
    assert "不在代码表中" in page and "1 行将进入隔离区" in page
    for model in (Mapping, Run, Quarantine, Patient):
        assert _count(app, hospital["a"], model) == 0
    with app.app_context(), system_scope():
        notes = db.session.execute(sa.select(AuditLog.note).where(AuditLog.action == "view")).scalars().all()
    assert any("HIS preview of patients" in n for n in notes)


def test_preview_masks_phones_without_the_sensitive_permission(app, client, hospital, his_file):
    his_file.patient("P1", "张三", SFZH=id_number("19800307", "123"), LXDH="13800138000")
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=())
        with hospital_scope(hospital["a"]):
            role = Role(hospital_id=hospital["a"], code="his_it", name="HIS IT")
            role.set_permissions(["his_connector.manage", "his_connector.run"])
            db.session.add(role)
            db.session.commit()
        make_user(db.session.get(Hospital, hospital["a"]), "a_it", ("his_it",))
    login(client, "a_it")
    page = client.post(f"/his_connector/connections/{connection_id}/mappings/patients",
                       data=_mapping_form(action="preview")).get_data(as_text=True)
    assert "张三" in page and "13800138000" not in page and "138****8000" in page
    assert id_number("19800307", "123") not in page


def test_reset_cursor_after_a_sync(app, client, hospital, his_file):
    his_file.patient("P1", "张三")
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], entities=("patients",), safety_lag=0)
        sync(hospital["a"], connection_id)
    login(client, "a_admin")
    url = f"/his_connector/connections/{connection_id}/mappings/patients"
    assert "重置游标" in client.get(url).get_data(as_text=True)
    client.post(url + "/reset")
    with app.app_context(), hospital_scope(hospital["a"]):
        mapping = db.session.execute(sa.select(Mapping)).scalar_one()
        assert mapping.cursor_value is None and mapping.cursor_key is None


def test_hospital_b_never_sees_hospital_a_connections(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"], name="甲院HIS")
        make_user(db.session.get(Hospital, hospital["b"]), "b_admin", ("super_admin",))
    login(client, "b_admin")
    assert "甲院HIS" not in client.get("/his_connector/connections").get_data(as_text=True)
    for path in (f"/his_connector/connections/{connection_id}", f"/his_connector/connections/{connection_id}/edit",
                 f"/his_connector/connections/{connection_id}/mappings/patients"):
        assert client.get(path).status_code == 404, path
    for path in (f"/his_connector/connections/{connection_id}/test", f"/his_connector/connections/{connection_id}/delete",
                 f"/his_connector/connections/{connection_id}/mappings/patients/reset"):
        assert client.post(path).status_code == 404, path
    assert _count(app, hospital["a"], Connection) == 1


def test_without_the_permissions_403_and_no_menu(app, client, hospital, his_file):
    with app.app_context():
        connection_id = connect(his_file, hospital["a"])
    login(client, "a_staff")
    for path in ("/his_connector/connections", f"/his_connector/connections/{connection_id}", "/his_connector/runs",
                 "/his_connector/quarantine", "/his_connector/connections/new"):
        assert client.get(path).status_code == 403, path
    assert client.post("/his_connector/runs/start", data={"connection_id": connection_id}).status_code == 403
    assert "HIS接口" not in client.get("/").get_data(as_text=True)


def test_plugin_disabled_means_404_and_no_menu(app, client, hospital):
    with app.app_context():
        c = make_hospital("C", "丙医院", plugins=["patients"])
        make_user(c, "c_admin", ("super_admin",))
    login(client, "c_admin")
    for path in ("/his_connector/connections", "/his_connector/runs", "/his_connector/quarantine", "/his_connector/"):
        assert client.get(path).status_code == 404, path
    assert "HIS接口" not in client.get("/").get_data(as_text=True)


def test_a_failed_test_says_what_to_check(app, client, hospital):
    with app.app_context(), hospital_scope(hospital["a"]):
        from plugins.his_connector import services
        allow_sources({"name": "down", "dialect": "mysql", "host": "127.0.0.1", "port": 1, "database": "his"})
        connection_id = services.create_connection({"name": "down", "source": "down", "username": "his_ro"}).id
    login(client, "a_admin")
    page = client.post(f"/his_connector/connections/{connection_id}/test", follow_redirects=True).get_data(as_text=True)
    assert "连接测试失败" in page and "服务器没有响应" in page and "防火墙" in page
