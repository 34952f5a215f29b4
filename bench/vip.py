"""VIP re-tiering and customer-value re-scoring at scale (issue 20), on PostgreSQL.

    .venv/bin/python bench/vip.py [--patients 1000000] [--visits-per-patient 3]
        [--server postgresql://postgres@127.0.0.1:5432/postgres] [--keep | --reuse URL | --drop URL]

A scratch database is created (``--keep``: kept, its URL printed; ``--reuse URL``: that kept
database is used again, its vip rows cleared, nothing generated; ``--drop URL``: dropped).
Patients (a tenth referred by one of 2,000 referrers who are patients themselves, by phone),
visits over the last two years and the seeded tiers, rules, plans and value items are generated
set-based in SQL. Each step prints the plugin next to one hand-written statement computing the
same result (the ceiling), in the same run; the ceiling runs first in a transaction that is then
rolled back, so both start from the same rows:

1. first re-tier (empty member table): ``retier.apply`` vs one INSERT … SELECT of the members;
2. re-tier with nothing to move: ``retier.apply`` vs one INSERT … ON CONFLICT DO UPDATE … WHERE
   the tier differs (writes nothing);
3. first re-score (empty score table): ``value.rescore`` vs one INSERT … SELECT, checked equal;
4. the nightly run on the next day (10,000 new visits): the nightly jobs' re-tier and re-score vs
   the two hand-written upserts, then the service-task job (no ceiling);
5. the churn list of one department (first page + capped count), p95 over 50 runs.

Load average is printed with each step (the machine is shared): compare the ratios. Peak RSS of
this process is printed before and after: the work is set-based, so it stays flat.
Target: the plugin at ≥ 50 % of the ceiling's speed and ≤ 60 s; churn list p95 ≤ 100 ms.
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's code
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/scratch.py

from scratch import drop_database, scratch_database

DEPARTMENTS = ("IM", "SURG", "ORTH", "OBGYN", "PED")
REFERRERS = 2000

GENERATE = """
INSERT INTO patients_patient (hospital_id, name, gender, phone, birth_date, address, owner_id, department_id,
                              referrer_id, key_patient, created_at, updated_at)
SELECT :h, '患者' || g, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
       CASE WHEN g % 3 <> 0 THEN '138' || lpad(g::text, 8, '0') END,
       CASE WHEN g % 4 <> 0 THEN DATE '1950-01-01' + (g % 20000) END,
       CASE WHEN g % 5 = 0 THEN '长沙市' END,
       (:owners)[1 + g % cardinality(:owners)], (:depts)[1 + g % cardinality(:depts)], NULL, false, now(), now()
FROM generate_series(1, :patients) AS g;
INSERT INTO patients_referrer (hospital_id, name, phone, active)
SELECT :h, '介绍人' || k, '138' || lpad((k * 7)::text, 8, '0'), true FROM generate_series(1, :referrers) AS k;
UPDATE patients_patient p SET referrer_id = r.min_id + (p.id % :referrers)
FROM (SELECT min(id) AS min_id FROM patients_referrer WHERE hospital_id = :h) r
WHERE p.hospital_id = :h AND p.id % 10 = 0;
INSERT INTO patients_visit (hospital_id, patient_id, owner_id, department_id, kind, status, visit_at, spending,
                            created_at)
SELECT :h, m.min_id + (g::bigint * 7919) % :patients, NULL, NULL, 'outpatient',
       CASE WHEN g % 50 = 1 THEN 'cancelled' ELSE 'completed' END,
       :now - ((g * 31) % 730) * INTERVAL '1 day' - (g % 600) * INTERVAL '1 minute',
       ((g::bigint * 7919) % 9000)::numeric, now()
FROM generate_series(1, :visits) AS g, (SELECT min(id) AS min_id FROM patients_patient WHERE hospital_id = :h) m
"""


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def setup(app, patients: int, visits: int):
    from core.clock import local_now
    from core.extensions import db
    from core.testing import make_department, make_hospital, make_user

    hospital = make_hospital("A", plugins=["patients", "vip"])
    make_hospital("B", plugins=["patients", "vip"])
    depts = [make_department(hospital, code) for code in DEPARTMENTS]
    owners = [make_user(hospital, f"doc_{d.code.lower()}_{i}", ("staff",), department=d).id
              for d in depts for i in range(3)]
    started = time.perf_counter()
    with db.engine.begin() as conn:
        for statement in GENERATE.split(";"):
            conn.execute(sa.text(statement), {"h": hospital.id, "owners": owners, "depts": [d.id for d in depts],
                                              "patients": patients, "visits": visits, "referrers": REFERRERS,
                                              "now": local_now()})
    with db.engine.begin() as conn:
        conn.execute(sa.text("ANALYZE"))
    print(f"generated {patients:,} patients, {visits:,} visits in {time.perf_counter() - started:.1f} s")
    return hospital, depts


def _case(measure: str, steps, at_most=False) -> str:
    ordered = sorted(steps, key=lambda step: step[0], reverse=not at_most)
    op = "<=" if at_most else ">="
    whens = " ".join(f"WHEN {measure} {op} {value} THEN {points}" for value, points in ordered)
    return f"CASE {whens} ELSE 0 END"


def hand_retier_sql(specs) -> str:
    """One INSERT … SELECT: each patient's best tier by the rules (all seeded rules use 12 months)."""
    def met(spec):
        checks = []
        if spec.min_spending is not None:
            checks.append(f"a.s >= {spec.min_spending}")
        if spec.min_visits is not None:
            checks.append(f"a.v >= {spec.min_visits}")
        return "a.v >= 1 AND (" + (" AND " if spec.combine == "and" else " OR ").join(checks) + ")"
    best = " ".join(f"WHEN {met(spec)} THEN {spec.tier_id}" for spec in specs)
    return f"""
    INSERT INTO vip_member (hospital_id, patient_id, tier_id, since, reason_kind)
    SELECT :h, t.patient_id, t.tier_id, :stamp, 'rule' FROM (
      SELECT a.patient_id, CASE {best} END AS tier_id
      FROM (SELECT patient_id, sum(spending) AS s, count(*) AS v FROM patients_visit
            WHERE hospital_id = :h AND visit_at >= :cut AND visit_at <= :now AND status <> 'cancelled'
            GROUP BY patient_id) a
      JOIN patients_patient p ON p.id = a.patient_id AND p.hospital_id = :h AND p.merged_into_id IS NULL) t
    WHERE t.tier_id IS NOT NULL"""


def hand_rescore_sql(items) -> str:
    """One INSERT … SELECT computing what value.rescore writes (the seeded items; no surveys)."""
    from plugins.vip.value import parse_scale
    scale = {item.code: parse_scale(item.scale) for item in items}
    weight = {item.code: item.weight for item in items if item.enabled}
    counted = sum(w for code, w in weight.items() if code != "satisfaction")  # nobody answered a survey
    points = {"profile": _case("comp", scale["profile"]), "spending": _case("s", scale["spending"]),
              "frequency": _case("v", scale["frequency"]),
              "recency": f"CASE WHEN l0 IS NULL THEN 0 ELSE {_case('days', scale['recency'], at_most=True)} END",
              "referrals": _case("k", scale["referrals"]), "referral_spending": _case("ks", scale["referral_spending"])}
    total = " + ".join(f"({points[code]}) * {w}" for code, w in weight.items() if code in points)
    text_filled = " + ".join(f"(CASE WHEN p.{c} IS NOT NULL AND p.{c} <> '' THEN 1 ELSE 0 END)"
                             for c in ("phone", "id_number", "address", "occupation", "insurance_no"))
    other_filled = " + ".join(f"(CASE WHEN p.{c} IS NOT NULL THEN 1 ELSE 0 END)"
                              for c in ("birth_date", "region_id", "source_id"))
    return f"""
    INSERT INTO vip_score (hospital_id, patient_id, owner_id, department_id, completeness, spending, visits,
        total_visits, first_visit_at, last_visit_at, referrals, referral_spending, satisfaction, points_profile,
        points_spending, points_frequency, points_recency, points_referrals, points_referral_spending,
        points_satisfaction, score, r, f, m, segment, churn, computed_at)
    WITH agg AS (
      SELECT patient_id, sum(CASE WHEN visit_at >= :cut THEN spending ELSE 0 END) AS s,
             sum(CASE WHEN visit_at >= :cut THEN 1 ELSE 0 END) AS v, sum(spending) AS life, count(*) AS n,
             min(visit_at) AS f0, max(visit_at) AS l0
      FROM patients_visit WHERE hospital_id = :h AND status <> 'cancelled' AND visit_at <= :now
      GROUP BY patient_id),
    refs AS (
      SELECT r.phone, count(p2.id) AS k, coalesce(sum(agg.life), 0) AS ks
      FROM patients_referrer r JOIN patients_patient p2 ON p2.referrer_id = r.id
      LEFT JOIN agg ON agg.patient_id = p2.id
      WHERE r.hospital_id = :h AND r.phone IS NOT NULL AND p2.merged_into_id IS NULL GROUP BY r.phone),
    base AS (
      SELECT p.id, p.owner_id, p.department_id, ({text_filled} + {other_filled}) * 100 / 8 AS comp,
             coalesce(agg.s, 0) AS s, coalesce(agg.v, 0) AS v, coalesce(agg.n, 0) AS n, agg.f0, agg.l0,
             coalesce(refs.k, 0) AS k, coalesce(refs.ks, 0) AS ks,
             extract(epoch FROM (CAST(:now AS timestamp) - agg.l0)) / 86400.0 AS days,
             CASE WHEN agg.patient_id IS NULL THEN 0 ELSE 1 END AS hv,
             ntile(5) OVER (PARTITION BY agg.patient_id IS NULL ORDER BY agg.l0, p.id) AS r,
             ntile(5) OVER (PARTITION BY agg.patient_id IS NULL ORDER BY coalesce(agg.v, 0), p.id) AS f,
             ntile(5) OVER (PARTITION BY agg.patient_id IS NULL ORDER BY coalesce(agg.s, 0), p.id) AS m
      FROM patients_patient p LEFT JOIN agg ON agg.patient_id = p.id LEFT JOIN refs ON refs.phone = p.phone
      WHERE p.hospital_id = :h AND p.merged_into_id IS NULL)
    SELECT :h, id, owner_id, department_id, comp, s, v, n, f0, l0, k, ks, NULL,
           {points['profile']}, {points['spending']}, {points['frequency']}, {points['recency']},
           {points['referrals']}, {points['referral_spending']}, 0,
           CAST(({total}) * 1.0 / {counted} AS numeric(6, 2)),
           CASE WHEN hv = 1 THEN r END, CASE WHEN hv = 1 THEN f END, CASE WHEN hv = 1 THEN m END,
           CASE WHEN hv = 0 THEN NULL WHEN r >= 4 AND f >= 4 AND m >= 4 THEN 'champions'
                WHEN r >= 3 AND f >= 4 THEN 'loyal' WHEN r >= 4 AND f <= 2 THEN 'potential'
                WHEN r <= 2 AND f >= 3 THEN 'at_risk' WHEN r = 1 AND f <= 2 THEN 'lost'
                WHEN r = 2 AND f <= 2 THEN 'hibernating' ELSE 'need_attention' END,
           CASE WHEN n = 0 THEN false WHEN n = 1 THEN days > :single
                ELSE days * (n - 1) > extract(epoch FROM (l0 - f0)) / 86400.0 * :factor END,
           :stamp
    FROM base"""


def hand_retier_upsert_sql(specs) -> str:
    """The members the rules give, as one upsert writing only the rows whose tier differs."""
    return hand_retier_sql(specs) + """
    ON CONFLICT (patient_id) DO UPDATE SET tier_id = excluded.tier_id, since = excluded.since,
        reason_kind = 'rule', reason = NULL, below_since = NULL, changed_by_id = NULL
    WHERE vip_member.tier_id <> excluded.tier_id"""


SCORE_COLUMNS = ["owner_id", "department_id", "completeness", "spending", "visits", "total_visits",
                 "first_visit_at", "last_visit_at", "referrals", "referral_spending", "satisfaction",
                 "points_profile", "points_spending", "points_frequency", "points_recency", "points_referrals",
                 "points_referral_spending", "points_satisfaction", "score", "r", "f", "m", "segment", "churn"]


def hand_rescore_upsert_sql(items) -> str:
    """The scores, as one upsert writing only the rows whose values differ."""
    stored = ", ".join(f"vip_score.{c}" for c in SCORE_COLUMNS)
    new = ", ".join(f"excluded.{c}" for c in SCORE_COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in SCORE_COLUMNS + ["computed_at"])
    return hand_rescore_sql(items) + f"""
    WHERE true ON CONFLICT (patient_id) DO UPDATE SET {sets} WHERE ({stored}) IS DISTINCT FROM ({new})"""


def load() -> str:
    one, five = os.getloadavg()[:2]
    return f"load {one:.1f}/{five:.1f}"


NEXT_DAY = """
INSERT INTO patients_visit (hospital_id, patient_id, kind, status, visit_at, spending, created_at, external_id)
SELECT :h, m.min_id + (g::bigint * 104729) % :patients, 'outpatient', 'completed', :now - g * INTERVAL '1 second',
       (g % 5000)::numeric, now(), 'bench-next-' || g
FROM generate_series(1, :visits) AS g, (SELECT min(id) AS min_id FROM patients_patient WHERE hospital_id = :h) m
"""


def existing():
    """The kept database's hospital A and departments (``--reuse``), its vip rows cleared."""
    from core.extensions import db
    from core.models import Department, Hospital
    hospital = db.session.execute(sa.select(Hospital).where(Hospital.code == "A")).scalar_one()
    depts = db.session.execute(sa.select(Department).where(Department.hospital_id == hospital.id)
                               .order_by(Department.id)).scalars().all()
    with db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE vip_member, vip_tier_change, vip_score, vip_retier_run, vip_service_task "
                             "CASCADE"))
        conn.execute(sa.text("DELETE FROM patients_visit WHERE hospital_id = :h AND external_id LIKE 'bench-next-%'"),
                     {"h": hospital.id})
        found = conn.execute(sa.text("SELECT count(*) FROM patients_patient WHERE hospital_id = :h"),
                             {"h": hospital.id}).scalar_one()
    db.session.commit()
    print(f"reusing {found:,} patients")
    return hospital, depts


def ceiling(sql: str, params: dict, check) -> tuple[float, object]:
    """Run one hand-written statement in a transaction rolled back afterwards: (seconds, check)."""
    from core.extensions import db
    with db.engine.connect() as conn:
        with conn.begin() as tx:
            started = time.perf_counter()
            conn.execute(sa.text(sql), params)
            took = time.perf_counter() - started
            seen = check(conn)
            tx.rollback()
    return took, seen


def timed(step):
    from core.extensions import db
    started = time.perf_counter()
    result = step()
    db.session.commit()
    return time.perf_counter() - started, result


def line(name: str, plugin: float, hand: float | None, extra: str = "") -> None:
    share = f"{hand / plugin:5.0%} of ceiling" if hand is not None else " " * 16
    hand_text = f"{hand:7.2f} s" if hand is not None else "      —  "
    print(f"{name:34s} plugin {plugin:7.2f} s  ceiling {hand_text}  {share}  {load()}  {extra}", flush=True)


def run(url: str, args) -> None:
    from core import migrations_support
    from core.clock import local_now
    from core.extensions import db
    from core.models import utcnow
    from core.tenancy import hospital_scope
    from core.testing import make_app
    from plugins.vip import churn, declare, retier, service_plans, tiering, value

    app = make_app(url)
    with app.app_context():
        migrations_support.upgrade()
        if args.reuse:
            hospital, depts = existing()
        else:
            hospital, depts = setup(app, args.patients, args.patients * args.visits_per_patient)
        hid = hospital.id
        print(f"peak RSS before: {rss_mb():.0f} MB   {load()}", flush=True)

        def members(conn):
            return tuple(conn.execute(sa.text(
                "SELECT count(*), sum(tier_id), sum(patient_id % 9973) FROM vip_member WHERE hospital_id = :h"),
                {"h": hid}).one())

        def scores(conn):
            return tuple(conn.execute(sa.text(
                "SELECT count(*), sum(score), sum(points_recency), sum(coalesce(r, 0) * 7 + coalesce(f, 0) * 3 "
                "+ coalesce(m, 0)), count(*) FILTER (WHERE churn), count(DISTINCT segment) "
                "FROM vip_score WHERE hospital_id = :h"), {"h": hid}).one())

        def in_scope(step):
            def call():
                with hospital_scope(hid):
                    return step()
            return call

        with hospital_scope(hid):
            specs, items, conf = tiering.active_specs(), value.items(), value.settings()
        db.session.commit()

        def retier_params():
            now = local_now()
            return {"h": hid, "stamp": utcnow(), "now": now, "cut": retier.months_back(now, 12)}

        def rescore_params():
            now = local_now()
            return {"h": hid, "now": now, "cut": retier.months_back(now, conf.window_months), "stamp": utcnow(),
                    "single": conf.churn_single_visit_days, "factor": float(conf.churn_factor)}

        # 1. first re-tier, empty member table
        hand, hand_members = ceiling(hand_retier_sql(specs), retier_params(), members)
        took, run_row = timed(in_scope(lambda: retier.apply(hid)))
        with db.engine.connect() as conn:
            same = members(conn) == hand_members
        line("first re-tier", took, hand, f"joined {run_row.joined:,}, same members: {same}")
        first_retier = (took, hand)

        # 2. re-tier with nothing to move
        hand, _ = ceiling(hand_retier_upsert_sql(specs), retier_params(), members)
        took, again = timed(in_scope(lambda: retier.apply(hid)))
        moved = again.joined + again.moved_up + again.moved_down + again.left
        line("re-tier, nothing moves", took, hand, f"moved {moved}")

        # 3. first re-score, empty score table
        hand, hand_scores = ceiling(hand_rescore_sql(items), rescore_params(), scores)
        took, count = timed(in_scope(lambda: value.rescore(hid)))
        with db.engine.connect() as conn:
            mine = scores(conn)
        same = mine[:1] + mine[2:] == hand_scores[:1] + hand_scores[2:]
        line("first re-score", took, hand, f"{count:,} scores, same: {same} (score sums {mine[1]} / {hand_scores[1]})")
        first_rescore = (took, hand)

        # 4. the nightly run on the next day: 10,000 new visits
        with db.engine.begin() as conn:
            conn.execute(sa.text(NEXT_DAY), {"h": hid, "patients": args.patients, "visits": 10_000, "now": local_now()})
        hand_retier, _ = ceiling(hand_retier_upsert_sql(specs), retier_params(), members)
        hand_rescore, _ = ceiling(hand_rescore_upsert_sql(items), rescore_params(), scores)
        jobs = {job.id: job for job in declare.jobs()}
        took_retier, nightly = timed(in_scope(lambda: jobs["vip.nightly_retier"].run(hospital)))
        with hospital_scope(hid):
            last = retier.last_runs(1)[0]
        line("nightly re-tier (next day)", took_retier, hand_retier,
             f"joined {last.joined:,}, up {last.moved_up:,}, down {last.moved_down:,}")
        took_rescore, _ = timed(in_scope(lambda: jobs["vip.nightly_rescore"].run(hospital)))
        line("nightly re-score (next day)", took_rescore, hand_rescore)
        line("nightly re-tier + re-score", took_retier + took_rescore, hand_retier + hand_rescore)
        took_tasks, _ = timed(in_scope(lambda: jobs["vip.daily_service_tasks"].run(hospital)))
        with db.engine.connect() as conn:
            tasks = conn.execute(sa.text("SELECT count(*) FROM vip_service_task")).scalar_one()
        line("nightly service tasks (first day)", took_tasks, None, f"{tasks:,} tasks")
        took_tasks, _ = timed(in_scope(lambda: service_plans.generate(hid)))
        line("service tasks again (same day)", took_tasks, None)

        # 5. the churn list of one department, as its page asks (first page, capped count)
        timings = []
        for _ in range(50):
            started = time.perf_counter()
            with hospital_scope(hid):
                stmt = churn.churn_stmt({"department_id": depts[0].id})
                db.session.execute(stmt.limit(50)).all()
                db.session.execute(sa.select(sa.func.count()).select_from(stmt.limit(10000).subquery())).scalar_one()
                db.session.rollback()
            timings.append((time.perf_counter() - started) * 1000)
        p95 = statistics.quantiles(timings, n=20)[18]
        print(f"churn list, one department: p95 {p95:.1f} ms (median {statistics.median(timings):.1f} ms)  {load()}")
        print(f"peak RSS after: {rss_mb():.0f} MB")
        print(f"speed vs ceiling: first re-tier {first_retier[1] / first_retier[0]:.0%}, first re-score "
              f"{first_rescore[1] / first_rescore[0]:.0%} (target ≥ 50 %); plugin times "
              f"{first_retier[0]:.1f} s / {first_rescore[0]:.1f} s (target ≤ 60 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--visits-per-patient", type=int, default=3)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--keep", action="store_true", help="keep the generated database for --reuse")
    parser.add_argument("--reuse", metavar="URL", help="a database kept by --keep: no generation")
    parser.add_argument("--drop", metavar="URL", help="drop a database kept by --keep, then stop")
    args = parser.parse_args()
    os.environ.setdefault("HCRM_SECRET_KEY", "bench")
    if args.drop:
        drop_database(args.drop)
    elif args.reuse:
        run(args.reuse, args)
    else:
        with scratch_database(args.server, keep=args.keep, prefix="hcrm_vip_bench") as url:
            run(url, args)


if __name__ == "__main__":
    main()
