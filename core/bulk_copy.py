"""Writing many rows at once: PostgreSQL's COPY where the database has it, a plain executemany
elsewhere. Shared by the importers (HIS sync, name index, spreadsheet imports) that move
thousands of rows per statement."""
from __future__ import annotations

import csv
import io
from collections.abc import Sequence


def copy_csv(rows: Sequence[tuple]) -> io.StringIO:
    """``rows`` as COPY's CSV, written by the csv module's C writer: str() of dates, naive
    datetimes, Decimals and booleans is what PostgreSQL reads, and text is quoted when it needs
    to be. None and '' both become an empty field, which COPY reads as NULL: callers keep a
    blank as NULL anyway."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    buffer.seek(0)
    return buffer


def copy_into(conn, table: str, columns: Sequence[str], rows: Sequence[tuple], not_null: Sequence[str] = ()) -> None:
    """COPY ``rows`` (tuples in ``columns`` order) into ``table`` on ``conn``, a PostgreSQL
    connection of the caller's transaction. ``not_null``: columns whose empty fields are ''
    rather than NULL (COPY's FORCE_NOT_NULL)."""
    options = f", FORCE_NOT_NULL ({', '.join(not_null)})" if not_null else ""
    with conn.connection.dbapi_connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv{options})",
                           copy_csv(rows))


def insert_rows(conn, table, columns: Sequence[str], rows: Sequence[tuple], not_null: Sequence[str] = ()) -> None:
    """Insert ``rows`` into the SQLAlchemy ``table`` on ``conn``: one COPY on PostgreSQL (several
    times faster than multi-row INSERTs), an executemany elsewhere. Text must not be '' where
    NULL is not meant (see :func:`copy_csv`), except in the ``not_null`` columns, where '' stays ''."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        copy_into(conn, table.name, columns, rows, not_null)
    else:
        conn.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
