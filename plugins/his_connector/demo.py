"""A demo HIS for ``hcrm init --demo`` (``bash scripts/demo.sh``): a SQLite file shaped like a real HIS (uppercase pinyin-abbreviation columns, naive local timestamps, code
tables for gender, department and visit status, an (update time, id) index), with a few hundred
patients and their visits — and a handful of bad rows, so the quarantine has something to show.

Like any HIS, it must be a source the operator allowed: config.yaml gives the demo hospital a
SQLite source named ``demo-his`` inside ``plugins_settings.his_connector.sqlite_dir``; the file is
written where that source points. Without such a source the demo HIS is skipped (with a log
line). The hospital gets a connection to it with patients and visits mappings, ready to preview
and "Sync now" from Administration → HIS connector. Nothing is synced here: the newcomer does it.
SQLite needs no password, so no environment variable is involved.

Idempotent: a hospital that already has the demo connection is left alone. Reproducible: the
rows are drawn from a generator seeded with the hospital's code.
"""
from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app

from core.clock import local_now
from core.extensions import db
from core.models import Department
from plugins.his_connector import guard, services
from plugins.his_connector import settings as his_settings
from plugins.his_connector.models import Connection
from plugins.patients.public import COUNTIES, FEMALE_NAMES, ID_CHECK, ID_WEIGHTS, MALE_NAMES, MOBILE_PREFIXES, SURNAMES

CONNECTION_NAME = "演示HIS"
SOURCE_NAME = "demo-his"  # the SQLite source config.yaml gives the demo hospital
PATIENTS = 240
VISITS_PER_PATIENT = (1, 3)
HIS_DEPARTMENTS = {"0101": ("IM", "内科门诊"), "0201": ("SURG", "外科"), "0301": ("ORTH", "骨科"),
                   "0401": ("OBGYN", "妇产科"), "0501": ("PED", "儿科")}
SCHEMA = """
CREATE TABLE DICT_XB (DM CHAR(1) PRIMARY KEY, MC VARCHAR(8));
CREATE TABLE DICT_KS (KSDM VARCHAR(10) PRIMARY KEY, KSMC VARCHAR(32));
CREATE TABLE DICT_JZZT (DM CHAR(1) PRIMARY KEY, MC VARCHAR(8));
CREATE TABLE MZ_BRXX (BRID VARCHAR(20) PRIMARY KEY, XM VARCHAR(32) NOT NULL, XB CHAR(1), CSRQ CHAR(8),
    SFZH VARCHAR(18), LXDH VARCHAR(20), JTDZ VARCHAR(100), KSDM VARCHAR(10), GXSJ DATETIME NOT NULL);
CREATE TABLE ZY_JZJL (JZID INTEGER PRIMARY KEY, BRID VARCHAR(20) NOT NULL, JZLX CHAR(1), JZZT CHAR(1),
    RYSJ DATETIME NOT NULL, CYSJ DATETIME, KSDM VARCHAR(10), YSXM VARCHAR(32), ZFY DECIMAL(12,2),
    GXSJ DATETIME NOT NULL);
CREATE INDEX IX_MZ_BRXX_GXSJ ON MZ_BRXX (GXSJ, BRID);
CREATE INDEX IX_ZY_JZJL_GXSJ ON ZY_JZJL (GXSJ, JZID);
"""
PATIENTS_QUERY = "SELECT BRID, XM, XB, CSRQ, SFZH, LXDH, JTDZ, KSDM, GXSJ FROM MZ_BRXX"
VISITS_QUERY = "SELECT JZID, BRID, JZLX, JZZT, RYSJ, CYSJ, KSDM, YSXM, ZFY, GXSJ FROM ZY_JZJL"
DOCTORS = ("王建国", "李卫东", "张丽华", "刘海涛", "陈美玲", "周立新")


def his_path(hospital) -> Path | None:
    """Where the hospital's ``demo-his`` source points (None when config.yaml has none)."""
    current = his_settings.current()
    source = current.source(hospital.code, SOURCE_NAME)
    if source is None or source.kind != "sqlite":
        return None
    return Path(guard.sqlite_file(source.base_url(current.sqlite_dir)))


def load(hospital) -> None:
    if db.session.execute(sa.select(Connection.id).where(Connection.name == CONNECTION_NAME)).first():
        return
    path = his_path(hospital)
    if path is None:
        current_app.logger.warning("no demo HIS for %s: config.yaml gives it no SQLite HIS source named %r",
                                   hospital.code, SOURCE_NAME)
        return
    build_his(path, random.Random(f"his-{hospital.code}"), local_now().replace(microsecond=0))
    ours = set(db.session.execute(sa.select(Department.code)).scalars())
    departments = {his: code for his, (code, _name) in HIS_DEPARTMENTS.items() if code in ours}
    connection = services.create_connection({"name": CONNECTION_NAME, "source": SOURCE_NAME,
                                             "encoding": "utf8", "safety_lag": 60}, commit=False)
    services.save_mapping(connection, "patients", {
        "query": PATIENTS_QUERY, "key_column": "BRID", "cursor_column": "GXSJ", "fields": {
            "name": "XM", "gender": {"column": "XB", "codes": {"1": "M", "2": "F", "9": "U"}},
            "birth_date": {"column": "CSRQ", "format": "%Y%m%d"}, "id_number": "SFZH", "phone": "LXDH",
            "address": "JTDZ", "department": {"column": "KSDM", "codes": departments, "default": None}}},
        commit=False)
    services.save_mapping(connection, "visits", {
        "query": VISITS_QUERY, "key_column": "JZID", "cursor_column": "GXSJ", "fields": {
            "patient_key": "BRID",
            "kind": {"column": "JZLX", "codes": {"1": "outpatient", "2": "inpatient", "3": "emergency"}},
            "status": {"column": "JZZT", "codes": {"0": "open", "1": "admitted", "2": "discharged",
                                                   "3": "completed", "9": "cancelled"}},
            "visit_at": "RYSJ", "discharge_at": "CYSJ",
            "department": {"column": "KSDM", "codes": departments, "default": None},
            "doctor_name": "YSXM", "spending": "ZFY"}}, commit=False)
    db.session.commit()


def _id_number(region: str, birth: date, rng: random.Random, female: bool) -> str:
    seq = f"{rng.randrange(0, 50):02d}{rng.randrange(0, 5) * 2 + (0 if female else 1)}"
    first17 = f"{region}{birth:%Y%m%d}{seq}"
    return first17 + ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def _patients(rng: random.Random, now: datetime) -> list[tuple]:
    rows = []
    for n in range(1, PATIENTS + 1):
        female = rng.random() < 0.5
        name = rng.choice(SURNAMES) + rng.choice(FEMALE_NAMES if female else MALE_NAMES)
        county, (region, towns) = rng.choice(sorted(COUNTIES.items()))
        birth = date(rng.randrange(1940, 2020), rng.randrange(1, 13), rng.randrange(1, 29))
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10 ** 8):08d}"
        changed = now - timedelta(days=30) + timedelta(minutes=n * 170)  # a day old at least: see module doc
        rows.append([f"H{n:06d}", name, "2" if female else "1", f"{birth:%Y%m%d}",
                     _id_number(region, birth, rng, female), phone, f"{county}{rng.choice(towns)}",
                     rng.choice(sorted(HIS_DEPARTMENTS)), f"{changed:%Y-%m-%d %H:%M:%S}"])
    rows[6][4] = rows[6][4][:17] + ("0" if rows[6][4][17] != "0" else "1")  # a wrong check digit
    rows[17][2] = "7"                                                       # a gender code the table lacks
    rows[41][5] = "12345"                                                   # not a phone number
    return [tuple(row) for row in rows]


def _visits(rng: random.Random, patients: list[tuple], now: datetime) -> list[tuple]:
    rows = []
    for patient in patients:
        for _ in range(rng.randint(*VISITS_PER_PATIENT)):
            kind = rng.choices("123", weights=(80, 15, 5))[0]
            start = now - timedelta(days=rng.randrange(2, 360), minutes=rng.randrange(480, 1080))
            end = start + timedelta(days=rng.randrange(3, 15)) if kind == "2" else None
            status = ("2" if end and end < now else "1") if kind == "2" else rng.choices("39", weights=(95, 5))[0]
            changed = min(end or start, now - timedelta(days=1))  # last touched at discharge or visit
            amount = f"{rng.uniform(3000, 30000) if kind == '2' else rng.uniform(20, 800):.2f}"
            rows.append((len(rows) + 1, patient[0], kind, status, f"{start:%Y-%m-%d %H:%M:%S}",
                         f"{end:%Y-%m-%d %H:%M:%S}" if end else None, patient[7], rng.choice(DOCTORS), amount,
                         f"{changed:%Y-%m-%d %H:%M:%S}"))
    last = now - timedelta(days=1)
    rows.append((len(rows) + 1, "H999999", "1", "3", f"{last:%Y-%m-%d %H:%M:%S}", None, "0101", DOCTORS[0],
                 "120.00", f"{last:%Y-%m-%d %H:%M:%S}"))  # a patient the HIS export left out
    rows.append((len(rows) + 1, patients[0][0], "8", "3", f"{last:%Y-%m-%d %H:%M:%S}", None, "0101", DOCTORS[1],
                 "80.00", f"{last:%Y-%m-%d %H:%M:%S}"))  # a visit kind the code table lacks
    return rows


def build_his(path: Path, rng: random.Random, now: datetime) -> None:
    """Write the demo HIS file afresh (an old one left by an earlier database is replaced)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    patients = _patients(rng, now)
    with sqlite3.connect(path) as his:
        his.executescript(SCHEMA)
        his.executemany("INSERT INTO DICT_XB VALUES (?, ?)", [("1", "男"), ("2", "女"), ("9", "未知")])
        his.executemany("INSERT INTO DICT_KS VALUES (?, ?)", [(c, name) for c, (_o, name) in HIS_DEPARTMENTS.items()])
        his.executemany("INSERT INTO DICT_JZZT VALUES (?, ?)", [("0", "挂号"), ("1", "在院"), ("2", "出院"),
                                                                ("3", "完成"), ("9", "退号")])
        his.executemany(f"INSERT INTO MZ_BRXX VALUES ({', '.join('?' * 9)})", patients)
        his.executemany(f"INSERT INTO ZY_JZJL VALUES ({', '.join('?' * 10)})", _visits(rng, patients, now))
    his.close()
