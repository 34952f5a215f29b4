"""Complaints at scale: 100k complaints with their transitions in one hospital (and 10k in a
second one) on PostgreSQL; the filtered list (GET /api/v1/complaints) and the statistics report
(the core's report export, /reports/complaints.statistics.csv) timed through the app, each next
to the same answer written as raw SQL, in the same run.

    .venv/bin/python bench/complaints.py [--complaints 100000] [--repeat 100]
        [--server postgresql://postgres@127.0.0.1:5432/postgres] [--keep | --reuse URL]

A scratch database is created and dropped (``--keep`` leaves it and prints its URL, ``--reuse
URL`` times on it again). The data is generated set-based in SQL. Each round draws new filters
and times the app and the SQL, taking turns at going first (the second finds the first's rows in
the caches). Target (issue 23): the app's p95 <= 100 ms for the list and for the statistics.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's code
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/scratch.py

from scratch import scratch_database

TARGET_MS = 100
STATUSES = ("new", "accepted", "assigned", "investigating", "replied", "closed")

LOAD_COMPLAINTS = """
INSERT INTO complaints_complaint (hospital_id, reference, status, channel_id, category_id, severity, patient_id,
    complainant_name, anonymous, contact_phone, phone_last4, event_date, description, settled_on_spot,
    received_at, due_date, replied_at, on_time, closed_at, finding, owner_id, department_id, created_at, updated_at)
SELECT :h, 'TS' || lpad(g::text, 8, '0'),
       (ARRAY['new','accepted','assigned','investigating','replied','closed','closed','closed'])[1 + g % 8],
       (:channels)[1 + g % cardinality(:channels)], (:categories)[1 + (g / 7) % cardinality(:categories)],
       (ARRAY['low','normal','normal','high'])[1 + g % 4], NULL, '投诉人' || (g % 5000), false,
       '138' || lpad((g % 100000000)::text, 8, '0'), lpad((g % 10000)::text, 4, '0'),
       d::date, '候诊时间过长,服务态度差。', g % 23 = 0,
       d, (d + interval '7 days')::date,
       CASE WHEN g % 8 >= 4 THEN d + (g % 9) * interval '1 day' END,
       CASE WHEN g % 8 >= 4 THEN (g % 9) <= 7 END,
       CASE WHEN g % 8 >= 5 THEN d + (g % 9 + 1) * interval '1 day' END,
       CASE WHEN g % 8 >= 5 THEN (ARRAY['justified','partly','unjustified'])[1 + g % 3] END,
       :owner, (:departments)[1 + g % cardinality(:departments)], d, d
FROM (SELECT g, timestamp '2025-01-01' + (g % 700) * interval '1 day' + (g % 86400) * interval '1 second' AS d
      FROM generate_series(1, :n) AS g) AS s
"""
LOAD_TRANSITIONS = """
INSERT INTO complaints_transition (hospital_id, complaint_id, action, from_status, to_status, user_id, at, comment)
SELECT c.hospital_id, c.id, step.action, step.source, step.target, c.owner_id,
       c.received_at + step.n * interval '1 day', NULL
FROM complaints_complaint c
JOIN (VALUES (0, 'create', NULL, 'new', 0), (1, 'accept', 'new', 'accepted', 1),
             (2, 'assign', 'accepted', 'assigned', 2), (3, 'investigate', 'assigned', 'investigating', 3),
             (4, 'reply', 'investigating', 'replied', 4), (5, 'close', 'replied', 'closed', 5))
     AS step(n, action, source, target, rank) ON true
WHERE c.hospital_id = :h
  AND step.rank <= array_position(ARRAY['new','accepted','assigned','investigating','replied','closed'], c.status) - 1
"""
LOAD_STAFF = """
INSERT INTO complaints_staff (hospital_id, complaint_id, user_id, name)
SELECT c.hospital_id, c.id, CASE WHEN c.id % 3 = 0 THEN :doctor END,
       CASE WHEN c.id % 3 <> 0 THEN '医生' || (c.id % 40) END
FROM complaints_complaint c WHERE c.hospital_id = :h AND c.id % 5 <> 0
"""

LIST_SQL = """
SELECT c.id, c.reference, c.status, c.severity, c.patient_id, c.complainant_name, c.anonymous, c.event_date,
       c.due_date, c.settled_on_spot, c.received_at, c.replied_at, c.closed_at, c.finding,
       ch.id, ch.name, cat.id, cat.name, d.id, d.name, u.id, u.display_name
FROM complaints_complaint c
JOIN complaints_channel ch ON ch.id = c.channel_id
JOIN complaints_category cat ON cat.id = c.category_id
LEFT JOIN core_department d ON d.id = c.department_id
LEFT JOIN core_user u ON u.id = c.handler_id
WHERE c.hospital_id = :h AND c.status = ANY(:statuses) AND c.category_id = :category
  AND c.received_at >= :since AND c.received_at < :until
ORDER BY c.received_at DESC, c.id DESC LIMIT 20
"""
COUNT_SQL = """
SELECT count(*) FROM complaints_complaint c
WHERE c.hospital_id = :h AND c.status = ANY(:statuses) AND c.category_id = :category
  AND c.received_at >= :since AND c.received_at < :until
"""
# The best hand-written form found (issue 23's profile): aggregate per category id with FILTER
# counts and one interval sum per group, then name the groups; the plugin's query has the same
# shape. The first form (join the names to every complaint, sum CASEs, extract the epoch of every
# row) took 35% longer on the same data.
STATS_SQL = """
SELECT cat.name, sum(g.total), sum(g.justified), sum(g.closed), sum(g.answered), sum(g.on_time),
       sum(g.days) / nullif(sum(g.answered), 0)
FROM (SELECT c.category_id, count(*) AS total,
             count(*) FILTER (WHERE c.finding IN ('justified', 'partly')) AS justified,
             count(*) FILTER (WHERE c.status = 'closed') AS closed,
             count(coalesce(c.replied_at, c.closed_at)) AS answered,
             count(*) FILTER (WHERE c.on_time) AS on_time,
             CAST(extract(epoch FROM sum(coalesce(c.replied_at, c.closed_at) - c.received_at)) AS float8)
                 / 86400.0 AS days
      FROM complaints_complaint c
      WHERE c.hospital_id = :h AND c.received_at >= :since AND c.received_at < :until
      GROUP BY c.category_id) AS g
JOIN complaints_category cat ON cat.id = g.category_id
GROUP BY cat.name ORDER BY 2 DESC, cat.name
"""


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--prefix", default="hcrm_bench", help="the scratch database's name prefix")
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument("--keep", action="store_true", help="keep the loaded database and print its URL")
    reuse.add_argument("--reuse", metavar="URL", help="time on a database an earlier --keep run loaded")
    args = parser.parse_args()
    if args.reuse:
        run(args.reuse, args, fresh=False)
        return
    with scratch_database(args.server, keep=args.keep, prefix=args.prefix) as url:
        run(url, args, fresh=True)


def load(conn, hospital_id: int, count: int, owner: int, doctor: int) -> None:
    ids = {table: conn.execute(sa.text(f"SELECT array_agg(id ORDER BY id) FROM {table} WHERE hospital_id = :h"),
                               {"h": hospital_id}).scalar_one()
           for table in ("complaints_channel", "complaints_category", "core_department")}
    conn.execute(sa.text(LOAD_COMPLAINTS), {"h": hospital_id, "n": count, "owner": owner,
                                            "channels": ids["complaints_channel"],
                                            "categories": ids["complaints_category"],
                                            "departments": ids["core_department"]})
    conn.execute(sa.text(LOAD_TRANSITIONS), {"h": hospital_id})
    conn.execute(sa.text(LOAD_STAFF), {"h": hospital_id, "doctor": doctor})


def prepare(url: str, args, fresh: bool):
    from core import migrations_support
    from core.extensions import db
    from core.testing import make_app, make_department, make_hospital, make_user

    app = make_app(url)
    with app.app_context():
        if not fresh:
            return app, dict(db.session.execute(sa.text("SELECT code, id FROM core_hospital")).all())["A"]
        migrations_support.upgrade()
        hospitals = {}
        for code, count in (("A", args.complaints), ("B", args.complaints // 10)):
            hospital = make_hospital(code, plugins=["patients", "complaints"])
            for dept in ("IM", "SURG", "ORTH", "OBGYN", "PED"):
                make_department(hospital, dept)
            office = make_user(hospital, f"office_{code.lower()}", ("complaint_office",))
            doctor = make_user(hospital, f"doctor_{code.lower()}", ("staff",))
            hospitals[code] = (hospital.id, count, office.id, doctor.id)
        started = time.perf_counter()
        with db.engine.begin() as conn:
            for hospital_id, count, owner, doctor in hospitals.values():
                load(conn, hospital_id, count, owner, doctor)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
            total = conn.execute(sa.text("SELECT count(*) FROM complaints_complaint")).scalar_one()
            steps = conn.execute(sa.text("SELECT count(*) FROM complaints_transition")).scalar_one()
        print(f"loaded {total:,} complaints, {steps:,} transitions in {time.perf_counter() - started:.0f} s")
    return app, hospitals["A"][0]


def run(url: str, args, fresh: bool) -> None:
    from core.testing import PASSWORD, api_token, login

    app, hospital_id = prepare(url, args, fresh)
    client = app.test_client()
    headers = {**api_token(client, "office_a", PASSWORD), "Accept-Language": "en"}
    login(client, "office_a", PASSWORD)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    rng = random.Random(20261207)
    timings: dict[str, tuple[list, list]] = {"list": ([], []), "statistics": ([], [])}
    with engine.connect() as conn:
        categories = conn.execute(sa.text("SELECT id FROM complaints_category WHERE hospital_id = :h ORDER BY id"),
                                  {"h": hospital_id}).scalars().all()

        def timed(work):
            started = time.perf_counter()
            work()
            return (time.perf_counter() - started) * 1000

        for round_no in range(args.repeat + 1):  # round 0 warms the caches and is not counted
            start = date(2025, 1, 1) + timedelta(days=rng.randrange(0, 500))
            until = start + timedelta(days=rng.choice((30, 90, 180)))
            statuses = rng.sample(STATUSES, rng.randint(1, 3))
            category = rng.choice(categories)
            bound = {"h": hospital_id, "statuses": statuses, "category": category, "since": start, "until": until}

            def app_list(statuses=statuses, category=category, start=start, until=until):
                response = client.get("/api/v1/complaints/", headers=headers, query_string={
                    "status": statuses, "category_id": category, "received_from": start.isoformat(),
                    "received_to": (until - timedelta(days=1)).isoformat(), "per_page": 20})
                assert response.status_code == 200, response.get_data(as_text=True)[:300]

            def sql_list(bound=bound):
                rows = conn.execute(sa.text(LIST_SQL), bound).all()
                if len(rows) == 20:
                    conn.execute(sa.text(COUNT_SQL), bound).scalar_one()
                conn.rollback()

            def app_stats(start=start, until=until):
                response = client.get("/reports/complaints.statistics.csv", query_string={
                    "by": "category", "from": start.isoformat(), "to": (until - timedelta(days=1)).isoformat()})
                assert response.status_code == 200, response.get_data(as_text=True)[:300]

            def sql_stats(bound=bound):
                conn.execute(sa.text(STATS_SQL), bound).all()
                conn.rollback()

            for label, through_app, raw in (("list", app_list, sql_list), ("statistics", app_stats, sql_stats)):
                order = (through_app, raw) if round_no % 2 else (raw, through_app)
                elapsed = {fn: timed(fn) for fn in order}
                if round_no:
                    timings[label][0].append(elapsed[through_app])
                    timings[label][1].append(elapsed[raw])
    print(f"{'query':12} {'app p50':>8} {'app p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'p95 ratio':>9}")
    misses = []
    for label, (app_ms, sql_ms) in timings.items():
        a95, s95 = percentile(app_ms, 0.95), percentile(sql_ms, 0.95)
        print(f"{label:12} {statistics.median(app_ms):8.1f} {a95:8.1f} {statistics.median(sql_ms):8.1f} {s95:8.1f} "
              f"{(a95 / s95 if s95 else float('inf')):9.2f}")
        if a95 > TARGET_MS:
            misses.append(f"{label}: app p95 {a95:.1f} ms")
    print(f"within target (app p95 <= {TARGET_MS} ms)" if not misses else "OVER TARGET:\n  " + "\n  ".join(misses))


if __name__ == "__main__":
    main()
