"""``core.bulk_copy.insert_rows``: what goes in by COPY (PostgreSQL) or executemany (others)
comes back as it was written — quotes, commas, line breaks, NULLs, dates and decimals."""
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa

from core.bulk_copy import insert_rows
from core.extensions import db

ROWS = [
    (1, '张三, "三哥"', date(1990, 2, 28), datetime(2026, 3, 4, 5, 6, 7, 890000), Decimal("12.30"), True),
    (2, "第一行\n第二行\\结束", None, None, None, False),
    (3, "<script>'x'</script>;--", date(2000, 1, 1), datetime(2000, 1, 1), Decimal("0.00"), None),
]


def test_rows_come_back_as_written(app):
    table = sa.Table("test_bulk_copy_rows", sa.MetaData(),
                     sa.Column("id", sa.Integer, primary_key=True), sa.Column("text", sa.String(100)),
                     sa.Column("day", sa.Date), sa.Column("at", sa.DateTime),
                     sa.Column("amount", sa.Numeric(10, 2)), sa.Column("flag", sa.Boolean))
    with app.app_context():
        conn = db.session.connection()
        table.create(conn)
        try:
            insert_rows(conn, table, [c.name for c in table.columns], ROWS)
            insert_rows(conn, table, [c.name for c in table.columns], [])  # nothing to write is not an error
            stored = [tuple(row) for row in conn.execute(sa.select(table).order_by(table.c.id))]
        finally:
            db.session.rollback()
            table.drop(db.session.connection(), checkfirst=True)
            db.session.commit()
    assert stored == ROWS
