"""Reading the HIS: connecting read-only with a statement timeout, checking queries, and streaming
an administrator's SELECT in keyset order.

Where the HIS is comes from the sources the operator configured (settings.py): a connection
names its source, and resolve.py builds the URL at every connect and checks it again (guard.py:
never the CRM's own database, SQLite only inside sqlite_dir, opened ``mode=ro``). The password
never touches our storage: a connection names an environment variable (``HCRM_HIS_PASSWORD_…``
only), read at connect time and put into the URL object only; URLs are rendered with
``hide_password=True`` wherever they are shown or logged. Accounts with powers over their
server are refused when the session opens.

Reading: the admin's SELECT is wrapped as a subquery ``src`` and read in *windows*

    SELECT * FROM (<query>) src
    WHERE (C > :c OR (C = :c AND K > :k)) AND C <= :upper
    ORDER BY C, K  LIMIT :window

each streamed with a server-side cursor in batches (``stream_results`` + ``partitions``), so
memory holds one batch, however large the table. Windows (not one endless statement) keep each
statement short — the statement timeout applies to each, the HIS never holds one snapshot for a
whole initial load, and a dropped connection costs at most the window in progress. Never OFFSET:
each window starts from the last (cursor, key) read, through the (cursor, key) index.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import NullPool

from core.i18n import Message, _m
from plugins.his_connector.errors import HisError
from plugins.his_connector.resolve import connection_url, display_url

COLUMN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_$#]{0,63}")
CONNECT_TIMEOUT = 10  # seconds
MAX_WINDOW = 200_000  # rows per statement
CHARSETS = {  # our encoding setting → each driver's name for it
    "mysql": {"utf8": "utf8mb4", "gbk": "gbk", "gb18030": "gb18030"},
    "postgresql": {"utf8": "UTF8", "gbk": "GBK", "gb18030": "GB18030"},
    "mssql": {"utf8": "UTF-8", "gbk": "GBK", "gb18030": "GB18030"},
}
# The HIS's clock in UTC, turned into the connection's zone (clock_of): a HIS server's session
# zone (NOW()) often differs from the zone its applications write their naive times in.
CLOCK_SQL = {
    "mysql": "SELECT UTC_TIMESTAMP(6)",
    "postgresql": "SELECT CURRENT_TIMESTAMP AT TIME ZONE 'UTC'",
    "sqlite": "SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')",
    "oracle": "SELECT SYS_EXTRACT_UTC(SYSTIMESTAMP) FROM DUAL",
    "mssql": "SELECT SYSUTCDATETIME()",
}
CLOCK_TOLERANCE = timedelta(hours=1)  # "test connection" warns beyond it (see clock_warnings)
ZONE_SPAN = timedelta(hours=14)  # no two zones are further apart: older data is a quiet HIS, not a wrong zone
DRIVER_EXTRAS = {"pymysql": "PyMySQL", "oracledb": "oracledb", "pymssql": "pymssql", "psycopg2": "psycopg2-binary"}


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def clean_query(value) -> tuple[str | None, Message | None]:
    """(query, problem): one SELECT (or WITH … SELECT), without a trailing semicolon."""
    text = (value or "").strip().rstrip(";").strip()
    if not re.match(r"(?is)^(select|with)\b", text):
        return None, _m("The query is one SELECT statement.")
    if ";" in text:
        return None, _m("The query is one statement: remove the semicolons.")
    if len(text) > 20_000:
        return None, _m("The query is longer than 20,000 characters.")
    return text, None


def password_state(connection) -> str:
    if not connection.password_env:
        return "none"
    return "set" if os.environ.get(connection.password_env) is not None else "missing"


def _family(dialect_name: str) -> str:
    return "mysql" if dialect_name in ("mysql", "mariadb") else dialect_name


# Powers a read-only session does not take away: reading the server's files (PostgreSQL's
# pg_read_file, MySQL's LOAD_FILE), every other database, running programs. An account with
# any of them is refused, whatever the operator configured: the HIS account may only SELECT.
POSTGRESQL_POWERS = ("SELECT current_setting('is_superuser') = 'on' "
                     "OR pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') "
                     "OR pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER')")
MYSQL_POWERS = ("SELECT COUNT(*) > 0 FROM information_schema.USER_PRIVILEGES "
                "WHERE PRIVILEGE_TYPE IN ('FILE', 'SUPER', 'PROCESS', 'SHUTDOWN', 'CREATE USER')")


def _refuse_powerful_account(cursor, sql: str) -> None:
    cursor.execute(sql)
    if cursor.fetchone()[0]:
        raise HisError(_m("The HIS account is an administrator of its database server (it may read the server's "
                          "files or other databases): give the CRM an account that may only SELECT the HIS tables "
                          "(see the HIS connector's guide)."))


def _session_setup(family: str, timeout: int):
    """SQL run on every new HIS connection: read-only, statement timeout, patience for a reader
    that pauses between batches while our side commits."""

    def setup(dbapi_connection, _record):
        if family == "oracle":
            dbapi_connection.call_timeout = timeout * 1000  # the account itself is read-only
            return
        cursor = dbapi_connection.cursor()
        try:
            if family == "mysql":
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
                _refuse_powerful_account(cursor, MYSQL_POWERS)
                cursor.execute("SELECT VERSION()")
                mariadb = "mariadb" in str(cursor.fetchone()[0]).lower()
                cursor.execute(f"SET SESSION max_statement_time = {int(timeout)}" if mariadb
                               else f"SET SESSION max_execution_time = {int(timeout) * 1000}")
                cursor.execute("SET SESSION net_write_timeout = 600")
            elif family == "postgresql":
                _refuse_powerful_account(cursor, POSTGRESQL_POWERS)
            elif family == "sqlite":
                cursor.execute("PRAGMA query_only = ON")
            elif family == "mssql":
                cursor.execute("SET LOCK_TIMEOUT 10000")
        finally:
            cursor.close()
    return setup


def _mysql_conversions() -> dict:
    """PyMySQL's conversions, but DATETIME, TIMESTAMP and DATE stay text ('2024-05-01 08:00:00').
    Parsing them in PyMySQL's Python is a quarter of a sync's reading; the mapper parses them in
    C (datetime.fromisoformat), and cursor values keep the source's own text, which MariaDB and
    MySQL compare with the column as dates."""
    from pymysql.constants import FIELD_TYPE
    from pymysql.converters import conversions, through
    return {**conversions, FIELD_TYPE.DATETIME: through, FIELD_TYPE.TIMESTAMP: through, FIELD_TYPE.DATE: through}


def _quiet_sscursor():
    """PyMySQL's server-side cursor, but closing one whose connection died (the HIS went away,
    we reconnect) does nothing instead of raising AttributeError from the dead socket — which
    the garbage collector printed as "Exception ignored in SSCursor.close"."""
    import pymysql

    class QuietSSCursor(pymysql.cursors.SSCursor):
        def close(self):
            try:
                super().close()
            except (AttributeError, OSError, pymysql.err.Error):
                if self._result is not None:  # its own finalizer would read the dead socket too
                    self._result.unbuffered_active = False
                    self._result.connection = None
                self.connection = None

        __del__ = close  # PyMySQL binds its own close as the finalizer
    return QuietSSCursor


def engine(connection) -> sa.Engine:
    """An engine for the HIS, with no pool: a sync holds one connection; tests and previews
    open and close theirs."""
    url = connection_url(connection)
    family = _family(url.get_dialect().name)
    timeout = int(connection.statement_timeout)
    args: dict = {}
    charset = CHARSETS.get(family, {}).get(connection.encoding)
    if family == "mysql":
        args = {"charset": charset, "connect_timeout": CONNECT_TIMEOUT, "read_timeout": timeout + 30}
        if url.get_driver_name() == "pymysql":
            args["conv"] = _mysql_conversions()
    elif family == "postgresql":
        args = {"connect_timeout": CONNECT_TIMEOUT, "client_encoding": charset,
                "options": f"-c default_transaction_read_only=on -c statement_timeout={timeout * 1000}"}
    elif family == "mssql":
        args = {"charset": charset, "login_timeout": CONNECT_TIMEOUT, "timeout": timeout}
    try:
        created = sa.create_engine(url, poolclass=NullPool, connect_args=args)
    except ModuleNotFoundError as exc:
        raise HisError(_m("The database driver %(driver)s is not installed: pip install %(package)s",
                          driver=exc.name, package=DRIVER_EXTRAS.get(exc.name, exc.name))) from None
    event.listen(created, "connect", _session_setup(family, timeout))
    if family == "mysql" and url.get_driver_name() == "pymysql" and created.dialect.supports_server_side_cursors:
        created.dialect._sscursor = _quiet_sscursor()  # after the property above, which sets PyMySQL's
    return created


def is_connection_lost(exc: BaseException) -> bool:
    """Errors worth a reconnect: the HIS went away, a network cut, a killed session. A refused
    query or a wrong password is not (retrying would only repeat it)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError)):
        code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
        # MySQL: 1045 access denied, 1044 no database, 1049 unknown database, 1146 no table,
        # 1969/3024 statement timeout — none is cured by reconnecting.
        return code not in (1044, 1045, 1049, 1146, 1969, 3024)
    return isinstance(exc, (ConnectionError, TimeoutError, OSError))


def describe_error(exc: BaseException) -> str:
    """A short, password-free description of a driver error."""
    if isinstance(exc, HisError):
        return str(exc)
    orig = getattr(exc, "orig", None) or exc
    return f"{type(orig).__name__}: {str(orig).splitlines()[0][:300] if str(orig) else ''}"


@dataclass
class TestResult:
    ok: bool
    message: Message
    server: str | None = None
    clock: object = None
    warnings: list = field(default_factory=list)  # Messages: the HIS clock and the data disagree


def test(connection) -> TestResult:
    """Connect, read the server version and clock. Never raises: the result explains."""
    try:
        with engine(connection).connect() as conn:
            family = _family(conn.dialect.name)
            server = conn.dialect.server_version_info
            clock = clock_of(conn, connection.timezone)
            warnings = clock_warnings(conn, connection, clock)
    except HisError as exc:
        return TestResult(False, exc.message)
    except Exception as exc:  # any driver error: say what it was, keep the password out
        return TestResult(False, _m("Cannot connect to %(url)s: %(error)s", url=display_url(connection),
                                    error=describe_error(exc)))
    version = ".".join(str(p) for p in server) if server else family
    return TestResult(True, _m("Connected to %(family)s %(version)s (read-only); the HIS clock says %(clock)s "
                               "(%(zone)s).", family=family, version=version, clock=str(clock),
                               zone=connection.timezone), version, clock, warnings)


def as_datetime(value):
    """A cursor or clock value as a datetime (PyMySQL hands DATETIMEs over as text), else None."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, datetime.min.time())
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    return None


def clock_of(conn, zone: str) -> datetime | None:
    """The HIS's own current time as a naive local time of ``zone`` (the connection's: the zone
    the HIS writes its timestamps in), so the upper bound never depends on our clock agreeing
    with theirs, nor on the HIS server's session zone agreeing with its data's."""
    sql = CLOCK_SQL.get(_family(conn.dialect.name), "SELECT CURRENT_TIMESTAMP")
    moment = as_datetime(conn.execute(sa.text(sql)).scalar())
    if moment is None:
        return None
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    return utc.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def clock_warnings(conn, connection, clock) -> list[Message]:
    """Each enabled mapping whose newest cursor value is more than an hour ahead of the HIS clock
    (read in the connection's zone), or more than an hour but less than a zone span behind it:
    the zone is probably wrong, and rows would wait hours (or the safety lag would not hold)."""
    problems = []
    if not isinstance(clock, datetime):
        return problems
    for mapping in connection.mappings:
        if not mapping.enabled:
            continue
        try:
            newest = as_datetime(conn.execute(sa.select(sa.func.max(sa.column(mapping.cursor_column)))
                                              .select_from(_wrapped(mapping.query))).scalar())
        except sa.exc.DBAPIError:
            conn.rollback()
            continue  # a broken query is the mapping page's business
        if newest is None:
            continue
        gap = newest - clock
        if gap > CLOCK_TOLERANCE or -ZONE_SPAN < gap < -CLOCK_TOLERANCE:
            params = dict(column=mapping.cursor_column, entity=mapping.entity, newest=newest.isoformat(sep=" "),
                          hours=f"{abs(gap.total_seconds()) / 3600:.1f}", zone=connection.timezone,
                          clock=clock.isoformat(sep=" ", timespec="seconds"))
            if gap > timedelta(0):
                problems.append(_m("The newest %(column)s of the %(entity)s query (%(newest)s) is %(hours)s hours "
                                   "ahead of the HIS clock read in %(zone)s (%(clock)s): check the connection's "
                                   "time zone — rows newer than the HIS clock minus the safety lag wait for a "
                                   "later run.", **params))
            else:
                problems.append(_m("The newest %(column)s of the %(entity)s query (%(newest)s) is %(hours)s hours "
                                   "behind the HIS clock read in %(zone)s (%(clock)s): if the HIS changed rows "
                                   "within the hour, check the connection's time zone.", **params))
    return problems


def _wrapped(query: str):
    return sa.text(query).columns().subquery("src")


def query_columns(connection, query: str) -> list[str]:
    """The query's column names, from running it wrapped in ``WHERE 1=0`` (no rows read).
    Raises HisError when the HIS refuses it or cannot be reached."""
    statement = sa.select(sa.literal_column("*")).select_from(_wrapped(query)).where(sa.false())
    try:
        with engine(connection).connect() as conn:
            return list(conn.execute(statement).keys())
    except HisError:
        raise
    except Exception as exc:
        raise HisError(_m("The HIS refused the query: %(error)s", error=describe_error(exc))) from None


def _select(connection, statement) -> tuple[list[str], list]:
    """(columns, rows) of a SELECT on the HIS; HisError when the HIS refuses it."""
    try:
        with engine(connection).connect() as conn:
            result = conn.execute(statement)
            return list(result.keys()), result.fetchall()
    except HisError:
        raise
    except Exception as exc:
        raise HisError(_m("The HIS refused the query: %(error)s", error=describe_error(exc))) from None


def sample(connection, query: str, key_column: str, cursor_column: str, limit: int) -> tuple[list[str], list]:
    """The first ``limit`` rows in (cursor, key) order, for a preview."""
    return _select(connection, sa.select(sa.literal_column("*")).select_from(_wrapped(query))
                   .order_by(sa.column(cursor_column), sa.column(key_column)).limit(limit))


def run_select(connection, statement) -> list:
    """The rows of a SELECT built on the HIS (e.g. a code table): HisError when refused."""
    return _select(connection, statement)[1]


def first_rows(connection, query: str, limit: int) -> tuple[list[str], list]:
    """(columns, the first ``limit`` rows) of an administrator's SELECT, e.g. a code table."""
    return _select(connection, sa.select(sa.literal_column("*")).select_from(_wrapped(query)).limit(limit))


def _unpositioned_statement(query: str, key_column: str, cursor_column: str):
    cursor, key = sa.column(cursor_column), sa.column(key_column)
    return sa.select(sa.func.count()).select_from(_wrapped(query)).where(sa.or_(cursor.is_(None), key.is_(None)))


def count_unpositioned(conn, query: str, key_column: str, cursor_column: str, *, commit: bool = False) -> int:
    """Rows of ``query`` whose cursor or key is NULL (never read: they cannot be positioned)."""
    value = conn.execute(_unpositioned_statement(query, key_column, cursor_column)).scalar()
    if commit:
        conn.commit()
    return int(value or 0)


def preview_sample(connection, query: str, key_column: str, cursor_column: str, limit: int):
    """(columns, the first rows a sync would read, how many rows it never reads for lack of a
    cursor or key value) for a preview."""
    cursor, key = sa.column(cursor_column), sa.column(key_column)
    statement = (sa.select(sa.literal_column("*")).select_from(_wrapped(query))
                 .where(cursor.isnot(None), key.isnot(None)).order_by(sa.column(cursor_column), sa.column(key_column)).limit(limit))
    try:
        with engine(connection).connect() as conn:
            result = conn.execute(statement)
            columns, rows = list(result.keys()), result.fetchall()
            return columns, rows, count_unpositioned(conn, query, key_column, cursor_column)
    except HisError:
        raise
    except Exception as exc:
        raise HisError(_m("The HIS refused the query: %(error)s", error=describe_error(exc))) from None


# -- positions ----------------------------------------------------------------------------------
TYPE_NAMES = {datetime: "datetime", date: "date", int: "int", Decimal: "decimal", str: "str", float: "float"}


def encode_value(value) -> tuple[str | None, str | None]:
    """(text, type) of a cursor or key value, exact: datetimes keep their microseconds and stay
    naive (source-local), decimals keep their digits."""
    if value is None:
        return None, None
    kind = TYPE_NAMES.get(type(value))
    if kind is None:
        kind, value = "str", str(value)
    text = value.isoformat() if kind in ("datetime", "date") else (repr(value) if kind == "float" else str(value))
    return text, kind


def decode_value(text: str | None, kind: str | None):
    if text is None:
        return None
    return {"datetime": datetime.fromisoformat, "date": date.fromisoformat, "int": int, "decimal": Decimal,
            "float": float}.get(kind, str)(text)


@dataclass
class Position:
    """Where reading resumes: after the row (cursor, key)."""

    cursor: object
    key: object

    def describe(self) -> str | None:
        return None if self.cursor is None else f"{encode_value(self.cursor)[0]} / {encode_value(self.key)[0]}"


def upper_bound(clock, sample_cursor, lag_seconds: int):
    """The newest cursor value this run reads: the HIS clock minus the safety lag, in the
    cursor's own type. None for cursors that are not times (an id, a version number): they
    have no clock to lag behind."""
    if isinstance(clock, str):
        try:
            clock = datetime.fromisoformat(clock)
        except ValueError:
            return None
    if not isinstance(clock, datetime):
        return None
    bound = clock - timedelta(seconds=lag_seconds)
    if isinstance(sample_cursor, datetime):
        return bound
    if isinstance(sample_cursor, date):
        return bound.date()
    if isinstance(sample_cursor, str) and re.match(r"^\d{4}-\d\d-\d\d[ T]\d\d:\d\d", sample_cursor):
        sep = sample_cursor[10]
        text = bound.isoformat(sep=sep)
        return text[:len(sample_cursor)] if len(sample_cursor) >= 19 else text[:19]
    return None


class Reader:
    """One read-only session on the HIS for one run."""

    def __init__(self, connection, query: str, key_column: str, cursor_column: str):
        self.connection = connection
        self.query, self.key_column, self.cursor_column = query, key_column, cursor_column
        self.engine = engine(connection)
        self.conn = None
        self.columns: list[str] | None = None

    def __enter__(self):
        self.conn = self.engine.connect()
        return self

    def __exit__(self, *exc_info):
        try:
            if self.conn is not None:
                self.conn.close()
        finally:
            self.engine.dispose()

    def clock(self):
        value = clock_of(self.conn, self.connection.timezone)
        self.conn.commit()
        return value

    def read_columns(self) -> list[str]:
        """The query's columns (``WHERE 1=0``: no rows read), before the first batch."""
        statement = sa.select(sa.literal_column("*")).select_from(_wrapped(self.query)).where(sa.false())
        self.columns = list(self.conn.execute(statement).keys())
        self.conn.commit()
        return self.columns

    def first_cursor(self):
        """Any one cursor value (its type decides the upper bound on a first run)."""
        statement = sa.select(sa.column(self.cursor_column)).select_from(_wrapped(self.query)).limit(1)
        value = self.conn.execute(statement).scalar()
        self.conn.commit()
        return value

    def _window(self, position: Position | None, upper, keys=None):
        cursor, key = sa.column(self.cursor_column), sa.column(self.key_column)
        # Rows without a cursor or key cannot be positioned (and NULL would stall the keyset).
        statement = (sa.select(sa.literal_column("*")).select_from(_wrapped(self.query))
                     .where(cursor.isnot(None), key.isnot(None)))
        if keys is not None:
            return statement.where(key.in_(keys)).order_by(cursor, key)
        if position is not None and position.cursor is not None:
            statement = statement.where(sa.or_(cursor > position.cursor,
                                               sa.and_(cursor == position.cursor, key > position.key)))
        if upper is not None:
            statement = statement.where(cursor <= upper)
        return statement.order_by(cursor, key)

    def batches(self, position: Position | None, upper, batch_size: int, window_batches: int = 20) -> Iterator[list]:
        """Rows after ``position`` up to ``upper``, in (cursor, key) order, ``batch_size`` at a
        time. The caller commits each batch before asking for the next one; on a dropped
        connection it resumes with a new Reader from its last committed position."""
        window = min(MAX_WINDOW, batch_size * window_batches)
        key_index = cursor_index = None
        while True:
            result = self.conn.execution_options(stream_results=True).execute(self._window(position, upper).limit(window))
            if key_index is None:
                self.columns = list(result.keys())
                names = [c.upper() for c in self.columns]
                key_index, cursor_index = names.index(self.key_column.upper()), names.index(self.cursor_column.upper())
            # The driver's plain rows, from SQLAlchemy's fetch strategy (which holds the rows it
            # read ahead when the server-side cursor opened): a textual query's columns have no
            # result processing to skip, and a Row object per HIS row costs time and memory.
            fetch, cursor, count = result.cursor_strategy.fetchmany, result.cursor, 0
            while rows := fetch(result, cursor, batch_size):
                count += len(rows)
                last = rows[-1]
                position = Position(last[cursor_index], last[key_index])
                yield rows
                if len(rows) < batch_size:
                    break  # the window is read (and SQLAlchemy closed the cursor)
            result.close()
            self.conn.commit()  # end the read transaction between windows: no long-held snapshot
            if count < window:
                return

    def count_unpositioned(self) -> int:
        """How many rows of the query have no cursor or no key value: they cannot be positioned
        and are never read (one COUNT; the run log and the preview say how many)."""
        return count_unpositioned(self.conn, self.query, self.key_column, self.cursor_column, commit=True)

    def count(self, position: Position | None, upper) -> int:
        """How many rows a run will read (for a progress bar): one COUNT over the index range."""
        statement = sa.select(sa.func.count()).select_from(self._window(position, upper).order_by(None).subquery())
        value = self.conn.execute(statement).scalar()
        self.conn.commit()
        return int(value or 0)

    def rows_for_keys(self, keys: list) -> tuple[list[str], list]:
        """The current source rows of these natural keys (quarantine retries)."""
        result = self.conn.execute(self._window(None, None, keys=keys))
        rows = result.fetchall()
        self.conn.commit()
        return list(result.keys()), rows
