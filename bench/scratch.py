"""A scratch PostgreSQL database for a benchmark: created with a random name on the server,
dropped afterwards unless kept (then its URL is printed for ``--reuse``)."""
from __future__ import annotations

import contextlib
import uuid

import sqlalchemy as sa


@contextlib.contextmanager
def scratch_database(server: str, *, keep: bool = False, prefix: str = "hcrm_bench"):
    """Yield the URL of a new, empty database on ``server`` (a postgresql:// URL), named
    ``<prefix>_<random>`` (a prefix per person tells whose a left-over database is)."""
    admin = sa.create_engine(server.replace("postgresql://", "postgresql+psycopg2://", 1), isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        if keep:
            print(f"kept: --reuse {url}")
        else:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
