"""Test support: a realistic HIS to sync from — MariaDB (the local server, a database per test session) or a
SQLite file — and a hospital with the HIS connector live.

The CRM reads the MariaDB HIS with a SELECT-only account, as a HIS's DBA would give it.
The HIS schema looks like the real ones: uppercase pinyin-abbreviation column names, GBK tables,
naive DATETIME columns (whole seconds for patients: many rows share a cursor value), code tables
for gender, departments and visit status, and (update time, id) indexes for the keyset.

The HIS connector's tests get these fixtures through their conftest; tests elsewhere (the
cross-plugin journeys in tests/journeys) import them from here. MariaDB comes from HCRM_TEST_MARIADB (default mysql://root@127.0.0.1:3306/). When it does not
answer, the MariaDB tests are skipped with a message — or fail when HCRM_REQUIRE_MARIADB is set.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from core.testing import make_department, make_hospital, make_user
from plugins.patients.public import ID_CHECK, ID_WEIGHTS

DEFAULT_MARIADB = "mysql://root@127.0.0.1:3306/"
BASE_TIME = datetime(2025, 6, 1, 8, 0, 0)

TABLES = {
    "DICT_XB": "DM CHAR(1) PRIMARY KEY, MC VARCHAR(8)",
    "DICT_KS": "KSDM VARCHAR(10) PRIMARY KEY, KSMC VARCHAR(32)",
    "DICT_JZZT": "DM CHAR(1) PRIMARY KEY, MC VARCHAR(8)",
    "MZ_BRXX": "BRID VARCHAR(20) PRIMARY KEY, XM VARCHAR(32) NOT NULL, XB CHAR(1), CSRQ CHAR(8), SFZH VARCHAR(18), "
               "LXDH VARCHAR(20), JTDZ VARCHAR(100), KSDM VARCHAR(10), GXSJ DATETIME NULL, JDSJ DATETIME NULL",
    "ZY_JZJL": "JZID BIGINT PRIMARY KEY, BRID VARCHAR(20) NOT NULL, JZLX CHAR(1), JZZT CHAR(1), RYSJ DATETIME NOT NULL, "
               "CYSJ DATETIME NULL, KSDM VARCHAR(10), YSXM VARCHAR(32), ZFY DECIMAL(12,2), GXSJ {micro} NOT NULL, "
               "ZDDM VARCHAR(20) NULL, ZDMC VARCHAR(128) NULL, ZDDM2 VARCHAR(20) NULL, ZDMC2 VARCHAR(128) NULL",
    "GY_ICD": "ICD VARCHAR(20) PRIMARY KEY, MC VARCHAR(128) NOT NULL, PYM VARCHAR(32), GXSJ DATETIME NOT NULL",
    "SF_FYMX": "FYID BIGINT PRIMARY KEY, JZID BIGINT NOT NULL, XMMC VARCHAR(64), JE DECIMAL(12,2) NOT NULL, "
               "SFSJ DATETIME, GXSJ DATETIME NOT NULL",
}
INDEXES = {"MZ_BRXX": ("GXSJ", "BRID"), "ZY_JZJL": ("GXSJ", "JZID"), "SF_FYMX": ("GXSJ", "FYID")}
CODES = {"DICT_XB": [("1", "男"), ("2", "女"), ("9", "未知")],
         "DICT_KS": [("0101", "骨科门诊"), ("0201", "神经内科"), ("0301", "体检中心")],
         "DICT_JZZT": [("0", "挂号"), ("1", "在院"), ("2", "出院"), ("3", "完成"), ("9", "退号")]}

PATIENTS_QUERY = "SELECT BRID, XM, XB, CSRQ, SFZH, LXDH, JTDZ, KSDM, GXSJ FROM MZ_BRXX"
VISITS_QUERY = ("SELECT j.JZID, j.BRID, j.JZLX, j.JZZT, j.RYSJ, j.CYSJ, j.KSDM, k.KSMC, j.YSXM, j.ZFY, j.GXSJ "
                "FROM ZY_JZJL j LEFT JOIN DICT_KS k ON k.KSDM = j.KSDM")
CHARGES_QUERY = "SELECT FYID, JZID, XMMC, JE, SFSJ, GXSJ FROM SF_FYMX"
DEPARTMENT_CODES = {"0101": "ORTH", "0201": "NEURO"}
PATIENT_FIELDS = {
    "name": "XM", "gender": {"column": "XB", "codes": {"1": "M", "2": "F", "9": "U"}},
    "birth_date": {"column": "CSRQ", "format": "%Y%m%d"}, "id_number": "SFZH", "phone": "LXDH",
    "address": "JTDZ", "department": {"column": "KSDM", "codes": DEPARTMENT_CODES, "default": None},
}
VISITS_WITH_DIAGNOSES_QUERY = ("SELECT JZID, BRID, JZLX, JZZT, RYSJ, CYSJ, KSDM, YSXM, GXSJ, ZDDM, ZDMC, ZDDM2, ZDMC2 "
                               "FROM ZY_JZJL")
DIAGNOSES_SPEC = [{"code": "ZDDM", "name": "ZDMC"}, {"code": "ZDDM2", "name": "ZDMC2"}]
VISIT_FIELDS = {
    "patient_key": "BRID", "kind": {"column": "JZLX", "codes": {"1": "outpatient", "2": "inpatient", "3": "emergency"}},
    "status": {"column": "JZZT", "codes": {"0": "open", "1": "admitted", "2": "discharged", "3": "completed",
                                           "9": "cancelled"}},
    "visit_at": "RYSJ", "discharge_at": "CYSJ", "department": {"column": "KSDM", "codes": DEPARTMENT_CODES},
    "doctor_name": "YSXM", "spending": "ZFY",
}
DISEASES_QUERY = "SELECT ICD, MC, PYM, GXSJ FROM GY_ICD"
DISEASE_FIELDS = {"name": "MC", "pinyin": "PYM"}
CHARGE_FIELDS = {"visit_key": "JZID", "amount": "JE", "item": "XMMC", "charged_at": "SFSJ"}


def id_number(birth: str = "19800307", seq: str = "123") -> str:
    first17 = "430621" + birth + seq
    return first17 + ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


class His:
    """The test's HIS: write rows the way the hospital's systems would. ``source`` is how an
    operator would list it in config.yaml (plugins_settings.his_connector.sources), with
    ``sqlite_dir`` the directory SQLite sources must be in."""

    def __init__(self, kind: str, url: str, admin_engine, source: dict, sqlite_dir: str | None = None,
                 username: str | None = None):
        self.kind, self.url, self.engine = kind, url, admin_engine
        self.source, self.sqlite_dir, self.username = source, sqlite_dir, username
        self.time = BASE_TIME

    def tick(self, seconds: int = 1) -> datetime:
        self.time += timedelta(seconds=seconds)
        return self.time

    def _value(self, value):
        # SQLite keeps times as ISO text; its driver's implicit datetime adapter is deprecated.
        return value.isoformat(" ") if self.kind == "sqlite" and isinstance(value, datetime) else value

    def run(self, sql: str, params=None):
        with self.engine.begin() as conn:
            return conn.execute(sa.text(sql), {k: self._value(v) for k, v in (params or {}).items()})

    def insert(self, table: str, rows: list[dict]) -> None:
        rows = [{k: self._value(v) for k, v in row.items()} for row in rows]
        if rows:
            columns = list(rows[0])
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                     f"({', '.join(':' + c for c in columns)})"), rows)

    def patient(self, brid: str, name: str, *, gxsj=None, **values) -> dict:
        row = {"BRID": brid, "XM": name, "XB": "1", "CSRQ": None, "SFZH": None, "LXDH": "13800138000",
               "JTDZ": "长沙市岳麓区", "KSDM": "0101", "GXSJ": gxsj or self.time, **values}
        self.insert("MZ_BRXX", [row])
        return row

    def visit(self, jzid: int, brid: str, *, gxsj=None, **values) -> dict:
        row = {"JZID": jzid, "BRID": brid, "JZLX": "1", "JZZT": "3", "RYSJ": datetime(2025, 5, 20, 9, 30),
               "CYSJ": None, "KSDM": "0101", "YSXM": "王医生", "ZFY": "128.50", "GXSJ": gxsj or self.time, **values}
        self.insert("ZY_JZJL", [row])
        return row

    def update(self, table: str, key_column: str, key, **values) -> None:
        sets = ", ".join(f"{c} = :{c}" for c in values)
        self.run(f"UPDATE {table} SET {sets} WHERE {key_column} = :key", {**values, "key": key})

    def clear(self) -> None:
        for table in ("MZ_BRXX", "ZY_JZJL", "SF_FYMX", "GY_ICD"):
            self.run(f"DELETE FROM {table}")
        self.time = BASE_TIME

    def kill_readers(self) -> int:
        """Cut every other session on the HIS database (the HIS 'goes away')."""
        with self.engine.begin() as conn:
            ids = conn.execute(sa.text("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
                                       "AND ID <> CONNECTION_ID()")).scalars().all()
            for ident in ids:
                conn.execute(sa.text(f"KILL CONNECTION {int(ident)}"))
        return len(ids)


def _create_schema(engine, kind: str) -> None:
    with engine.begin() as conn:
        for table, columns in TABLES.items():
            columns = columns.format(micro="DATETIME(6)" if kind == "mariadb" else "DATETIME")
            tail = " DEFAULT CHARSET=gbk" if kind == "mariadb" else ""
            conn.execute(sa.text(f"CREATE TABLE {table} ({columns}){tail}"))
        for table, columns in INDEXES.items():
            conn.execute(sa.text(f"CREATE INDEX IX_{table}_GXSJ ON {table} ({', '.join(columns)})"))
        for table, rows in CODES.items():
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (:a, :b)"), [{"a": a, "b": b} for a, b in rows])


@pytest.fixture(scope="session")
def mariadb_his():
    base = os.environ.get("HCRM_TEST_MARIADB", DEFAULT_MARIADB).replace("mysql://", "mysql+pymysql://", 1)
    server = sa.create_engine(base, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    name = f"hcrm_his_{uuid.uuid4().hex[:10]}"
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name} CHARACTER SET gbk"))
    except sa.exc.OperationalError as exc:
        reason = f"MariaDB HIS tests skipped: no MariaDB at {server.url.render_as_string()} ({exc.orig})"
        if os.environ.get("HCRM_REQUIRE_MARIADB"):
            pytest.fail(reason.replace("skipped", "required (HCRM_REQUIRE_MARIADB)"), pytrace=False)
        pytest.skip(reason)
    url = server.url.set(database=name)
    admin = sa.create_engine(url, connect_args={"charset": "utf8mb4"})
    _create_schema(admin, "mariadb")
    with server.connect() as conn:  # the read-only account a HIS's DBA gives the CRM (docs/his_connector.md)
        for host in ("%", "localhost"):
            conn.execute(sa.text(f"CREATE USER '{name}'@'{host}'"))
            conn.execute(sa.text(f"GRANT SELECT ON {name}.* TO '{name}'@'{host}'"))
    source = {"name": "his-mariadb", "dialect": "mysql", "host": url.host, "port": url.port or 3306, "database": name}
    yield His("mariadb", url.render_as_string(hide_password=False), admin, source, username=name)
    admin.dispose()
    with server.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        for host in ("%", "localhost"):
            conn.execute(sa.text(f"DROP USER IF EXISTS '{name}'@'{host}'"))
    server.dispose()


@pytest.fixture(scope="session")
def sqlite_his(tmp_path_factory):
    path = tmp_path_factory.mktemp("his") / "his.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # a HIS is written while we read it
        conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    _create_schema(engine, "sqlite")
    yield His("sqlite", f"sqlite:///{path}", engine, {"name": "his-sqlite", "dialect": "sqlite", "database": path.name},
              str(path.parent))
    engine.dispose()


@pytest.fixture(params=["mariadb", "sqlite"])
def his(request):
    """Each test that takes ``his`` runs against MariaDB and against a SQLite HIS."""
    source = request.getfixturevalue(f"{request.param}_his")
    source.clear()
    yield source
    source.clear()


@pytest.fixture
def his_file(sqlite_his):
    """The session's SQLite HIS file alone, emptied for each test."""
    sqlite_his.clear()
    yield sqlite_his
    sqlite_his.clear()


@pytest.fixture
def mariadb(mariadb_his):
    mariadb_his.clear()
    yield mariadb_his
    mariadb_his.clear()


@pytest.fixture
def hospital(app):
    """Hospital A with the HIS connector (and so patients) live, departments ORTH and NEURO,
    an administrator; hospital B with the connector too (for isolation checks)."""
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["his_connector"])
        b = make_hospital("B", "乙医院", plugins=["his_connector"])
        ortho = make_department(a, "ORTH", "骨科")
        neuro = make_department(a, "NEURO", "神经内科")
        make_department(b, "ORTH", "骨科")
        make_department(b, "NEURO", "神经内科")
        make_user(a, "a_admin", ("super_admin",))
        make_user(a, "a_staff", ("staff",))
        return {"a": a.id, "b": b.id, "ortho": ortho.id, "neuro": neuro.id}


def allow_sources(*sources: dict, sqlite_dir: str | None = None, hospitals: dict | None = None, app=None):
    """Configure HIS sources on the running app as an operator would in config.yaml: ``sources``
    group-wide (``plugins_settings.his_connector.sources``), ``hospitals`` {code: [source, …]}
    per hospital. Validated by the plugin's own hook (so a source reaching the CRM's database
    raises ConfigError here too); sources already configured stay unless a new one takes
    their name. The queue consumers started afterwards get the same sources
    (core.testing_queue.start_consumers). Returns the settings."""
    from flask import current_app

    from core.config import PluginSettings
    from plugins.his_connector import settings as his_settings
    app = app or current_app
    state = app.extensions["hcrm"]
    group = {"sources": list(sources)}
    if sqlite_dir:
        group["sqlite_dir"] = sqlite_dir
    section = PluginSettings("his_connector", group, {code: {"sources": list(listed)}
                                                     for code, listed in (hospitals or {}).items()})
    new = his_settings.validate(section, state.config)
    _record(app, section)
    old = state.plugin_settings.get("his_connector")
    names = {s.name for s in new.sources}
    kept = tuple(s for s in (old.sources if old else ()) if s.name not in names)
    merged = his_settings.HisSettings(new.sqlite_dir or (old.sqlite_dir if old else None), kept + new.sources,
                                      new.crm_url)
    state.plugin_settings["his_connector"] = merged
    return merged


def _record(app, section) -> None:
    """Merge ``section`` into the raw settings the app's consumers get, as allow_sources merges
    the validated ones: a new source replaces the one of its name, wherever it was listed."""
    from core.testing_queue import plugin_settings, record_plugin_settings
    old = plugin_settings(app).get("his_connector", {"group": {}, "hospitals": {}})
    names = {s["name"] for s in section.group["sources"]}
    names |= {s["name"] for h in section.hospitals.values() for s in h["sources"]}

    def kept(listed):
        return [s for s in listed or () if s.get("name") not in names]
    group = {**old["group"], **section.group, "sources": kept(old["group"].get("sources")) + section.group["sources"]}
    hospitals = {code: {**h, "sources": kept(h.get("sources"))} for code, h in old["hospitals"].items()}
    for code, h in section.hospitals.items():
        hospitals[code] = {"sources": hospitals.get(code, {}).get("sources", []) + h["sources"]}
    record_plugin_settings(app, "his_connector", group, hospitals)


def allow(his: His, app=None):
    """Make ``his`` a configured source of every hospital; returns its source name."""
    allow_sources(his.source, sqlite_dir=his.sqlite_dir, app=app)
    return his.source["name"]


def connect(his: His, hospital_id: int, *, entities=("patients", "visits"), batch_size: int = 100,
            safety_lag: int = 60, visit_fields=None, visit_query=None, **settings) -> int:
    """A connection to ``his`` (configured as a source first, see allow) with the standard
    mappings; returns its id."""
    from core.extensions import db
    from core.tenancy import hospital_scope
    from plugins.his_connector import services
    queries = {"diseases": (DISEASES_QUERY, "ICD", DISEASE_FIELDS),
               "patients": (PATIENTS_QUERY, "BRID", PATIENT_FIELDS),
               "visits": (visit_query or VISITS_QUERY, "JZID", visit_fields or VISIT_FIELDS),
               "charges": (CHARGES_QUERY, "FYID", CHARGE_FIELDS)}
    settings.setdefault("username", his.username)
    with hospital_scope(hospital_id):
        connection = services.create_connection({
            "name": "HIS", "source": allow(his), "encoding": "gbk" if his.kind == "mariadb" else "utf8",
            "batch_size": batch_size, "safety_lag": safety_lag, **settings})
        for entity in entities:
            query, key, fields = queries[entity]
            services.save_mapping(connection, entity, {"query": query, "key_column": key, "cursor_column": "GXSJ",
                                                       "fields": fields})
        db.session.commit()
        return connection.id


def sync(hospital_id: int, connection_id: int, **kwargs) -> list[dict]:
    """Run services.sync and return each run's figures as a dict."""
    from core.extensions import db
    from core.tenancy import hospital_scope
    from plugins.his_connector import services
    from plugins.his_connector.models import Connection
    with hospital_scope(hospital_id):
        connection = db.session.execute(sa.select(Connection).where(Connection.id == connection_id)).scalar_one()
        runs = services.sync(connection, **kwargs)
        return [{c: getattr(r, c) for c in ("id", "entity", "status", "rows_read", "inserted", "updated", "unchanged",
                                            "quarantined", "cursor_before", "cursor_after", "error", "batches")}
                for r in runs]


def load_visits(his: His, count: int) -> None:
    """Patient P1 and ``count`` visits of it, seven per cursor second (many ties), for tests that
    stop a long sync half-way."""
    his.patient("P1", "张三", gxsj=his.tick())
    rows = [{"JZID": n, "BRID": "P1", "JZLX": "1", "JZZT": "3", "RYSJ": BASE_TIME, "CYSJ": None, "KSDM": "0101",
             "YSXM": "王医生", "ZFY": "128.50", "GXSJ": BASE_TIME + timedelta(seconds=10 + n // 7)}
            for n in range(count)]
    for start in range(0, count, 5000):
        his.insert("ZY_JZJL", rows[start:start + 5000])


def cli_process(app, *args: str):
    """``hcrm his <args>`` in a process of its own on ``app``'s database and HIS sources (as an
    administrator's terminal would run it), for tests that signal it. Returns the Popen."""
    import json
    import subprocess
    import sys

    from core.testing_queue import PLUGINS_SETTINGS, REPO, plugin_settings
    settings = {k: v for k, v in app.config.items() if (k.startswith("HCRM_") or k in ("TESTING", "SECRET_KEY"))
                and isinstance(v, (str, int, float, bool)) and k != PLUGINS_SETTINGS}
    spec = {"database_url": app.extensions["hcrm"].config.database_url, "settings": settings,
            "plugins_settings": plugin_settings(app), "args": list(args)}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "plugins.his_connector.testing", json.dumps(spec)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _cli_main(spec_json: str) -> None:
    import json
    import sys

    from core.config import PluginSettings
    from core.testing import make_app
    from plugins.his_connector.cli import his_cli
    spec = json.loads(spec_json)
    sections = {name: PluginSettings(name, s["group"], s["hospitals"]) for name, s in spec["plugins_settings"].items()}
    app = make_app(spec["database_url"], config_overrides={"plugins_settings": sections}, **spec["settings"])
    print("ready", flush=True)
    sys.exit(_invoke(app, his_cli, spec["args"]))


def _invoke(app, command, args) -> int:
    from flask.cli import ScriptInfo
    try:
        code = command.main(args, prog_name="hcrm his", obj=ScriptInfo(create_app=lambda: app), standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        return int(exc.code or 0)
    except Exception as exc:  # click's own errors print themselves
        import click
        if isinstance(exc, click.ClickException):
            exc.show()
            return exc.exit_code
        raise


if __name__ == "__main__":
    import sys as _sys
    _cli_main(_sys.argv[1])
