"""Checking a pooled database connection before use when it may have gone stale.

SQLAlchemy's ``pool_pre_ping`` spends a round trip (``SELECT 1``) on every checkout, so on every
request: an API search is otherwise three (``BEGIN``, the token, the page) plus the closing
``ROLLBACK``. A connection a request handed back a moment ago is as alive as a ping would show;
one that sat idle may have been cut (a database restart or failover, a firewall dropping idle
sessions overnight). So only connections idle for longer than ``after`` seconds are pinged. When
the ping fails the pool discards that connection and hands out a fresh one (SQLAlchemy retries
the checkout), so the request never sees the dead one.
"""
from __future__ import annotations

import time

import sqlalchemy as sa

PING_AFTER_IDLE_SECONDS = 5.0
_RETURNED_AT = "hcrm_returned_at"


def _now() -> float:
    return time.monotonic()


def ping_idle_connections(engine: sa.Engine, after: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Install the check on ``engine`` (instead of ``pool_pre_ping``)."""

    def returned(_dbapi_connection, record) -> None:
        record.info[_RETURNED_AT] = _now()

    def taken(dbapi_connection, record, _proxy) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        # A connection made just now has nothing stale about it (``info`` starts empty with each
        # new DBAPI connection).
        if returned_at is None or _now() - returned_at <= after:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DisconnectionError(f"a pooled connection idle for {_now() - returned_at:.0f} s "
                                            f"no longer answers: {exc}") from exc

    sa.event.listen(engine, "checkin", returned)
    sa.event.listen(engine, "checkout", taken)
