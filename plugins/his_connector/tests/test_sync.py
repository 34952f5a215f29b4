"""Syncing from a real HIS (MariaDB and SQLite sources; the CRM on SQLite or PostgreSQL)."""
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.his_connector import services
from plugins.his_connector.models import Connection, Mapping
from plugins.his_connector.tests.conftest import VISIT_FIELDS, connect, id_number, sync
from plugins.patients.public import Patient, SearchKey, Visit


def _patients(hospital_id):
    with hospital_scope(hospital_id):
        return {p.external_id: p for p in db.session.execute(sa.select(Patient)).scalars()}


def _visits(hospital_id):
    with hospital_scope(hospital_id):
        return {v.external_id: v for v in db.session.execute(sa.select(Visit)).scalars()}


def _figures(run, *names):
    return tuple(run[n] for n in names)


def test_first_sync_brings_patients_and_visits_and_a_rerun_writes_and_rereads_nothing(app, hospital, his):
    his.patient("P001", "张三", XB="1", SFZH=id_number("19800307", "123"), LXDH="138 0013 8000")
    his.patient("P002", "欧阳娜娜", XB="2", CSRQ="19920115", KSDM="0201", LXDH="0731-84561234")
    his.patient("P003", "曾小贤", XB="9", KSDM="9999")  # unknown department: the mapping's default (none)
    his.tick()
    his.visit(1001, "P001", JZLX="2", JZZT="1", RYSJ=datetime(2025, 5, 20, 9, 30), KSDM="0101", ZFY="3560.20")
    his.visit(1002, "P002", JZZT="3", KSDM="0201")
    with app.app_context():
        connection_id = connect(his, hospital["a"])
        runs = sync(hospital["a"], connection_id)
        assert [(r["entity"], r["status"]) for r in runs] == [("patients", "ok"), ("visits", "ok")]
        assert _figures(runs[0], "rows_read", "inserted", "updated", "unchanged", "quarantined") == (3, 3, 0, 0, 0)
        assert _figures(runs[1], "rows_read", "inserted", "updated", "unchanged", "quarantined") == (2, 2, 0, 0, 0)
        patients = _patients(hospital["a"])
        zhang, ouyang, zeng = patients["P001"], patients["P002"], patients["P003"]
        assert (zhang.name, zhang.gender, zhang.birth_date.isoformat()) == ("张三", "M", "1980-03-07")
        assert (zhang.phone, zhang.phone_last4, zhang.department_id) == ("13800138000", "8000", hospital["ortho"])
        assert (ouyang.name, ouyang.gender, ouyang.phone, ouyang.department_id) == (
            "欧阳娜娜", "F", "0731-84561234", hospital["neuro"])
        assert (zeng.gender, zeng.department_id) == ("U", None)
        with hospital_scope(hospital["a"]):
            keys = set(db.session.execute(sa.select(SearchKey.key).where(SearchKey.patient_id == ouyang.id)).scalars())
        assert {"oynn", "ouyangnana"} <= keys
        visits = _visits(hospital["a"])
        assert (visits["1001"].kind, visits["1001"].status, visits["1001"].spending) == (
            "inpatient", "admitted", Decimal("3560.20"))
        assert visits["1001"].patient_id == zhang.id and visits["1002"].department_id == hospital["neuro"]
        assert visits["1001"].visit_at == datetime(2025, 5, 20, 9, 30)

        again = sync(hospital["a"], connection_id)
        assert [_figures(r, "rows_read", "inserted", "updated") for r in again] == [(0, 0, 0), (0, 0, 0)]
        assert [r["cursor_after"] for r in again] == [r["cursor_after"] for r in runs]

        full = sync(hospital["a"], connection_id, full=True)
        assert [_figures(r, "rows_read", "inserted", "updated", "unchanged") for r in full] == [
            (3, 0, 0, 3), (2, 0, 0, 2)]


def test_equal_cursor_values_across_batch_boundaries_are_neither_lost_nor_reread(app, hospital, his):
    same = his.tick()
    for n in range(250):  # 250 patients updated in the same second, read 100 at a time
        his.patient(f"P{n:04d}", f"患者{n}", gxsj=same)
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",), batch_size=100)
        first = sync(hospital["a"], connection_id)[0]
        assert _figures(first, "rows_read", "inserted", "batches") == (250, 250, 3)
        assert first["cursor_after"].endswith("/ P0249")
        for n in range(250, 260):  # more rows at the very same time, later keys
            his.patient(f"P{n:04d}", f"患者{n}", gxsj=same)
        second = sync(hospital["a"], connection_id)[0]
        assert _figures(second, "rows_read", "inserted", "unchanged") == (10, 10, 0)
        assert len(_patients(hospital["a"])) == 260


def test_rows_written_during_a_sync_are_read_now_or_next_time(app, hospital, his):
    for n in range(300):
        his.patient(f"P{n:04d}", f"患者{n}", gxsj=his.tick())
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",), batch_size=100)
        events = []

        def progress(run, rows, total):
            if not events:  # after the first batch the HIS keeps working
                his.patient("LATE", "迟到者", gxsj=datetime.now(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
                            - timedelta(seconds=5))  # inside the safety lag
                his.patient("AHEAD", "前面的", gxsj=his.time + timedelta(seconds=1))     # ahead of the cursor
                his.update("MZ_BRXX", "BRID", "P0010", XM="已改名", GXSJ=his.time + timedelta(seconds=2))
            events.append(rows)

        first = sync(hospital["a"], connection_id, progress=progress)[0]
        assert "LATE" not in _patients(hospital["a"])  # newer than the HIS clock minus the lag
        with hospital_scope(hospital["a"]):  # time passes: the lag is over for LATE
            db.session.execute(sa.update(Connection).values(safety_lag=0))
            db.session.commit()
        second = sync(hospital["a"], connection_id)[0]
        patients = _patients(hospital["a"])
        assert {"LATE", "AHEAD"} <= set(patients) and len(patients) == 302
        assert patients["P0010"].name == "已改名"
        # Each change is written once, by whichever run saw it (a window reads one snapshot).
        assert first["inserted"] + second["inserted"] == 302
        assert first["updated"] + second["updated"] == 1
        assert sync(hospital["a"], connection_id)[0]["rows_read"] == 0


def test_a_row_updated_twice_is_written_once_with_its_last_values(app, hospital, his):
    his.patient("P1", "张三", gxsj=his.tick())
    his.visit(1, "P1", JZLX="2", JZZT="1", gxsj=his.tick())
    with app.app_context():
        connection_id = connect(his, hospital["a"])
        sync(hospital["a"], connection_id)
        his.update("ZY_JZJL", "JZID", 1, JZZT="2", CYSJ=datetime(2025, 5, 25, 10), GXSJ=his.tick())
        his.update("ZY_JZJL", "JZID", 1, ZFY="999.99", GXSJ=his.tick())
        runs = sync(hospital["a"], connection_id)
        assert _figures(runs[1], "rows_read", "inserted", "updated", "unchanged") == (1, 0, 1, 0)
        visit = _visits(hospital["a"])["1"]
        assert (visit.status, visit.discharge_at, visit.spending) == (
            "discharged", datetime(2025, 5, 25, 10), Decimal("999.99"))


def test_a_bad_row_is_quarantined_and_the_rest_of_the_batch_goes_on(app, hospital, his):
    good = id_number("19800307", "123")
    his.patient("P1", "张三", SFZH=good, gxsj=his.tick())
    his.patient("P2", "李四", SFZH="430621198003071239", gxsj=his.tick())  # wrong check digit
    his.patient("P3", "王五", XB="7", LXDH="12345", gxsj=his.tick())       # unknown gender code, bad phone
    his.patient("P4", "赵六", gxsj=his.tick())
    his.visit(10, "P1", gxsj=his.tick())
    his.visit(11, "P2", gxsj=his.tick())                   # its patient was quarantined
    his.visit(12, "P4", RYSJ=datetime(2025, 5, 20), CYSJ=datetime(2025, 5, 1), gxsj=his.tick())  # discharge < visit
    with app.app_context():
        connection_id = connect(his, hospital["a"])
        with force_locale("en"):  # reasons are written in the deployment's language; check the English
            runs = sync(hospital["a"], connection_id)
        assert [r["status"] for r in runs] == ["ok", "ok"]
        assert _figures(runs[0], "rows_read", "inserted", "quarantined") == (4, 2, 2)
        assert _figures(runs[1], "rows_read", "inserted", "quarantined") == (3, 1, 2)
        assert set(_patients(hospital["a"])) == {"P1", "P4"} and set(_visits(hospital["a"])) == {"10"}
        with hospital_scope(hospital["a"]):
            entries = {q.natural_key: q for q in services.list_quarantine()}
            assert set(entries) == {"P2", "P3", "11", "12"}
            assert "check digit" in entries["P2"].reason
            assert "7" in entries["P3"].reason and "12345" in entries["P3"].reason
            assert "not in the CRM" in entries["11"].reason
            assert services.quarantine_row(entries["11"])["BRID"] == "P2"  # read again from the HIS
            assert "before admission" in entries["12"].reason
            shown = services.quarantine_row(entries["P2"])
            assert shown["SFZH"] == "4306**********1239" and shown["XM"] == "李四"
            assert services.quarantine_row(entries["P2"], unmasked=True)["SFZH"] == "430621198003071239"
        # The HIS fixes the patient; the next run syncs it and closes its entry, and a retry
        # brings the visit that was waiting for it.
        his.update("MZ_BRXX", "BRID", "P2", SFZH=id_number("19800307", "135"), GXSJ=his.tick())
        runs = sync(hospital["a"], connection_id)
        assert _figures(runs[0], "rows_read", "inserted") == (1, 1)
        with hospital_scope(hospital["a"]):
            mapping = db.session.execute(sa.select(Mapping).where(Mapping.entity == "visits")).scalar_one()
            retry = services.retry_quarantine(mapping)
            assert (retry.status, retry.rows_read, retry.inserted, retry.quarantined) == ("ok", 2, 1, 1)
            open_keys = {q.natural_key for q in services.list_quarantine()}
        assert open_keys == {"P3", "12"} and "11" in _visits(hospital["a"])


def test_chinese_text_round_trips_from_a_gbk_his(app, hospital, his):
    names = ["张三", "欧阳娜娜", "龘靐齉", "喆", "爨"]  # rare characters are in GBK too
    for n, name in enumerate(names):
        his.patient(f"P{n}", name, JTDZ=f"湖南省长沙市{name}路1号", gxsj=his.tick())
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
        sync(hospital["a"], connection_id)
        patients = _patients(hospital["a"])
        assert [patients[f"P{n}"].name for n in range(len(names))] == names
        assert patients["P2"].address == "湖南省长沙市龘靐齉路1号"


def test_visits_announce_in_bulk_only_what_changed(app, hospital, his, monkeypatch):
    from plugins.his_connector import sync as engine
    calls = []
    real = engine.announce_visits
    monkeypatch.setattr(engine, "announce_visits", lambda ids, hospital_id: (calls.append(list(ids)),
                                                                             real(ids, hospital_id=hospital_id)))
    his.patient("P1", "张三", gxsj=his.tick())
    for n in range(150):
        his.visit(n, "P1", gxsj=his.tick())
    with app.app_context():
        connection_id = connect(his, hospital["a"], batch_size=100)
        sync(hospital["a"], connection_id)
        assert [len(c) for c in calls] == [100, 50]  # one call per batch, not per visit
        calls.clear()
        his.update("ZY_JZJL", "JZID", 7, GXSJ=his.tick())  # touched, but nothing we map changed
        his.update("ZY_JZJL", "JZID", 8, JZZT="9", GXSJ=his.tick())
        runs = sync(hospital["a"], connection_id)
        assert _figures(runs[1], "rows_read", "updated", "unchanged") == (2, 1, 1)
        assert calls == [[_visits(hospital["a"])["8"].id]]


def test_charges_make_up_the_visit_spending(app, hospital, his):
    his.patient("P1", "张三", gxsj=his.tick())
    fields = {k: v for k, v in VISIT_FIELDS.items() if k != "spending"}
    his.insert("SF_FYMX", [{"FYID": 1, "JZID": 5, "XMMC": "挂号费", "JE": "12.00", "SFSJ": his.time, "GXSJ": his.tick()},
                           {"FYID": 2, "JZID": 5, "XMMC": "CT", "JE": "300.50", "SFSJ": his.time, "GXSJ": his.tick()}])
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients", "visits", "charges"), visit_fields=fields)
        his.visit(5, "P1", ZFY=None, gxsj=his.tick())
        runs = sync(hospital["a"], connection_id)
        assert [r["status"] for r in runs] == ["ok", "ok", "ok"]
        assert _visits(hospital["a"])["5"].spending == Decimal("312.50")
        his.insert("SF_FYMX", [{"FYID": 3, "JZID": 5, "XMMC": "退费", "JE": "-12.00", "SFSJ": his.time,
                                "GXSJ": his.tick()}])
        runs = sync(hospital["a"], connection_id)
        assert _figures(runs[2], "rows_read", "inserted") == (1, 1)
        assert _visits(hospital["a"])["5"].spending == Decimal("300.50")


def test_each_hospital_syncs_into_its_own_records(app, hospital, his):
    his.patient("P1", "张三", gxsj=his.tick())
    with app.app_context():
        a = connect(his, hospital["a"], entities=("patients",))
        b = connect(his, hospital["b"], entities=("patients",))
        sync(hospital["a"], a)
        assert set(_patients(hospital["a"])) == {"P1"} and _patients(hospital["b"]) == {}
        assert sync(hospital["b"], b)[0]["inserted"] == 1
        assert _patients(hospital["a"])["P1"].id != _patients(hospital["b"])["P1"].id
        with hospital_scope(hospital["b"]):
            assert len(services.list_runs()) == 1
