"""Counting the rows of a list, exactly or up to a cap; shared by pages and the API."""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db


def count_rows(select_stmt, cap: int | None = None) -> tuple[int, bool]:
    """(count, exact) of ``select_stmt``'s rows. With ``cap``, counting stops after ``cap`` rows
    (``exact`` false then): counting a million-row list exactly costs more than showing it."""
    inner = select_stmt.order_by(None)
    if not inner._distinct and inner._group_by_clauses == ():
        # What the rows hold does not change how many there are: a constant lets PostgreSQL
        # count from the index alone without forming each row (a wide row costs twice the time).
        inner = inner.with_only_columns(sa.literal_column("1"), maintain_column_froms=True)
    if cap is not None:
        inner = inner.limit(cap + 1)
    total = db.session.execute(sa.select(sa.func.count()).select_from(inner.subquery())).scalar_one()
    if cap is not None and total > cap:
        return cap, False
    return total, True


def total_for_page(select_stmt, *, page: int, per_page: int, shown: int, cap: int | None = None,
                   counted=None) -> tuple[int, bool]:
    """(count, exact) of a list whose page ``page`` holds ``shown`` rows. A page that is not full
    is the last one, so the total follows without counting: a lookup by phone or ID number is one
    statement, not two. Otherwise as :func:`count_rows`, of ``counted`` when given: a statement
    with one row per listed row that is cheaper to count than the list's own."""
    if 0 < shown < per_page or (page == 1 and shown == 0):
        return (page - 1) * per_page + shown, True
    return count_rows(select_stmt if counted is None else counted, cap)


def paginate_capped(select_stmt, *, page: int, per_page: int, cap: int, counted=None):
    """Flask-SQLAlchemy's page object with a capped count; ``page.total_exact`` says which.
    ``counted``: see :func:`total_for_page`."""
    result = db.paginate(select_stmt, page=page, per_page=per_page, error_out=False, count=False)
    result.total, result.total_exact = total_for_page(select_stmt, page=page, per_page=per_page,
                                                      shown=len(result.items), cap=cap, counted=counted)
    return result
