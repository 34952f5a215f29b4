"""Queue fixtures for HCRM's pytest plugin: real consumers in their own processes.

Every app a test run builds enqueues into one private queue (a SQLite file in the run's
temporary folder by default; ``HCRM_TEST_QUEUE=postgresql`` or ``redis`` for the servers),
never into a deployment's ``instance/queue.sqlite3``. ``consumer(...)`` starts ``python -m
core.testing_queue`` -- an ``hcrm worker`` on the test database -- and stops it (SIGTERM, or
SIGKILL in the crash tests). A consumer gets the plugin settings (config.yaml's
``plugins_settings``) of the app it serves, as a deployment's workers read the web's
config.yaml: the app's own, plus what a test configured with ``record_plugin_settings``; so
start it after configuring (``start_consumers``). When the PostgreSQL or Redis server of a queue test does not
answer, the test fails under CI and is skipped on a developer's machine (as core.testing does).
"""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

REDIS_URL = os.environ.get("HCRM_TEST_REDIS", "redis://127.0.0.1:6379/15")
BACKENDS = ("sqlite", "postgresql", "redis")
FAST = {"HCRM_JOBS_STALE_SECONDS": 3, "HCRM_JOBS_TICK_SECONDS": 1}
REPO = Path(__file__).resolve().parent.parent
# app.config key: {plugin: {"group": ..., "hospitals": ...}}, JSON, as a test configured them
PLUGINS_SETTINGS = "HCRM_TEST_PLUGINS_SETTINGS"


def queue_settings(backend: str, directory: Path, database_url: str) -> dict:
    """app.config overrides for a private queue on ``backend`` (see core.queue.settings)."""
    from core.testing import _server_unavailable
    name = f"hcrm-test-{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        return {"HCRM_JOBS_BACKEND": "sqlite", "HCRM_JOBS_URL": str(directory / f"{name}.sqlite3"),
                "HCRM_QUEUE_NAME": name}
    if backend == "redis":
        import redis
        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        except redis.RedisError as exc:
            _server_unavailable(f"Redis at {REDIS_URL} is not reachable: {exc}")
        return {"HCRM_JOBS_BACKEND": "redis", "HCRM_JOBS_URL": REDIS_URL, "HCRM_QUEUE_NAME": name}
    if backend == "postgresql":
        from core.testing import DEFAULT_PG
        url = database_url if database_url.startswith("postgresql") else DEFAULT_PG
        try:
            engine = sa.create_engine(url)
            with engine.connect():
                pass
            engine.dispose()
        except sa.exc.OperationalError as exc:
            _server_unavailable(f"PostgreSQL for the queue is not reachable: {exc.orig}")
        return {"HCRM_JOBS_BACKEND": "postgresql", "HCRM_JOBS_URL": url, "HCRM_QUEUE_NAME": name}
    raise ValueError(backend)


@pytest.fixture(scope="session", autouse=True)
def _private_queue(tmp_path_factory, database_url):
    """Point every test app at the run's own queue (HCRM_TEST_QUEUE, default sqlite)."""
    from core import testing
    settings = queue_settings(os.environ.get("HCRM_TEST_QUEUE", "sqlite"), tmp_path_factory.mktemp("queue"),
                              database_url)
    testing.TEST_SETTINGS.update(settings, **FAST)
    yield settings
    _flush(settings)


def _flush(settings: dict) -> None:
    """Drop the run's messages from a shared server (Redis keys, PostgreSQL rows)."""
    if settings["HCRM_JOBS_BACKEND"] == "sqlite":
        return
    from core.queue import make_huey
    with contextlib.suppress(Exception):
        huey = make_huey(settings["HCRM_JOBS_BACKEND"], settings["HCRM_JOBS_URL"], database_url="",
                         instance_path="", name=settings["HCRM_QUEUE_NAME"])
        huey.storage.flush_all()


def plugin_settings(app) -> dict:
    """{plugin: {"group": ..., "hospitals": ...}}: the raw ``plugins_settings`` sections ``app``
    runs with -- its config's, replaced plugin by plugin by what a test recorded."""
    sections = {name: {"group": dict(s.group), "hospitals": {code: dict(h) for code, h in s.hospitals.items()}}
                for name, s in app.extensions["hcrm"].config.plugins_settings.items()}
    return {**sections, **json.loads(app.config.get(PLUGINS_SETTINGS, "{}"))}


def record_plugin_settings(app, plugin: str, group: dict, hospitals: dict) -> None:
    """Note the raw section a test gave ``plugin`` on ``app`` (after the plugin validated it), for
    the consumers started later. Kept in app.config, so it goes with the test's settings."""
    app.config[PLUGINS_SETTINGS] = json.dumps({**json.loads(app.config.get(PLUGINS_SETTINGS, "{}")),
                                               plugin: {"group": group, "hospitals": hospitals}})


class Consumer:
    """A consumer process on the test database; ``kill()`` is SIGKILL, ``stop()`` SIGTERM.
    ``plugins_settings`` is ``plugin_settings(app)``'s form, validated by each plugin's
    ``hcrm_settings`` hook as config.yaml is."""

    def __init__(self, database_url: str, settings: dict, plugin_dirs=(), workers: int = 2,
                 plugins_settings: dict | None = None):
        self.ready_file = Path(tempfile.gettempdir()) / f"hcrm-consumer-{uuid.uuid4().hex}"
        spec = {"database_url": database_url, "settings": settings, "plugin_dirs": [str(d) for d in plugin_dirs],
                "workers": workers, "ready_file": str(self.ready_file), "plugins_settings": plugins_settings or {}}
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO)] + [str(Path(d).parent) for d in plugin_dirs]
                                                            + [os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen([sys.executable, "-m", "core.testing_queue", json.dumps(spec)], env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.output = ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the consumer has built its app (a few seconds on a busy machine)."""
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the consumer did not start:\n{self._end(signal.SIGKILL)}")
            time.sleep(0.05)
        self.ready_file.unlink()

    def _end(self, sig) -> str:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            self.output, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.output, _ = self.process.communicate()
        return self.output or ""

    def stop(self) -> str:
        return self._end(signal.SIGTERM)

    def kill(self) -> str:
        return self._end(signal.SIGKILL)


@contextlib.contextmanager
def consumers(app, count: int = 1, *, plugin_dirs=(), workers: int = 2, **overrides):
    """``count`` consumer processes on ``app``'s database and queue, with its settings and plugin
    settings (``overrides``: app.config values of their own), stopped on exit."""
    settings = {k: v for k, v in app.config.items() if k.startswith("HCRM_") or k in ("TESTING", "SECRET_KEY")}
    settings = {k: v for k, v in settings.items() if isinstance(v, (str, int, float, bool)) and k != PLUGINS_SETTINGS}
    started = [Consumer(app.extensions["hcrm"].config.database_url, {**settings, **overrides}, plugin_dirs, workers,
                        plugin_settings(app))
               for _ in range(count)]
    try:
        for consumer in started:
            consumer.wait_ready()
        yield started
    finally:
        for consumer in started:
            consumer.stop()


@pytest.fixture(scope="module")
def queue_consumer(_schema, _private_queue):
    """One consumer process (built-in plugins, no periodic jobs) for a test module that starts
    work from pages or services; ``drain(app)`` waits for the work to finish."""
    from core import testing
    settings = {k: v for k, v in testing.TEST_SETTINGS.items() if isinstance(v, (str, int, float, bool))}
    consumer = Consumer(_schema, {**settings, "HCRM_JOBS_PERIODIC": False})
    consumer.wait_ready()
    yield consumer
    consumer.stop()


@pytest.fixture
def start_consumers(app, _private_queue):
    """``start_consumers(count=1, *, plugin_dirs=(), workers=2, **overrides)`` starts consumers
    on the test's app as it is configured at that moment (the module-wide ``queue_consumer`` has
    no plugin settings); they run no periodic job unless told and stop after the test. Such a
    test is ``real_commits``: the consumers read the rows it committed."""
    with contextlib.ExitStack() as stack:
        def start(count: int = 1, **kwargs):
            kwargs.setdefault("HCRM_JOBS_PERIODIC", False)
            return stack.enter_context(consumers(app, count, **kwargs))
        yield start


def drain(app, timeout: float = 60.0) -> list:
    """Wait until no task is queued or running; returns every task record (oldest first)."""
    from core.extensions import db
    from core.models import TaskRecord
    from core.queue import ACTIVE
    from core.tenancy import system_scope

    def records():
        with app.app_context(), system_scope():
            found = db.session.execute(sa.select(TaskRecord).order_by(TaskRecord.id)).scalars().all()
            db.session.expunge_all()
        return found
    wait_until(lambda: not any(r.state in ACTIVE for r in records()), timeout)
    return records()


def wait_until(predicate, timeout: float = 30.0, every: float = 0.1):
    """Poll ``predicate`` until it returns something true; fails the test on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(every)
    pytest.fail(f"gave up waiting after {timeout} s")


def _main(spec_json: str) -> None:
    from core.config import PluginSettings
    from core.queue_worker import consume
    from core.testing import finder_with, make_app
    spec = json.loads(spec_json)
    finder = finder_with(*spec["plugin_dirs"]) if spec["plugin_dirs"] else None
    sections = {name: PluginSettings(name, s["group"], s["hospitals"]) for name, s in spec["plugins_settings"].items()}
    app = make_app(spec["database_url"], finder=finder, config_overrides={"plugins_settings": sections},
                   **spec["settings"])
    with app.app_context():
        from core.queue import state
        state(app)  # the storage's tables exist before the test enqueues
    Path(spec["ready_file"]).write_text("ready")
    consume(app, workers=spec["workers"])


if __name__ == "__main__":
    _main(sys.argv[1])
