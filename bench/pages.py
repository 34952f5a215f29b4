"""Page speed under gunicorn at 1M patients: what staff feel, next to a bare Flask "hello" served
by the same gunicorn in the same run.

    .venv/bin/python bench/pages.py [--patients 1000000] [--workers 4] [--rounds 40]
        [--staff 50] [--seconds 30] [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--keep | --load-only | --reuse URL] [--profile PAGE]

A scratch PostgreSQL database is loaded with bench/patients_search.py's data set (patients with
visits, diagnoses and name keys; a second hospital a tenth of the size) plus follow-up plans, and
three users: a director (hospital scope), a department head (department scope) and a nurse (own
scope, a few thousand patients of her own). ``--keep`` leaves the database and prints its URL;
``--reuse URL`` runs on it again without loading (``--load-only`` loads, keeps and stops).

1. **One user**: each role opens each page ``--rounds`` times in a row (after a warm-up); p50
   and p95 per page. Target (issue 22): no page above 50 ms p50.
2. **Mixed load**: ``--staff`` simulated staff (processes × threads, as many processes as
   cores) each open a random page of a random role as fast as answers come, for ``--seconds``;
   pages/s and p50/p95 per page. Then the same clients against the bare "hello" app under the
   same gunicorn settings: the ratio is the framework's share.
``--profile PAGE`` instead runs that page in-process under cProfile as the director and prints
where the time goes (cumulative), e.g. ``--profile dashboard``.
"""
from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import pstats
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from patients_search import build_names, load, percentile
from scratch import scratch_database

PASSWORD = "bench-Passw0rd!"
ROLES = {"director": ("director", None), "dept_head": ("dept_manager", "ORTH"), "nurse": ("staff", "ORTH")}
HELLO = 'from flask import Flask\napp = Flask(__name__)\n\n\n@app.get("/")\ndef hello():\n    return "hello"\n'


def pages(rng: random.Random, names: list[str], patient_ids: list[int]) -> dict[str, str]:
    """One URL per page kind, drawn anew for each request."""
    name = rng.choice(names)
    return {
        "dashboard": "/",
        "patient list": "/patients/",
        "search name": f"/patients/?q={name}",
        "search pinyin": f"/patients/?q={name[:1]}",
        "search phone4": f"/patients/?q={rng.randrange(10000):04d}",
        "patient": f"/patients/{rng.choice(patient_ids)}",
        "follow-up queue": "/followup/",
        "key patients": "/patients/?key_patient=1",
        "api search": f"/api/v1/patients?q={name}&per_page=20",
    }


# -- the data set ---------------------------------------------------------------------------------
def prepare(url: str, patients: int) -> None:
    from core import migrations_support
    from core.extensions import db
    from core.models import Department, User
    from core.tenancy import hospital_scope, system_scope
    from core.testing import make_app, make_department, make_hospital, make_user
    from plugins.followup.planning.setup import seed_defaults

    app = make_app(url)
    with app.app_context():
        migrations_support.upgrade()
        a = make_hospital("A", plugins=["patients", "followup"])
        b = make_hospital("B", plugins=["patients", "followup"])
        for code in ("IM", "SURG", "ORTH", "OBGYN", "PED"):
            make_department(a, code)
            make_department(b, code)
        with system_scope():
            ortho = db.session.execute(sa.select(Department).where(Department.hospital_id == a.id,
                                                                   Department.code == "ORTH")).scalar_one()
        for username, (role, dept) in ROLES.items():
            user = make_user(a, username, (role,), department=ortho if dept else None)
            with system_scope():
                db.session.get(User, user.id).set_password(PASSWORD)
                db.session.commit()
        with hospital_scope(a):
            seed_defaults(a)
            db.session.commit()
        started = time.perf_counter()
        with db.engine.begin() as conn:
            load(conn, a.id, b.id, patients, random.Random(20261122))
            nurse = conn.execute(sa.text("SELECT id FROM core_user WHERE username = 'nurse'")).scalar_one()
            for table, key in (("patients_patient", "id"), ("patients_search_key", "patient_id")):
                conn.execute(sa.text(f"UPDATE {table} SET owner_id = :u WHERE hospital_id = :h AND {key} % 199 = 0 "
                                     "AND department_id = :d"), {"u": nurse, "h": a.id, "d": ortho.id})
            conn.execute(sa.text("""
                INSERT INTO followup_plan (hospital_id, patient_id, category_id, method_id, due_at, content, status,
                                           owner_id, department_id, created_at)
                SELECT p.hospital_id, p.id, (SELECT min(id) FROM followup_category WHERE hospital_id = :h),
                       (SELECT min(id) FROM followup_method WHERE hospital_id = :h),
                       now() + ((p.id % 121) - 60) * INTERVAL '1 day', '出院随访',
                       CASE WHEN p.id % 121 < 40 AND p.id % 3 = 0 THEN 'completed' ELSE 'pending' END,
                       p.owner_id, p.department_id, now()
                FROM patients_patient p WHERE p.hospital_id = :h AND p.id % 10 = 0"""), {"h": a.id})
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
        print(f"loaded in {time.perf_counter() - started:.0f} s")


def upgrade(url: str) -> None:
    """A kept database follows the code: migrate it before measuring (nothing when up to date)."""
    from core import migrations_support
    from core.testing import make_app
    with make_app(url).app_context():
        migrations_support.upgrade()


def sample_ids(url: str) -> dict[str, list[int]]:
    """Patients each role may open: the hospital's, the department's, the nurse's own."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    hospital = "p.hospital_id = (SELECT id FROM core_hospital WHERE code = 'A') AND p.merged_into_id IS NULL"
    wheres = {"director": "p.id % 997 = 0",
              "dept_head": "p.id % 97 = 0 AND p.department_id = (SELECT department_id FROM core_user "
                           "WHERE username = 'dept_head')",
              "nurse": "p.owner_id = (SELECT id FROM core_user WHERE username = 'nurse')"}
    with engine.connect() as conn:
        ids = {role: conn.execute(sa.text(f"SELECT p.id FROM patients_patient p WHERE {hospital} AND {where} "
                                          "LIMIT 2000")).scalars().all() for role, where in wheres.items()}
    engine.dispose()
    return ids


# -- the servers ----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(app_spec: str, workers: int, env: dict, chdir: str | None = None):
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}", "--log-level",
               "warning", *(["--chdir", chdir] if chdir else []), app_spec]
    process = subprocess.Popen(command, env={**os.environ, **env})
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            requests.get(base + "/login" if chdir is None else base, timeout=10)
            return process, base
        except requests.RequestException:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn {app_spec} did not start")


def signed_in(base: str, username: str) -> requests.Session:
    session = requests.Session()
    page = session.get(base + "/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    data = {"username": username, "password": PASSWORD, **({"csrf_token": token.group(1)} if token else {})}
    response = session.post(base + "/login", data=data, allow_redirects=False)
    if response.status_code != 302:
        raise SystemExit(f"sign-in of {username} failed: HTTP {response.status_code}")
    api = session.post(base + "/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    session.api_headers = {"Authorization": f"Bearer {api.json()['token']}"}
    return session


def fetch(session: requests.Session, base: str, path: str) -> float:
    headers = session.api_headers if path.startswith("/api/") else None
    started = time.perf_counter()
    response = session.get(base + path, headers=headers, allow_redirects=False)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{path}: HTTP {response.status_code}")
    return elapsed


# -- the measurements -----------------------------------------------------------------------------
def one_user(base: str, names, patient_ids, rounds: int) -> None:
    print(f"\n1. one user at a time, {rounds} rounds per page (ms)")
    print(f"{'page':18}" + "".join(f"{role:>20}" for role in ROLES))
    sessions = {role: signed_in(base, role) for role in ROLES}
    timings: dict[tuple, list[float]] = {}
    rng = random.Random(7)
    for round_no in range(rounds + 2):  # two warm-up rounds
        for role, session in sessions.items():
            for page, path in pages(rng, names, patient_ids[role]).items():
                elapsed = fetch(session, base, path)
                if round_no >= 2:
                    timings.setdefault((page, role), []).append(elapsed)
    worst = 0.0
    for page in pages(rng, names, patient_ids["director"]):
        cells = []
        for role in ROLES:
            samples = timings[(page, role)]
            worst = max(worst, statistics.median(samples))
            cells.append(f"{statistics.median(samples):7.1f} / {percentile(samples, 0.95):6.1f}")
        print(f"{page:18}" + "".join(f"{c:>20}" for c in cells))
    print(f"(p50 / p95) worst p50: {worst:.1f} ms — target ≤ 50 ms")


def _staff_thread(base, names, patient_ids, until, seed, out, hello):
    rng = random.Random(seed)
    role = rng.choice(list(ROLES))
    session = requests.Session() if hello else signed_in(base, role)
    while time.time() < until:
        if hello:
            started = time.perf_counter()
            session.get(base + "/")
            out.append(("hello", (time.perf_counter() - started) * 1000))
        else:
            page, path = rng.choice(list(pages(rng, names, patient_ids[role]).items()))
            out.append((page, fetch(session, base, path)))


def _staff_process(base, names, patient_ids, threads, seconds, seed, hello, queue):
    until, out = time.time() + seconds, []
    workers = [threading.Thread(target=_staff_thread, args=(base, names, patient_ids, until, seed * 100 + i, out, hello))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put(out)


def mixed_load(base: str, names, patient_ids, staff: int, seconds: int, hello: bool = False) -> float:
    processes = max(1, min(staff, os.cpu_count() or 2))
    threads = max(1, staff // processes)
    queue = multiprocessing.Queue()
    runners = [multiprocessing.Process(target=_staff_process,
                                       args=(base, names, patient_ids, threads, seconds, p, hello, queue))
               for p in range(processes)]
    for runner in runners:
        runner.start()
    results = [queue.get() for _ in runners]
    for runner in runners:
        runner.join()
    samples = [s for result in results for s in result]
    rate = len(samples) / seconds
    by_page: dict[str, list[float]] = {}
    for page, elapsed in samples:
        by_page.setdefault(page, []).append(elapsed)
    label = "bare Flask hello" if hello else f"{processes * threads} staff"
    print(f"\n{label}: {rate:.1f} pages/s over {seconds} s")
    for page, values in sorted(by_page.items()):
        print(f"  {page:18} n={len(values):5}  p50 {statistics.median(values):7.1f}  p95 {percentile(values, 0.95):7.1f}")
    return rate


def profile(url: str, page: str, names, patient_ids, rounds: int) -> None:
    from core.testing import make_app
    app = make_app(url)
    client = app.test_client()
    client.post("/login", data={"username": "director", "password": PASSWORD})
    rng = random.Random(3)
    paths = [pages(rng, names, patient_ids["director"])[page] for _ in range(rounds + 3)]
    for path in paths[:3]:
        client.get(path)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for path in paths[3:]:
        client.get(path)
    profiler.disable()
    print(f"{page}: {(time.perf_counter() - started) * 1000 / rounds:.1f} ms per page in-process")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def run(url: str, args) -> None:
    names = build_names(random.Random(20261122), 20_000)
    patient_ids = sample_ids(url)
    if args.profile:
        profile(url, args.profile, names, patient_ids, args.rounds)
        return
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder, "config.yaml")
        config.write_text("security:\n  session_cookie_secure: false\nhospitals: []\n")
        Path(folder, "hello_app.py").write_text(HELLO)
        env = {"HCRM_CONFIG": str(config), "HCRM_DATABASE_URL": url, "HCRM_SECRET_KEY": "bench-secret"}
        server, base = serve("core:create_app()", args.workers, env)
        try:
            one_user(base, names, patient_ids, args.rounds)
            app_rate = mixed_load(base, names, patient_ids, args.staff, args.seconds)
        finally:
            server.terminate()
            server.wait()
        server, base = serve("hello_app:app", args.workers, {}, chdir=folder)
        try:
            hello_rate = mixed_load(base, names, patient_ids, args.staff, args.seconds, hello=True)
        finally:
            server.terminate()
            server.wait()
    print(f"\nHCRM pages/s ÷ hello/s under the same gunicorn (-w {args.workers}): {app_rate / hello_rate:.1%}; "
          f"load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--rounds", type=int, default=40, help="requests per page and role, one user")
    parser.add_argument("--staff", type=int, default=50, help="simulated staff in the mixed load")
    parser.add_argument("--seconds", type=int, default=30, help="length of each mixed-load run")
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--profile", metavar="PAGE", help="profile one page in-process instead (e.g. dashboard)")
    reuse = parser.add_mutually_exclusive_group()
    reuse.add_argument("--keep", action="store_true", help="keep the loaded database and print its URL")
    reuse.add_argument("--load-only", action="store_true", help="load a database, keep it, print its URL, measure nothing")
    reuse.add_argument("--reuse", metavar="URL", help="run on a database an earlier --keep run loaded")
    args = parser.parse_args()
    if args.reuse:
        upgrade(args.reuse)
        run(args.reuse, args)
        return
    with scratch_database(args.server, keep=args.keep or args.load_only) as url:
        prepare(url, args.patients)
        if not args.load_only:
            run(url, args)


if __name__ == "__main__":
    main()
