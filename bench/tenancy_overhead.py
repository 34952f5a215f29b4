"""How much the ORM-level tenancy scope costs, on the same data and in the same run.

    .venv/bin/python bench/tenancy_overhead.py [--rows 200000] [--database postgresql://postgres@127.0.0.1/postgres]

Loads two hospitals of departments (a hospital-owned core table), then times, for one
hospital, a page of 50 rows and a count three ways: through the scoped ORM (what every list
page does), through the ORM with the hospital filter written by hand (no scope), and as raw
SQL. Prints medians; "scope cost" is scoped ORM / hand-filtered ORM.
Target: scope cost within 1.2x (the scope adds a WHERE clause, nothing per row).
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid

import sqlalchemy as sa


def timed(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database", help="a PostgreSQL server URL (a scratch database is created); default SQLite")
    args = parser.parse_args()

    admin = None
    if args.database:
        admin = sa.create_engine(args.database.replace("postgresql://", "postgresql+psycopg2://", 1),
                                 isolation_level="AUTOCOMMIT")
        name = f"hcrm_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = admin.url.set(database=name).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3"
    try:
        run(url, args)
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def run(url: str, args) -> None:
    from core import migrations_support
    from core.extensions import db
    from core.models import Department
    from core.tenancy import hospital_scope
    from core.testing import make_app, make_hospital

    app = make_app(url)
    with app.app_context():
        migrations_support.upgrade()
        a, b = make_hospital("A"), make_hospital("B")
        half = args.rows // 2
        rows = [{"hospital_id": h.id, "code": f"D{i}", "name": f"科室{i}", "active": True}
                for h in (a, b) for i in range(half)]
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(sa.insert(Department.__table__), rows)
        print(f"loaded {len(rows):,} rows in {time.perf_counter() - started:.1f} s on {db.engine.dialect.name}")

        with hospital_scope(a):
            def orm_page():
                db.session.execute(sa.select(Department).order_by(Department.id).offset(1000).limit(50)).scalars().all()
                db.session.expunge_all()

            def orm_count():
                db.session.execute(sa.select(sa.func.count()).select_from(Department)).scalar_one()

            page_sql = sa.text("SELECT * FROM core_department WHERE hospital_id = :h ORDER BY id LIMIT 50 OFFSET 1000")
            count_sql = sa.text("SELECT count(*) FROM core_department WHERE hospital_id = :h")

            from core.tenancy import system_scope

            def hand_page():
                with system_scope():
                    db.session.execute(sa.select(Department).where(Department.hospital_id == a.id)
                                       .order_by(Department.id).offset(1000).limit(50)).scalars().all()
                db.session.expunge_all()

            def hand_count():
                with system_scope():
                    db.session.execute(sa.select(sa.func.count()).select_from(Department)
                                       .where(Department.hospital_id == a.id)).scalar_one()

            with db.engine.connect() as conn:
                def raw_page():
                    conn.execute(page_sql, {"h": a.id}).all()

                def raw_count():
                    conn.execute(count_sql, {"h": a.id}).scalar_one()

                n = args.repeat
                results = [("page of 50", timed(orm_page, n), timed(hand_page, n), timed(raw_page, n)),
                           ("count", timed(orm_count, n // 4 or 1), timed(hand_count, n // 4 or 1),
                            timed(raw_count, n // 4 or 1))]
    print(f"{'query':12} {'scoped ORM':>11} {'hand ORM':>9} {'raw SQL':>8} {'scope cost':>11}   (median ms)")
    for label, scoped, hand, raw in results:
        print(f"{label:12} {scoped:11.3f} {hand:9.3f} {raw:8.3f} {scoped / hand:10.2f}x")


if __name__ == "__main__":
    main()
