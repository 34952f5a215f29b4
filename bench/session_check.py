"""What the server-side session check costs per request (issue 16, item 7).

    .venv/bin/python bench/session_check.py [--repeat 500] [--database postgresql://postgres@127.0.0.1/postgres]

Every request of a signed-in user loads the account (core.web.load_user) and compares the
session's epoch and password fingerprint with it; logout, password changes, deactivation and new
roles raise the epoch, so a copied cookie stops working. This times an authenticated page
(GET /account/password, the lightest page behind a login) with the check as shipped, and with a
loader that trusts the cookie's user id alone (what a session without server-side revocation
would do), alternating the two in the same run. Prints median and p95 per request (ms) and the
ratio, then the loader alone in µs. Target: within 1.05x (the epoch is a column of the row the loader reads anyway).
A scratch SQLite file (default) or PostgreSQL database is created and dropped.
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import sqlalchemy as sa


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def trusting_loader(session_id: str):
    """A loader without revocation: the user named by the cookie, if active."""
    from core import tenancy
    from core.extensions import db
    from core.models import User
    with tenancy.system_scope():
        user = db.session.get(User, int(session_id.split(".", 1)[0]))
        return user if user is not None and user.active and user.hospital.active else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=500, help="requests per variant")
    parser.add_argument("--database", help="a PostgreSQL server URL (a scratch database is created); default SQLite")
    args = parser.parse_args()

    from core.testing import fresh_database

    # core.testing's scratch database: a SQLite file, or a database created on the server and dropped.
    os.environ["HCRM_TEST_DATABASE"] = args.database or "sqlite"
    with fresh_database(tempfile.mkdtemp()) as url:
        measure(url, args)


def measure(url: str, args) -> None:
    from core import migrations_support
    from core.extensions import login_manager
    from core.testing import PASSWORD, login, make_app, make_hospital, make_user
    from core.web import load_user

    app = make_app(url)
    with app.app_context():
        migrations_support.upgrade()
        make_user(make_hospital("A"), "nurse", ("staff",))
    client = app.test_client()
    login(client, "nurse", PASSWORD)
    variants = {"with the check": load_user, "without (cookie trusted)": trusting_loader}
    samples = {label: [] for label in variants}
    for round_ in range(args.repeat + 20):  # the first 20 rounds warm the caches
        order = list(variants.items()) if round_ % 2 else list(reversed(variants.items()))
        for label, loader in order:
            login_manager._user_callback = loader
            start = time.perf_counter()
            response = client.get("/account/password")
            elapsed = (time.perf_counter() - start) * 1000
            assert response.status_code == 200, response.status_code
            if round_ >= 20:
                samples[label].append(elapsed)
    login_manager._user_callback = load_user
    print(f"database: {sa.engine.make_url(url).get_backend_name()}, {args.repeat} requests per variant")
    for label, values in samples.items():
        print(f"  {label:26} median {statistics.median(values):6.2f} ms   p95 {percentile(values, 0.95):6.2f} ms")
    ratio = statistics.median(samples["with the check"]) / statistics.median(samples["without (cookie trusted)"])
    print(f"  cost of the check: {ratio:.3f}x per request")
    print("the loader alone (each call loads the account, its hospital and roles):")
    with app.app_context():
        from core.extensions import db
        from core.models import User
        from core.tenancy import system_scope
        with system_scope():
            session_id = db.session.get(User, 1).get_id()
        for label, loader in variants.items():
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                assert loader(session_id) is not None
                times.append((time.perf_counter() - start) * 1e6)
            print(f"  {label:26} median {statistics.median(times):8.1f} µs")
    with app.app_context():
        from core.testing import dispose_engines
        dispose_engines()

if __name__ == "__main__":
    main()
