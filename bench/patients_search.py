"""Patient search at scale: 1M generated patients on PostgreSQL, each query type timed through
the API and as the equivalent hand-written SQL, in the same run.

    .venv/bin/python bench/patients_search.py [--patients 1000000] [--repeat 200]
        [--server postgresql://postgres@127.0.0.1:5432/postgres] [--keep | --reuse URL]
        [--token-cache-seconds 5]

A scratch database is created and dropped (``--keep`` leaves it, loaded, and prints its URL;
``--reuse URL`` times queries on such a database without loading again). Prints p50/p95 (ms)
per query type for the API (GET /api/v1/patients, token auth, JSON serialisation, tenancy scope
included) and for the raw SQL of the same answer, and their ratio. The token's principal is
reused between calls as in production (``security.api_token_cache_seconds``, default 5: a client
searching sends a burst of calls); ``--token-cache-seconds 0`` loads it on every call. The raw SQL is what a
hand-written endpoint would send for that page: the page of patients with their lookups (source,
department, region, referrer, owner) and tags joined, and, when the page is full, the count
capped as the API caps it (a page that is not full is the last one: its total needs no count).
Each round draws new values (a name, a patient's phone…) and times both for every query type,
alternating which goes first: the second finds the rows the first read already cached.
Targets (issue 3): API p95 <= 50 ms and <= 3x the raw SQL p95, for every query type.
"""
from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa

CAP = 10_000  # plugins.patients.services.LIST_COUNT_CAP

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国建华志强文杰海燕晓明红梅玉兰春花秋菊冬梅子涵浩然欣怡梓萱宇轩一诺"


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def build_names(rng: random.Random, count: int) -> list[str]:
    names = set()
    while len(names) < count:
        given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
        names.add(rng.choice(SURNAMES) + given)
    return sorted(names)


def load(conn, hospital_id: int, other_id: int, patients: int, rng: random.Random) -> list[str]:
    """Generate the data set in SQL; returns the names used (for realistic queries)."""
    from plugins.patients.search_index import keys_of
    names = build_names(rng, 20_000)
    conn.execute(sa.text("CREATE TEMP TABLE bench_name (n int PRIMARY KEY, name text)"))
    conn.execute(sa.text("INSERT INTO bench_name VALUES (:n, :name)"),
                 [{"n": i, "name": name} for i, name in enumerate(names)])
    conn.execute(sa.text("CREATE TEMP TABLE bench_key (name text, key text)"))
    conn.execute(sa.text("INSERT INTO bench_key VALUES (:name, :key)"),
                 [{"name": name, "key": key} for name in names for key in sorted(keys_of(name))])
    departments = conn.execute(sa.text("SELECT id FROM core_department WHERE hospital_id = :h"),
                               {"h": hospital_id}).scalars().all()
    sources = conn.execute(sa.text("SELECT id FROM patients_source WHERE hospital_id = :h"),
                           {"h": hospital_id}).scalars().all()
    diseases = conn.execute(sa.text("SELECT id, code, name FROM patients_disease WHERE hospital_id = :h"),
                            {"h": hospital_id}).all()
    conn.execute(sa.text("CREATE TEMP TABLE bench_disease (n int, id int, code text, name text)"))
    conn.execute(sa.text("INSERT INTO bench_disease VALUES (:n, :id, :code, :name)"),
                 [{"n": i, "id": d.id, "code": d.code, "name": d.name} for i, d in enumerate(diseases)])
    for hospital, count in ((hospital_id, patients), (other_id, patients // 10)):
        conn.execute(sa.text("""
            INSERT INTO patients_patient (hospital_id, name, gender, birth_date, id_number, phone, phone_last4,
                insurance_no, source_id, department_id, key_patient, created_at, updated_at)
            SELECT :h, bn.name, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END,
                   DATE '1940-01-01' + (g * 7919 % 29000)::int,
                   -- unique, as in a real archive: the birth date takes g mod 29000, the sequence
                   -- number the rest (the check digit is not computed: nothing here validates it)
                   '430621' || to_char(DATE '1940-01-01' + (g * 7919 % 29000)::int, 'YYYYMMDD')
                        || lpad((g / 29000 % 1000)::text, 3, '0') || (g % 10)::text,
                   p.phone, right(p.phone, 4), 'YB' || lpad(g::text, 10, '0'),
                   (:sources)[1 + g % cardinality(:sources)], (:depts)[1 + g % cardinality(:depts)],
                   g % 97 = 0,
                   TIMESTAMP '2020-01-01' + (g * 3517 % 2000) * INTERVAL '1 day',
                   TIMESTAMP '2020-01-01' + (g * 3517 % 2000) * INTERVAL '1 day'
            FROM generate_series(1::bigint, :count) AS g
            JOIN bench_name bn ON bn.n = (g * 104729) % 20000
            CROSS JOIN LATERAL (SELECT '1' || (3 + g % 7)::text || lpad(((g * 7907 + :h * 13) % 1000000000)::text, 9, '0') AS phone) p
        """), {"h": hospital, "count": count, "sources": sources, "depts": departments})
    conn.execute(sa.text("""
        INSERT INTO patients_search_key (hospital_id, patient_id, key, created_at, owner_id, department_id)
        SELECT p.hospital_id, p.id, k.key, p.created_at, p.owner_id, p.department_id
        FROM patients_patient p JOIN bench_key k ON k.name = p.name
    """))
    conn.execute(sa.text("""
        INSERT INTO patients_visit (hospital_id, patient_id, kind, status, visit_at, spending, department_id,
                                    created_at)
        SELECT p.hospital_id, p.id, CASE WHEN p.id % 5 = 0 THEN 'inpatient' ELSE 'outpatient' END, 'completed',
               TIMESTAMP '2024-01-01' + (p.id * 7 % 700) * INTERVAL '1 day', (p.id % 900) + 50,
               p.department_id, now()
        FROM patients_patient p
    """))
    conn.execute(sa.text("""
        INSERT INTO patients_diagnosis (hospital_id, visit_id, disease_id, code, name, position, patient_id, visit_at)
        SELECT v.hospital_id, v.id, d.id, d.code, d.name, 0, v.patient_id, v.visit_at
        FROM patients_visit v JOIN bench_disease d ON d.n = v.id % (SELECT count(*) FROM bench_disease)
    """))
    conn.execute(sa.text("ANALYZE"))
    return names


PAGE_SQL = """
SELECT p.*, s.name AS source_name, d.name AS department_name, r.name AS region_name, f.name AS referrer_name,
       u.display_name AS owner_name, t.name AS tag
FROM (SELECT p.*, {keys} FROM patients_patient p {join}
      WHERE p.hospital_id = :h AND p.merged_into_id IS NULL AND {where}
      ORDER BY sort1 DESC, sort2 DESC LIMIT 20) p
LEFT JOIN patients_source s ON s.id = p.source_id
LEFT JOIN core_department d ON d.id = p.department_id
LEFT JOIN patients_region r ON r.id = p.region_id
LEFT JOIN patients_referrer f ON f.id = p.referrer_id
LEFT JOIN core_user u ON u.id = p.owner_id
LEFT JOIN patients_patient_tag pt ON pt.patient_id = p.id LEFT JOIN patients_tag t ON t.id = pt.tag_id
ORDER BY p.sort1 DESC, p.sort2 DESC"""
NEWEST = "p.created_at AS sort1, p.id AS sort2"
NAME_MATCHES = ("JOIN (SELECT DISTINCT patient_id, created_at FROM patients_search_key WHERE hospital_id = :h "
                "AND key LIKE :v ORDER BY created_at DESC, patient_id DESC) m ON m.patient_id = p.id")


@dataclass
class QueryType:
    """One kind of search: the API's query string and the hand-written SQL of the same answer."""

    label: str
    api: dict
    where: str = "TRUE"
    params: dict = field(default_factory=dict)
    by_name: bool = False  # matched in the name index, as the API does

    def page_sql(self) -> str:
        if self.by_name:
            return PAGE_SQL.format(join=NAME_MATCHES, where="TRUE", keys="m.created_at AS sort1, m.patient_id AS sort2")
        return PAGE_SQL.format(join="", where=self.where, keys=NEWEST)

    def count_sql(self) -> str:
        if self.by_name:
            return ("SELECT count(*) FROM (SELECT DISTINCT patient_id FROM patients_search_key WHERE hospital_id = :h "
                    f"AND key LIKE :v LIMIT {CAP + 1}) t")
        return (f"SELECT count(*) FROM (SELECT 1 FROM patients_patient p WHERE p.hospital_id = :h "
                f"AND p.merged_into_id IS NULL AND {self.where} LIMIT {CAP + 1}) t")

    def run_sql(self, conn, hospital_id: int) -> None:
        """The statements a hand-written endpoint sends for this page."""
        bound = {"h": hospital_id, **self.params}
        page = conn.execute(sa.text(self.page_sql()), bound).all()  # a row per patient and tag
        if len({row.id for row in page}) == 20:
            conn.execute(sa.text(self.count_sql()), bound).scalar_one()


def query_types(rng: random.Random, names: list[str], sample_patient) -> list[QueryType]:
    from plugins.patients.identity import pinyin_keys
    name = rng.choice(names)
    initials = min(pinyin_keys(name), key=len)
    full = max(pinyin_keys(name), key=len)
    return [
        QueryType("name prefix", {"q": name[:2]}, params={"v": name[:2] + "%"}, by_name=True),
        QueryType("pinyin initials", {"q": initials}, params={"v": initials + "%"}, by_name=True),
        QueryType("pinyin full", {"q": full[:6]}, params={"v": full[:6] + "%"}, by_name=True),
        QueryType("phone last 4", {"q": sample_patient.phone[-4:]}, "p.phone_last4 = :v",
                  {"v": sample_patient.phone[-4:]}),
        QueryType("full phone", {"q": sample_patient.phone}, "(p.phone = :v OR p.phone2 = :v)",
                  {"v": sample_patient.phone}),
        QueryType("ID number", {"q": sample_patient.id_number}, "p.id_number = :v", {"v": sample_patient.id_number}),
        QueryType("insurance no", {"q": sample_patient.insurance_no}, "p.insurance_no = :v",
                  {"v": sample_patient.insurance_no}),
        QueryType("key patients", {"key_patient": "true"}, "p.key_patient = true"),
        QueryType("department", {"department_id": sample_patient.department_id}, "p.department_id = :v",
                  {"v": sample_patient.department_id}),
        QueryType("disease + dates",
                  {"disease_id": sample_patient.disease_id, "visit_from": "2024-03-01", "visit_to": "2024-03-31"},
                  "p.id IN (SELECT d.patient_id FROM patients_diagnosis d WHERE d.hospital_id = :h "
                  "AND d.disease_id = :v AND d.visit_at >= '2024-03-01' AND d.visit_at < '2024-04-01')",
                  {"v": sample_patient.disease_id}),
        QueryType("all, newest first", {}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=200,
                        help="timed rounds per query type (p95 of 200 is set by 10 samples, not 2)")
    parser.add_argument("--explain", action="store_true", help="print the plan of each type's slowest query")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--token-cache-seconds", type=int, default=5,
                        help="security.api_token_cache_seconds of the app under test (0: load the token every call)")
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument("--keep", action="store_true", help="keep the loaded database and print its URL")
    reuse.add_argument("--reuse", metavar="URL", help="time queries on a database an earlier --keep run loaded")
    args = parser.parse_args()
    if args.reuse:
        run(args.reuse, args, fresh=False)
        return
    admin = sa.create_engine(args.server.replace("postgresql://", "postgresql+psycopg2://", 1),
                             isolation_level="AUTOCOMMIT")
    name = f"hcrm_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        run(url, args, fresh=True)
    finally:
        if args.keep:
            print(f"kept: --reuse {url}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def prepare(url: str, args, fresh: bool):
    """The app and the data set: loaded into a new database, or found in a kept one."""
    from core import migrations_support
    from core.extensions import db
    from core.testing import make_app, make_department, make_hospital, make_user

    rng = random.Random(20261122)
    app = make_app(url, config_overrides={"api_token_cache_seconds": args.token_cache_seconds})
    with app.app_context():
        if not fresh:
            ids = dict(db.session.execute(sa.text("SELECT code, id FROM core_hospital")).all())
            return app, rng, ids["A"], build_names(rng, 20_000)
        migrations_support.upgrade()
        a = make_hospital("A", plugins=["patients"])
        b = make_hospital("B", plugins=["patients"])
        for code in ("IM", "SURG", "ORTH", "OBGYN", "PED"):
            make_department(a, code)
            make_department(b, code)
        make_user(a, "bench", ("analyst",))  # hospital scope, masked numbers: a typical searcher
        hospital_id, other_id = a.id, b.id
        started = time.perf_counter()
        with db.engine.begin() as conn:
            names = load(conn, hospital_id, other_id, args.patients, rng)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))  # what autovacuum does after a load: index-only scans work
            total = conn.execute(sa.text("SELECT count(*) FROM patients_patient")).scalar_one()
        print(f"loaded {total:,} patients (+ visits, diagnoses, name keys) in {time.perf_counter() - started:.0f} s")
    return app, rng, hospital_id, names


def run(url: str, args, fresh: bool) -> None:
    from core.testing import PASSWORD, api_token

    app, rng, hospital_id, names = prepare(url, args, fresh)
    client = app.test_client()
    headers = {**api_token(client, "bench", PASSWORD), "Accept-Language": "en"}
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    slowest: dict[str, tuple] = {}
    api_ms: dict[str, list[float]] = {}
    sql_ms: dict[str, list[float]] = {}
    rows: dict[str, int] = {}

    def call_api(query):
        started = time.perf_counter()
        response = client.get("/api/v1/patients", query_string={**query.api, "per_page": 20}, headers=headers)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise SystemExit(f"{query.label}: HTTP {response.status_code} {response.get_data(as_text=True)[:200]}")
        return response, elapsed

    def run_sql(query):
        started = time.perf_counter()
        query.run_sql(conn, hospital_id)
        elapsed = (time.perf_counter() - started) * 1000
        conn.rollback()
        return elapsed

    with engine.connect() as conn:
        for round_no in range(args.repeat + 1):  # round 0 warms the caches up and is not counted
            sample = conn.execute(sa.text("""
                SELECT p.phone, p.id_number, p.insurance_no, p.department_id, d.disease_id
                FROM patients_patient p JOIN patients_visit v ON v.patient_id = p.id
                JOIN patients_diagnosis d ON d.visit_id = v.id
                WHERE p.hospital_id = :h AND p.id = (SELECT min(id) FROM patients_patient WHERE hospital_id = :h)
                    + :offset"""), {"h": hospital_id, "offset": rng.randrange(args.patients)}).first()
            if sample is None:
                continue
            for query in query_types(rng, names, sample):
                # Whichever runs second finds the rows the first one read in the caches: take turns.
                if round_no % 2:
                    response, api_elapsed = call_api(query)
                    sql_elapsed = run_sql(query)
                else:
                    sql_elapsed = run_sql(query)
                    response, api_elapsed = call_api(query)
                if round_no == 0:
                    continue
                rows[query.label] = response.get_json()["total"]
                api_ms.setdefault(query.label, []).append(api_elapsed)
                sql_ms.setdefault(query.label, []).append(sql_elapsed)
                if args.explain and sql_elapsed >= max(sql_ms[query.label]):
                    slowest[query.label] = (query.page_sql(), {"h": hospital_id, **query.params})
    print(f"{'query type':18} {'API p50':>8} {'API p95':>8} {'SQL p50':>8} {'SQL p95':>8} {'p95 ratio':>9}  matches")
    misses = []
    for label in api_ms:
        a50, a95 = statistics.median(api_ms[label]), percentile(api_ms[label], 0.95)
        s50, s95 = statistics.median(sql_ms[label]), percentile(sql_ms[label], 0.95)
        ratio = a95 / s95 if s95 else float("inf")
        print(f"{label:18} {a50:8.1f} {a95:8.1f} {s50:8.1f} {s95:8.1f} {ratio:9.2f}  {rows[label]:,}")
        if a95 > 50 or ratio > 3:
            misses.append(f"{label}: API p95 {a95:.1f} ms, {ratio:.2f}x raw SQL")
    if args.explain:
        with engine.connect() as conn:
            for label, (statement, bound) in slowest.items():
                plan = conn.execute(sa.text("EXPLAIN (ANALYZE, BUFFERS) " + statement), bound).scalars().all()
                print(f"\n-- {label} (slowest raw sample)\n" + "\n".join(plan))
    print("all query types within target (p95 <= 50 ms and <= 3x raw SQL)" if not misses
          else "OVER TARGET:\n  " + "\n  ".join(misses))


if __name__ == "__main__":
    main()
