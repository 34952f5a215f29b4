"""API reads on PostgreSQL without a transaction around them: two round trips fewer per call.

psycopg2 sends ``BEGIN`` before a transaction's first statement and the session ends it with
``ROLLBACK``: an API search is the token, the page (and maybe its count) plus those two, so the
pair is a third to a half of its round trips, and a round trip costs more than the planning of a
simple lookup. A GET or HEAD under ``/api/`` therefore runs on a twin of the app's engine whose
connections are in autocommit.

Reads see what they saw before: under PostgreSQL's READ COMMITTED every statement takes its own
snapshot inside a transaction too. What such a request writes (the audit rows of unmasked views,
a token's last-use time) is one statement at a time, each committed as it runs. Other methods,
pages, jobs and the CLI keep their transactions. Only PostgreSQL: SQLite's ``BEGIN`` is no round
trip, and an in-memory SQLite twin would be another database.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import g, has_app_context, request
from flask_sqlalchemy.session import Session

from core.pool_ping import ping_idle_connections

READ_METHODS = frozenset({"GET", "HEAD"})


def autocommit_twin(engine: sa.Engine, ping_after: float) -> sa.Engine | None:
    """An engine on the same database whose connections are in autocommit (None unless
    PostgreSQL). Its own pool: switching a pooled connection's mode costs a round trip each way."""
    if engine.dialect.name != "postgresql":
        return None
    twin = sa.create_engine(engine.url, isolation_level="AUTOCOMMIT", pool_size=engine.pool.size())
    ping_idle_connections(twin, ping_after)
    return twin


def for_request(twin: sa.Engine | None, is_api: bool) -> None:
    """As a request begins (``core.web``): an API read goes to ``twin``, anything else to the
    app's engine."""
    g.hcrm_autocommit_engine = twin if is_api and request.method in READ_METHODS else None


class HcrmSession(Session):
    """``db.session``: Flask-SQLAlchemy's session, on the autocommit twin during an API read."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        engine = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
        twin = g.get("hcrm_autocommit_engine") if has_app_context() else None
        if twin is not None and bind is None and engine is self._db.engines.get(None):
            return twin
        return engine
