"""Each test inside one transaction, rolled back at its end (used by core.testing's fixtures).

Building an app and emptying every table cost ~2 s a test; rolling back a transaction costs
nothing. While a test runs, every session of every app on the test database (the cached apps,
apps a test builds with ``make_app``, the autocommit twin of API reads) is bound to one
connection whose transaction began before the test: SQLAlchemy's "join an external
transaction" recipe with ``join_transaction_mode="create_savepoint"``, so the code under test
commits and rolls back freely, each time a SAVEPOINT of that transaction.

What cannot join it is refused loudly instead of leaking rows into later tests: a thread other
than the test's using the database, and a write sent on another connection to the test
database (a second engine, ``db.engine.begin()``). Such a test is marked ``real_commits``.

The SAVEPOINT statements are sent below SQLAlchemy's events, so a test that counts the
statements of a request sees what production sends. A session that only read and then closes
releases its SAVEPOINT instead of rolling it back, so that what another session committed
meanwhile in an app context nested in its own (a job run from a CLI command) stays committed.
"""
from __future__ import annotations

import functools
import threading

import sqlalchemy as sa

WRITES = frozenset({"INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "ALTER", "TRUNCATE", "REPLACE", "MERGE",
                    "COPY", "GRANT", "COMMENT", "VACUUM"})
MARK_IT = "mark the test @pytest.mark.real_commits (its own app, real commits, emptied tables after it)"

_current: Outer | None = None


def active() -> Outer | None:
    """The running test's transaction, or None (no database, or a ``real_commits`` test)."""
    return _current


def same_database(a: sa.URL, b: sa.URL) -> bool:
    return (a.get_backend_name(), a.host, a.port, a.database) == (b.get_backend_name(), b.host, b.port, b.database)


def _raw(connection: sa.Connection, statement: str) -> None:
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


READS = frozenset({"SELECT", "SHOW", "EXPLAIN"})


def manage_savepoints(engine: sa.Engine) -> None:
    """Have the running test's transaction handle ``engine``'s SAVEPOINT statements (see
    :class:`Outer`), sent on the driver's cursor, unseen by event listeners: a statement counter
    on ``db.engine`` sees only what the code under test sends."""
    dialect = engine.dialect

    def outer_of(conn):
        return _current if _current is not None and conn is _current.connection else None

    def savepoint(conn, name):
        if (outer := outer_of(conn)) is not None:
            outer.savepoints.append(_Savepoint(name))
        _raw(conn, f"SAVEPOINT {name}")

    def release(conn, name):
        if (outer := outer_of(conn)) is not None:
            outer.released(name)
        _raw(conn, f"RELEASE SAVEPOINT {name}")

    def rollback_to(conn, name):
        if (outer := outer_of(conn)) is not None and not outer.rolled_back(name):
            _raw(conn, f"RELEASE SAVEPOINT {name}")
        else:
            _raw(conn, f"ROLLBACK TO SAVEPOINT {name}")

    dialect.do_savepoint, dialect.do_release_savepoint, dialect.do_rollback_to_savepoint = \
        savepoint, release, rollback_to

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _note_write(conn, _cursor, statement, _parameters, _context, _executemany):
        outer = outer_of(conn)
        if outer is not None and outer.savepoints and statement.lstrip().split(None, 1)[0].upper() not in READS:
            outer.savepoints[-1].writes = True

    @sa.event.listens_for(engine, "handle_error")
    def _note_error(context):
        outer = outer_of(context.connection)
        if outer is not None and outer.savepoints:
            outer.savepoints[-1].writes = True  # PostgreSQL wants the ROLLBACK TO after an error


class _Savepoint:
    """One session's transaction inside the test's: did it write itself, does it hold what
    sessions nested in it committed?"""

    def __init__(self, name: str):
        self.name, self.writes, self.kept = name, False, False


def share_engine(app, engine: sa.Engine) -> None:
    """Give ``app`` ``engine`` instead of its own (closed): a listener a test puts on
    ``db.engine`` of any app then sees the statements of the test's connection."""
    from core.extensions import db
    engines = db._app_engines[app]  # Flask-SQLAlchemy 3.1 keeps each app's engines there
    own = engines.get(None)
    if own is not engine:
        engines[None] = engine
        if own is not None:
            own.dispose()


@functools.cache
def _session_class():
    from core.autocommit_reads import HcrmSession

    class RolledBackSession(HcrmSession):
        """``db.session`` during a rolled-back test: the test's connection for the test database."""

        def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
            chosen = super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)
            outer = _current
            if outer is None or not isinstance(chosen, sa.Engine) or not same_database(chosen.url, outer.url):
                return chosen
            if threading.get_ident() != outer.thread:
                outer.refuse(f"thread '{threading.current_thread().name}' used the test database; "
                             "it cannot share the test's transaction")
            return outer.connection

    return RolledBackSession


class Outer:
    """The running test's transaction on a connection of ``engine`` (the cached default app's)."""

    def __init__(self, engine: sa.Engine):
        self.url = engine.url
        self.thread = threading.get_ident()
        self.misuse: list[str] = []
        self.twins: list[sa.Engine] = []  # of the apps the test built (closed after it)
        self.savepoints: list[_Savepoint] = []  # the sessions' transactions, innermost last
        self.connection = engine.connect()
        self._raw = self.connection.connection.dbapi_connection
        self._sqlite_level = None
        if engine.dialect.name == "sqlite":
            # pysqlite sends BEGIN only before its first write, so the first SAVEPOINT would open
            # the transaction and its RELEASE commit it: take BEGIN out of the driver's hands.
            self._sqlite_level = self._raw.isolation_level
            self._raw.isolation_level = None
        self.transaction = self.connection.begin()
        if self._sqlite_level is not None:
            _raw(self.connection, "BEGIN")

    def adopt(self, app) -> None:
        """An app the test built: on the test database it shares the test's engine."""
        from core.extensions import db
        with app.app_context():
            if not same_database(db.engine.url, self.url):
                return
        share_engine(app, self.connection.engine)
        twin = app.extensions["hcrm"].autocommit_engine
        if twin is not None:
            self.twins.append(twin)

    def _pop_to(self, name: str) -> _Savepoint | None:
        while self.savepoints:
            savepoint = self.savepoints.pop()
            if savepoint.name == name:
                return savepoint
        return None

    def released(self, name: str) -> None:
        """A session committed: what it wrote stays, whatever the session around it does."""
        savepoint = self._pop_to(name)
        if savepoint is not None and (savepoint.writes or savepoint.kept) and self.savepoints:
            self.savepoints[-1].kept = True

    def rolled_back(self, name: str) -> bool:
        """A session rolls back or closes: whether its savepoint must really be rolled back.
        One that only read is released instead, so that what a session nested in it (another
        app context: a job, a CLI command's work) committed stays, as it would in production.
        One that wrote cannot undo its own writes alone: the test is told."""
        savepoint = self._pop_to(name)
        if savepoint is None or savepoint.writes:
            if savepoint is not None and savepoint.kept:
                self.misuse.append("a session rolled back its writes after another session, in an app context "
                                   "nested in its own, committed: that commit was undone with them; "
                                   + MARK_IT)
            return True
        if savepoint.kept and self.savepoints:
            self.savepoints[-1].kept = True
        return False

    def refuse(self, what: str):
        message = f"{what}; {MARK_IT}"
        self.misuse.append(message)
        raise RuntimeError(message)

    def close(self) -> None:
        try:
            if self.transaction.is_active:
                self.transaction.rollback()
        finally:
            if self._sqlite_level is not None:
                self._raw.isolation_level = self._sqlite_level
            self.connection.close()
            for twin in self.twins:
                twin.dispose()


def _guard_other_connections(conn, _cursor, statement, _parameters, _context, _executemany) -> None:
    outer = _current
    if outer is None or conn.connection.dbapi_connection is outer._raw or not same_database(conn.engine.url, outer.url):
        return
    words = statement.lstrip().split(None, 1)
    if words and words[0].upper() in WRITES:
        outer.refuse(f"a {words[0].upper()} was sent to the test database on a connection other than the "
                     "test's (a second engine or db.engine.connect()): it would commit outside the test's "
                     "transaction and leak into later tests")


_guard_installed = False


def begin(engine: sa.Engine) -> Outer:
    """Start the test's transaction and bind ``db.session`` to it (until :func:`end`)."""
    global _current, _guard_installed
    from core.extensions import db
    if not _guard_installed:
        sa.event.listen(sa.Engine, "before_cursor_execute", _guard_other_connections)
        _guard_installed = True
    outer = Outer(engine)
    outer.saved_session = db.session
    factory = db.session.session_factory
    db.session = sa.orm.scoped_session(
        sa.orm.sessionmaker(**{**factory.kw, "class_": _session_class(), "join_transaction_mode": "create_savepoint"}),
        scopefunc=db.session.registry.scopefunc)
    _current = outer
    return outer


def end(outer: Outer) -> None:
    """Roll the test's transaction back and give ``db.session`` back."""
    global _current
    from core.extensions import db
    _current = None
    db.session = outer.saved_session  # the test's sessions go with their scoped registry
    outer.close()
