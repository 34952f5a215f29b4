"""The task queue (core.queue) at load: throughput with 1, 2 and 4 consumers on each backend, the
cost per task against a plain function call, and the queue latency of an idle queue.

    .venv/bin/python bench/jobs.py [--tasks 10000] [--backends sqlite,postgresql,redis]
        [--consumers 1,2,4] [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--redis redis://127.0.0.1:6379/15] [--latency-samples 50]

For each backend a scratch CRM database is made (a SQLite file for the sqlite backend, the
embedded deployment; a PostgreSQL database for the postgresql and redis backends, as deployed)
and dropped. ``--tasks`` small tasks (a throwaway plugin's task: a little arithmetic, the
"work") are queued through ``core.queue.enqueue`` -- task record committed, message sent -- with
no consumer running; then N consumer processes (``hcrm worker`` with 1 thread each) drain them.
Throughput is tasks / (last finish - first start), read from the task records, so the seconds a
consumer takes to import the app do not count. The overhead per task is the drained wall time
per task minus the plain call's time (the same function called in a loop in this process).
Latency: one idle consumer, one task queued at a time; p50/p95 of enqueue -> start.
Targets (issue 17): >= 500 tasks/s with 2 consumers on PostgreSQL and Redis; idle p95 <= 1 s.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PLUGIN = '''
from core import hookimpl
from core.declarations import Task


def work(n):
    return sum(i * i for i in range(n))


def run(hospital, n=50):
    work(n)


@hookimpl
def hcrm_jobs():
    return [Task("benchjob.small", "A small task", run=run)]
'''


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def plain_loop(count: int) -> float:
    """Seconds per call of the task's function called directly."""
    sys.path.insert(0, str(PLUGIN_DIR.parent))
    import benchjob
    started = time.perf_counter()
    for _ in range(count):
        benchjob.run(None)
    return (time.perf_counter() - started) / count


def scratch_database(kind: str, server: str, folder: Path):
    if kind == "sqlite":
        return f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}", None
    engine = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"hcrm_bench_{uuid.uuid4().hex[:8]}"
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return engine.url.set(database=name).render_as_string(hide_password=False), (engine, name)


def drop(handle) -> None:
    if handle is None:
        return
    engine, name = handle
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def build_app(database_url: str, settings: dict):
    from core import migrations_support
    from core.testing import finder_with, make_app
    app = make_app(database_url, finder=finder_with(PLUGIN_DIR), **settings)
    with app.app_context():
        migrations_support.upgrade()
    return app


def records(app):
    from core.extensions import db
    from core.models import TaskRecord
    from core.tenancy import system_scope
    with app.app_context(), system_scope():
        rows = db.session.execute(sa.select(TaskRecord.state, TaskRecord.created_at, TaskRecord.started_at,
                                            TaskRecord.finished_at)).all()
        db.session.remove()
    return rows


def reset(app) -> None:
    from core.extensions import db
    from core.queue import state
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM core_task"))
        state(app).huey.storage.flush_all()


def enqueue_many(app, hospital_id: int, count: int) -> float:
    from core import queue
    started = time.perf_counter()
    with app.app_context():
        for _ in range(count):
            queue.enqueue("benchjob.small", hospital_id)
    return time.perf_counter() - started


def drain(app, consumers: int, count: int) -> float:
    from core.testing_queue import Consumer
    settings = {k: v for k, v in app.config.items() if k.startswith("HCRM_") and isinstance(v, (str, int, bool))}
    started = [Consumer(app.extensions["hcrm"].config.database_url, settings, [PLUGIN_DIR], workers=1)
               for _ in range(consumers)]
    try:
        for consumer in started:
            consumer.wait_ready(180)
        while True:
            rows = records(app)
            if sum(1 for r in rows if r.state == "ok") >= count:
                break
            if any(r.state == "failed" for r in rows):
                raise SystemExit("a bench task failed: see hcrm jobs list")
            time.sleep(0.5)
    finally:
        for consumer in started:
            consumer.stop()
    first = min(r.started_at for r in rows)
    last = max(r.finished_at for r in rows)
    return (last - first).total_seconds()


def idle_latency(app, hospital_id: int, samples: int) -> list[float]:
    from core import queue
    from core.queue_worker import wait_for
    from core.testing_queue import Consumer
    settings = {k: v for k, v in app.config.items() if k.startswith("HCRM_") and isinstance(v, (str, int, bool))}
    consumer = Consumer(app.extensions["hcrm"].config.database_url, settings, [PLUGIN_DIR], workers=1)
    latencies = []
    try:
        consumer.wait_ready(180)
        time.sleep(3)  # let the consumer's polling back off to its idle pace
        for _ in range(samples):
            with app.app_context():
                record_id = queue.enqueue("benchjob.small", hospital_id).id
            record = wait_for(app, record_id, timeout=30)
            latencies.append((record.started_at - record.created_at).total_seconds())
            time.sleep(0.3)
    finally:
        consumer.stop()
    return latencies


def bench_backend(kind: str, args, plain: float) -> None:
    from core.extensions import db
    from core.testing import make_hospital
    from core.testing_queue import FAST
    folder = Path(tempfile.mkdtemp(prefix="hcrm-bench-"))
    database_url, handle = scratch_database("sqlite" if kind == "sqlite" else "postgresql", args.server, folder)
    name = f"bench-{uuid.uuid4().hex[:6]}"
    url = {"sqlite": str(folder / "queue.sqlite3"), "postgresql": "", "redis": args.redis}[kind]
    settings = {"HCRM_JOBS_BACKEND": kind, "HCRM_JOBS_URL": url, "HCRM_QUEUE_NAME": name,
                "HCRM_JOBS_PERIODIC": False, **FAST, "HCRM_JOBS_STALE_SECONDS": 300}
    try:
        app = build_app(database_url, settings)
        with app.app_context():
            hospital_id = make_hospital("B1", plugins=["benchjob"]).id
            db.session.remove()
        for consumers in args.consumers:
            reset(app)
            queued = enqueue_many(app, hospital_id, args.tasks)
            seconds = drain(app, consumers, args.tasks)
            per_task = seconds / args.tasks
            print(f"{kind:<10} {consumers} consumer(s): enqueue {args.tasks / queued:7.0f} tasks/s | "
                  f"drain {args.tasks / seconds:7.0f} tasks/s | overhead {1000 * (per_task - plain):6.2f} ms/task "
                  f"({per_task / plain:,.0f}x the plain call)", flush=True)
        reset(app)
        latencies = idle_latency(app, hospital_id, args.latency_samples)
        print(f"{kind:<10} idle queue latency: p50 {1000 * percentile(latencies, 0.5):.0f} ms, "
              f"p95 {1000 * percentile(latencies, 0.95):.0f} ms", flush=True)
        with app.app_context():
            from core.queue import state
            if kind != "sqlite":
                state(app).huey.storage.flush_all()
            db.engine.dispose()
    finally:
        drop(handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--backends", default="sqlite,postgresql,redis")
    parser.add_argument("--consumers", default="1,2,4")
    parser.add_argument("--server", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--latency-samples", type=int, default=50)
    args = parser.parse_args()
    args.consumers = [int(n) for n in args.consumers.split(",")]
    global PLUGIN_DIR
    from core.testing import write_plugin
    PLUGIN_DIR = write_plugin(Path(tempfile.mkdtemp(prefix="hcrm-benchjob-")), "benchjob", code=PLUGIN)
    plain = plain_loop(args.tasks)
    print(f"plain function call: {plain * 1e6:.1f} µs per call ({1 / plain:,.0f} calls/s)", flush=True)
    for kind in args.backends.split(","):
        bench_backend(kind, args, plain)


PLUGIN_DIR: Path


if __name__ == "__main__":
    main()
