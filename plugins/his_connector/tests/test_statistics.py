"""A new hospital's first load keeps PostgreSQL's statistics fresh (issue 21, defect 2): the
written table is analyzed when a run's inserts reach HCRM_HIS_ANALYZE_ROWS and each time they
double, so no probe is planned on statistics saying the hospital has no rows."""
import time

import pytest
import sqlalchemy as sa

from core.extensions import db
from plugins.his_connector.tests.conftest import connect, sync

pytestmark = pytest.mark.real_commits


def _analyze_count(table: str) -> int:
    db.session.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
    return db.session.execute(sa.text("SELECT COALESCE(analyze_count, 0) FROM pg_stat_user_tables "
                                      "WHERE relname = :t"), {"t": table}).scalar() or 0


def test_a_large_first_load_analyzes_what_it_wrote(app, hospital, his_file):
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("planner statistics are PostgreSQL's (run with HCRM_TEST_DATABASE=postgresql://…)")
    his_file.insert("MZ_BRXX", [{"BRID": f"P{n:05d}", "XM": f"患者{n}", "XB": "1", "CSRQ": None, "SFZH": None,
                                 "LXDH": None, "JTDZ": None, "KSDM": None, "GXSJ": his_file.tick()}
                                for n in range(900)])
    app.config.update(HCRM_HIS_ANALYZE_ROWS=200)
    with app.app_context():
        before = _analyze_count("patients_patient")
        connection_id = connect(his_file, hospital["a"], entities=("patients",), batch_size=100, safety_lag=0)
        assert sync(hospital["a"], connection_id)[0]["inserted"] == 900
        deadline = time.monotonic() + 5
        while _analyze_count("patients_patient") - before < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _analyze_count("patients_patient") - before == 3  # at 200, 400 and 800 rows
