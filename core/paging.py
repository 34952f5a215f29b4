"""Counting the rows of a list, exactly or up to a cap; shared by pages and the API."""
from __future__ import annotations

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination

from core.extensions import db
from core.integers import DB_INT_MAX


def count_statement(select_stmt, cap: int | None = None):
    """``SELECT count(*)`` of ``select_stmt``'s rows, of ``cap + 1`` at most with ``cap``."""
    inner = select_stmt.order_by(None)
    if not inner._distinct and inner._group_by_clauses == ():
        # What the rows hold does not change how many there are: a constant lets PostgreSQL
        # count from the index alone without forming each row (a wide row costs twice the time).
        inner = inner.with_only_columns(sa.literal_column("1"), maintain_column_froms=True)
    if cap is not None:
        inner = inner.limit(cap + 1)
    return sa.select(sa.func.count()).select_from(inner.subquery())


def _capped(total: int, cap: int | None) -> tuple[int, bool]:
    return (cap, False) if cap is not None and total > cap else (total, True)


def count_rows(select_stmt, cap: int | None = None) -> tuple[int, bool]:
    """(count, exact) of ``select_stmt``'s rows. With ``cap``, counting stops after ``cap`` rows
    (``exact`` false then): counting a million-row list exactly costs more than showing it."""
    return _capped(db.session.execute(count_statement(select_stmt, cap)).scalar_one(), cap)


def total_for_page(select_stmt, *, page: int, per_page: int, shown: int, cap: int | None = None,
                   counted=None) -> tuple[int, bool]:
    """(count, exact) of a list whose page ``page`` holds ``shown`` rows. A page that is not full
    is the last one, so the total follows without counting: a lookup by phone or ID number is one
    statement, not two. Otherwise as :func:`count_rows`, of ``counted`` when given: a statement
    with one row per listed row that is cheaper to count than the list's own."""
    if 0 < shown < per_page or (page == 1 and shown == 0):
        return (page - 1) * per_page + shown, True
    return count_rows(select_stmt if counted is None else counted, cap)


def page_of(select_stmt, *, page: int, per_page: int, cap: int | None = None, counted=None,
            load=()) -> tuple[list, int, bool]:
    """(rows, count, exact) of page ``page`` of ``select_stmt``, counted as :func:`total_for_page`
    does. A statement of one entity yields the entities (``load``: its loader options, for the
    page only), several columns yield rows.

    With ``counted`` and one entity, the count rides in the page's own statement (a scalar
    subquery PostgreSQL runs once): one statement instead of two for the lists ``counted`` is given
    for (a name search), whose first page is full more often than not."""
    page = min(page, DB_INT_MAX)  # past the last page anyway; keeps the OFFSET within 64 bits
    stmt = select_stmt.options(*load).limit(per_page).offset((page - 1) * per_page)
    single = len(select_stmt.column_descriptions) == 1
    if counted is not None and single:
        stmt = stmt.add_columns(count_statement(counted, cap).scalar_subquery())
        found = db.session.execute(stmt).unique().all()
        rows = [entity for entity, _total in found]
        if len(rows) == per_page:
            return rows, *_capped(found[0][1], cap)
    else:
        result = db.session.execute(stmt)
        rows = result.unique().scalars().all() if single else result.all()
    return rows, *total_for_page(select_stmt, page=page, per_page=per_page, shown=len(rows), cap=cap,
                                 counted=counted)


class CappedPage(Pagination):
    """Flask-SQLAlchemy's page object (what the templates' pagers read) filled by :func:`page_of`;
    ``total_exact`` says whether ``total`` is exact."""

    def _query_items(self) -> list:
        args = self._query_args
        rows, self._counted_total, self.total_exact = page_of(
            args["select"], page=self.page, per_page=self.per_page, cap=args["cap"], counted=args["counted"])
        return rows

    def _query_count(self) -> int:
        return self._counted_total


def paginate_capped(select_stmt, *, page: int, per_page: int, cap: int, counted=None) -> CappedPage:
    """Page ``page`` of ``select_stmt`` with a capped count (see :func:`page_of`)."""
    return CappedPage(page=page, per_page=per_page, max_per_page=None, error_out=False,
                      select=select_stmt, cap=cap, counted=counted)
