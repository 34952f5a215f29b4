"""core.pool_ping: a pooled connection is checked before use only after sitting idle, and one
that died meanwhile (database restart, a firewall cutting idle sessions) is replaced before the
request sees it."""
import pytest
import sqlalchemy as sa

from core import pool_ping
from core.extensions import db

pytestmark = pytest.mark.real_commits  # the pool's own connections are checked, killed and replaced


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _use_and_return(app) -> object:
    """Run a statement on a pooled connection, hand it back; the DBAPI connection it used."""
    with app.app_context():
        db.session.execute(sa.text("SELECT 1")).scalar_one()
        dbapi_connection = db.session.connection().connection.dbapi_connection
        db.session.remove()
    return dbapi_connection


def test_only_connections_idle_for_a_while_are_pinged(app, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(pool_ping, "_now", clock)
    pings = []
    with app.app_context():
        dialect = db.engine.dialect
        original = dialect.do_ping
        monkeypatch.setattr(dialect, "do_ping", lambda connection: pings.append(1) or original(connection))
    _use_and_return(app)
    clock.now += 1
    _use_and_return(app)
    assert pings == []  # handed back a second ago: no round trip spent on it
    clock.now += pool_ping.PING_AFTER_IDLE_SECONDS + 1
    _use_and_return(app)
    assert pings == [1]


def test_a_connection_that_died_while_idle_is_replaced_unnoticed(app, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(pool_ping, "_now", clock)
    dead = _use_and_return(app)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":  # what a database restart does to its sessions
            killer = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)  # not from the pool
            with killer.connect() as other:
                assert other.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                     {"pid": dead.get_backend_pid()}).scalar_one()
        else:
            dead.close()
    clock.now += pool_ping.PING_AFTER_IDLE_SECONDS + 1
    with app.app_context():
        assert db.session.execute(sa.text("SELECT 2")).scalar_one() == 2
        assert db.session.connection().connection.dbapi_connection is not dead
        db.session.remove()
