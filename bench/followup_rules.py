"""Follow-up plan generation at scale: 100k visits × a few 3-step rules, planned by the plugin's
hook (`visits_recorded`, one set-based INSERT … SELECT … ON CONFLICT DO NOTHING per call) next
to the same statement written by hand as raw SQL, in the same run; then a replay.

    .venv/bin/python bench/followup_rules.py [--visits 100000] [--batch 5000]
        [--server postgresql://postgres@127.0.0.1:5432/postgres | --sqlite]

A scratch database (PostgreSQL, or a temporary SQLite file) is created and dropped. The data
(patients, visits, diagnoses) is generated set-based in SQL. Each variant starts from an empty
plan table: (1) the hook in batches of --batch ids, as the HIS sync calls it; (2) the hook in
one call; (3) the raw SQL in batches; (4) the raw SQL in one call. Then a replay of every batch
through the hook must write 0 rows. Target (issue 4): the hook within 3× of the raw SQL.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository's code

RULES = (  # name, trigger, kind, department code, disease prefixes, offsets, assign_to
    ("骨科出院随访", "discharged", "inpatient", "ORTH", "", "1d, 7d, 30d", "doctor"),
    ("内科出院随访", "discharged", None, "IM", "", "24h, 7d, 30d", "owner"),
    ("高血压慢病随访", "recorded", "outpatient", None, "I10", "14d, 90d, 180d", "role"),
)
DEPARTMENTS = ("IM", "SURG", "ORTH", "OBGYN", "PED")

RAW_SQL = """
INSERT INTO followup_plan (hospital_id, patient_id, visit_id, rule_id, rule_step_id, category_id, method_id,
                           questionnaire_id, due_at, content, status, owner_id, department_id, created_at)
SELECT :h, v.patient_id, v.id, r.id, s.id, r.category_id, r.method_id, r.questionnaire_id,
       {due}, r.content, 'pending',
       CASE r.assign_to
         WHEN 'doctor' THEN coalesce(v.doctor_id, p.owner_id)
         WHEN 'owner' THEN p.owner_id
         WHEN 'user' THEN r.assignee_user_id
         WHEN 'role' THEN coalesce(
           (SELECT min(u.id) FROM core_user u JOIN core_user_role ur ON ur.user_id = u.id
            WHERE ur.role_id = r.assignee_role_id AND u.active AND u.hospital_id = r.hospital_id
              AND u.department_id = v.department_id),
           (SELECT min(u.id) FROM core_user u JOIN core_user_role ur ON ur.user_id = u.id
            WHERE ur.role_id = r.assignee_role_id AND u.active AND u.hospital_id = r.hospital_id))
       END,
       v.department_id, :now
FROM patients_visit v
JOIN patients_patient p ON p.id = v.patient_id
JOIN followup_rule r ON r.hospital_id = v.hospital_id AND r.active
JOIN followup_rule_step s ON s.rule_id = r.id
WHERE v.hospital_id = :h AND p.hospital_id = :h AND {ids}
  AND v.status <> 'cancelled' AND p.merged_into_id IS NULL
  AND (r."trigger" = 'recorded' OR v.discharge_at IS NOT NULL)
  AND (r.visit_kind IS NULL OR r.visit_kind = v.kind)
  AND (r.department_id IS NULL OR r.department_id = v.department_id)
  AND CASE WHEN r."trigger" = 'discharged' THEN v.discharge_at ELSE v.visit_at END >= r.applies_from
  AND (NOT EXISTS (SELECT 1 FROM followup_rule_disease rd WHERE rd.rule_id = r.id)
       OR EXISTS (SELECT 1 FROM followup_rule_disease rd JOIN patients_diagnosis d ON d.visit_id = v.id
                  WHERE rd.rule_id = r.id AND d.code LIKE rd.code || '%'))
ON CONFLICT (visit_id, rule_step_id) DO NOTHING
"""
TRIGGER_AT = "CASE WHEN r.\"trigger\" = 'discharged' THEN v.discharge_at ELSE v.visit_at END"
DIALECT_SQL = {
    "postgresql": {"due": f"{TRIGGER_AT} + s.offset_minutes * INTERVAL '1 minute'", "ids": "v.id IN (SELECT unnest(:ids))"},
    "sqlite": {"due": f"strftime('%Y-%m-%d %H:%M:%S', {TRIGGER_AT}, '+' || s.offset_minutes || ' minutes')"
                      f" || substr({TRIGGER_AT}, 20)",
               "ids": "v.id IN (SELECT value FROM json_each(:ids))"},
}

GENERATE = {
    "postgresql": """
        INSERT INTO patients_patient (hospital_id, name, gender, owner_id, department_id, key_patient,
                                      created_at, updated_at)
        SELECT :h, '患者' || g, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END, (:owners)[1 + g % cardinality(:owners)],
               (:depts)[1 + g % cardinality(:depts)], g % 97 = 0, now(), now()
        FROM generate_series(1, :patients) AS g;
        INSERT INTO patients_visit (hospital_id, patient_id, kind, status, visit_at, discharge_at, doctor_id,
                                    department_id, owner_id, spending, created_at)
        SELECT :h, (SELECT min(id) FROM patients_patient WHERE hospital_id = :h) + g % :patients,
               CASE WHEN g % 3 = 0 THEN 'inpatient' ELSE 'outpatient' END,
               CASE WHEN g % 3 = 0 THEN 'discharged' WHEN g % 50 = 1 THEN 'cancelled' ELSE 'completed' END,
               TIMESTAMP '2025-01-01' + (g % 500) * INTERVAL '1 day' + (g % 600) * INTERVAL '1 minute',
               CASE WHEN g % 3 = 0 THEN TIMESTAMP '2025-01-05' + (g % 500) * INTERVAL '1 day' END,
               CASE WHEN g % 4 = 0 THEN NULL ELSE (:owners)[1 + g % cardinality(:owners)] END,
               (:depts)[1 + g % cardinality(:depts)], (:owners)[1 + g % cardinality(:owners)], 0, now()
        FROM generate_series(1, :visits) AS g;
        INSERT INTO patients_diagnosis (hospital_id, visit_id, patient_id, visit_at, code, name, position)
        SELECT v.hospital_id, v.id, v.patient_id, v.visit_at, CASE WHEN v.id % 3 = 1 THEN 'I10' ELSE 'M51.2' END,
               'bench', 0
        FROM patients_visit v WHERE v.hospital_id = :h AND v.id % 2 = 1;
    """,
    "sqlite": """
        WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :patients)
        INSERT INTO patients_patient (hospital_id, name, gender, owner_id, department_id, key_patient,
                                      created_at, updated_at)
        SELECT :h, '患者' || n, CASE WHEN n % 2 = 0 THEN 'F' ELSE 'M' END,
               (SELECT value FROM json_each(:owners) WHERE key = n % json_array_length(:owners)),
               (SELECT value FROM json_each(:depts) WHERE key = n % json_array_length(:depts)), n % 97 = 0,
               datetime('now'), datetime('now') FROM g;
        WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :visits)
        INSERT INTO patients_visit (hospital_id, patient_id, kind, status, visit_at, discharge_at, doctor_id,
                                    department_id, owner_id, spending, created_at)
        SELECT :h, (SELECT min(id) FROM patients_patient WHERE hospital_id = :h) + n % :patients,
               CASE WHEN n % 3 = 0 THEN 'inpatient' ELSE 'outpatient' END,
               CASE WHEN n % 3 = 0 THEN 'discharged' WHEN n % 50 = 1 THEN 'cancelled' ELSE 'completed' END,
               strftime('%Y-%m-%d %H:%M:%S', '2025-01-01', '+' || (n % 500) || ' days',
                        '+' || (n % 600) || ' minutes') || '.000000',
               CASE WHEN n % 3 = 0 THEN strftime('%Y-%m-%d %H:%M:%S', '2025-01-05', '+' || (n % 500) || ' days')
                                        || '.000000' END,
               CASE WHEN n % 4 = 0 THEN NULL
                    ELSE (SELECT value FROM json_each(:owners) WHERE key = n % json_array_length(:owners)) END,
               (SELECT value FROM json_each(:depts) WHERE key = n % json_array_length(:depts)),
               (SELECT value FROM json_each(:owners) WHERE key = n % json_array_length(:owners)), 0,
               datetime('now') FROM g;
        INSERT INTO patients_diagnosis (hospital_id, visit_id, patient_id, visit_at, code, name, position)
        SELECT v.hospital_id, v.id, v.patient_id, v.visit_at, CASE WHEN v.id % 3 = 1 THEN 'I10' ELSE 'M51.2' END,
               'bench', 0
        FROM patients_visit v WHERE v.hospital_id = :h AND v.id % 2 = 1;
    """,
}


def generate(conn, dialect: str, hospital_id: int, owners: list[int], depts: list[int], visits: int) -> None:
    import json
    as_param = (lambda v: v) if dialect == "postgresql" else json.dumps
    params = {"h": hospital_id, "owners": as_param(owners), "depts": as_param(depts), "visits": visits,
              "patients": max(1, visits // 5)}
    for statement in GENERATE[dialect].split(";"):
        if statement.strip():
            conn.execute(sa.text(statement), params)


def setup(app, visits: int):
    """Hospitals, departments, doctors, rules; returns (hospital_id, visit ids)."""
    from core.extensions import db
    from core.models import Role
    from core.tenancy import hospital_scope
    from core.testing import make_department, make_hospital, make_user
    from plugins.followup.models import Category, Method
    from plugins.followup.planning import rules

    a = make_hospital("A", plugins=["patients", "followup"])
    make_hospital("B", plugins=["patients", "followup"])
    depts = {code: make_department(a, code) for code in DEPARTMENTS}
    owners = [make_user(a, f"doc_{code.lower()}_{i}", ("staff",), department=dept).id
              for code, dept in depts.items() for i in range(3)]
    with hospital_scope(a):
        method = db.session.execute(sa.select(Method.id).where(Method.code == "phone")).scalar_one()
        category = db.session.execute(sa.select(Category.id).where(Category.code == "chronic")).scalar_one()
        staff_role = db.session.execute(sa.select(Role.id).where(Role.code == "staff")).scalar_one()
        for name, trigger, kind, dept, codes, offsets, assign_to in RULES:
            rule = rules.create_rule({"name": name, "trigger": trigger, "visit_kind": kind, "offsets": offsets,
                                      "department_id": depts[dept].id if dept else None, "disease_codes": codes,
                                      "method_id": method, "category_id": category,
                                      "assign_to": assign_to, "assignee_role_id": staff_role})
            rule.applies_from = datetime(2000, 1, 1)
        db.session.commit()
    started = time.perf_counter()
    with db.engine.begin() as conn:
        generate(conn, db.engine.dialect.name, a.id, owners, [d.id for d in depts.values()], visits)
    with db.engine.begin() as conn:  # committed: ANALYZE's statistics are transactional
        visit_ids = conn.execute(sa.text("SELECT id FROM patients_visit WHERE hospital_id = :h ORDER BY id"),
                                 {"h": a.id}).scalars().all()
        conn.execute(sa.text("ANALYZE"))
    print(f"generated {len(visit_ids):,} visits in {time.perf_counter() - started:.1f} s "
          f"({db.engine.dialect.name}); rules: {len(RULES)} × 3 steps")
    return a, visit_ids


def batches(ids: list[int], size: int) -> list[list[int]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def run(url: str, args) -> None:
    from core import migrations_support
    from core.extensions import db
    from core.models import utcnow
    from core.tenancy import hospital_scope
    from core.testing import make_app
    from plugins.followup.planning import visits_recorded

    app = make_app(url)
    with app.app_context():
        migrations_support.upgrade()
        hospital, visit_ids = setup(app, args.visits)
        dialect = db.engine.dialect.name
        raw = sa.text(RAW_SQL.format(**DIALECT_SQL[dialect]))
        if dialect == "postgresql":
            raw = raw.bindparams(sa.bindparam("ids", type_=sa.dialects.postgresql.ARRAY(sa.Integer)))

        def hook(chunk):
            with hospital_scope(hospital):
                visits_recorded(hospital.id, chunk)  # what patients_visits_recorded calls
                db.session.commit()

        def raw_sql(chunk):
            import json
            with db.engine.begin() as conn:
                conn.execute(raw, {"h": hospital.id, "now": utcnow(),
                                   "ids": chunk if dialect == "postgresql" else json.dumps(chunk)})

        def plans() -> tuple:
            with db.engine.connect() as conn:
                return tuple(conn.execute(sa.text(
                    "SELECT count(*), sum(owner_id), min(due_at), max(due_at), count(DISTINCT visit_id) "
                    "FROM followup_plan")).one())

        def timed(label, call, chunks):
            with db.engine.begin() as conn:  # TRUNCATE: a DELETE would check every self-reference
                conn.execute(sa.text("TRUNCATE followup_plan CASCADE" if dialect == "postgresql"
                                     else "DELETE FROM followup_plan"))
            started = time.perf_counter()
            for chunk in chunks:
                call(chunk)
            seconds = time.perf_counter() - started
            result = plans()
            print(f"{label:<34} {seconds:8.2f} s   {result[0]:>9,} plans")
            return seconds, result

        in_batches, in_one = batches(visit_ids, args.batch), [visit_ids]
        hook_b, hook_b_rows = timed(f"hook, batches of {args.batch:,}", hook, in_batches)
        raw_b, raw_b_rows = timed(f"raw SQL, batches of {args.batch:,}", raw_sql, in_batches)
        hook_1, hook_1_rows = timed("hook, one call", hook, in_one)
        raw_1, raw_1_rows = timed("raw SQL, one call", raw_sql, in_one)
        assert hook_b_rows == raw_b_rows == hook_1_rows == raw_1_rows, (hook_b_rows, raw_b_rows, hook_1_rows, raw_1_rows)
        before = plans()
        started = time.perf_counter()
        for chunk in in_batches:
            hook(chunk)
        replay = time.perf_counter() - started
        written = plans()[0] - before[0]
        print(f"{'replay (hook, batches)':<34} {replay:8.2f} s   {written:>9,} plans written")
        print(f"ratio hook / raw SQL: batches {hook_b / raw_b:.2f}×, one call {hook_1 / raw_1:.2f}× (target ≤ 3×); "
              f"same plans: {hook_b_rows == raw_1_rows}; replay wrote {written}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--sqlite", action="store_true", help="run on a temporary SQLite file instead")
    args = parser.parse_args()
    os.environ.setdefault("HCRM_SECRET_KEY", "bench")
    if args.sqlite:
        folder = tempfile.mkdtemp(prefix="hcrm-bench-")
        try:
            run(f"sqlite:///{folder}/bench.sqlite3", args)
        finally:
            for name in os.listdir(folder):
                os.remove(os.path.join(folder, name))
            os.rmdir(folder)
        return
    admin = sa.create_engine(args.server.replace("postgresql://", "postgresql+psycopg2://", 1),
                             isolation_level="AUTOCOMMIT")
    name = f"hcrm_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        run(admin.url.set(database=name).render_as_string(hide_password=False), args)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
