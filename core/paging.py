"""Counting the rows of a list, exactly or up to a cap; shared by pages and the API."""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db


def count_rows(select_stmt, cap: int | None = None) -> tuple[int, bool]:
    """(count, exact) of ``select_stmt``'s rows. With ``cap``, counting stops after ``cap`` rows
    (``exact`` false then): counting a million-row list exactly costs more than showing it."""
    inner = select_stmt.order_by(None)
    if cap is not None:
        inner = inner.limit(cap + 1)
    total = db.session.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar_one()
    if cap is not None and total > cap:
        return cap, False
    return total, True


def paginate_capped(select_stmt, *, page: int, per_page: int, cap: int):
    """Flask-SQLAlchemy's page object with a capped count; ``page.total_exact`` says which."""
    result = db.paginate(select_stmt, page=page, per_page=per_page, error_out=False, count=False)
    result.total, result.total_exact = count_rows(select_stmt, cap)
    return result
