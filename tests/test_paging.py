"""core.paging.page_of: a page, its total and whether the total is exact, in as few statements
as the list allows."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import Department
from core.paging import page_of
from core.tenancy import hospital_scope
from core.testing import make_department, make_hospital


@pytest.fixture
def departments(app):
    """Hospital A with 12 departments, hospital B with 3 (which A's lists must never count)."""
    with app.app_context():
        a, b = make_hospital("A"), make_hospital("B")
        for i in range(12):
            make_department(a, f"D{i:02d}")
        for i in range(3):
            make_department(b, f"D{i:02d}")
        yield a.id


@pytest.fixture
def statements(app):
    sent = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *args: sent.append(args[2]))
    return sent


LIST = sa.select(Department).order_by(Department.code)
COUNTED = sa.select(Department.id)  # "one row per listed row", as a cheaper statement would be


def test_a_full_page_carries_its_count_in_its_own_statement(departments, statements):
    with hospital_scope(departments):
        rows, total, exact = page_of(LIST, page=1, per_page=5, counted=COUNTED)
        assert [d.code for d in rows] == ["D00", "D01", "D02", "D03", "D04"]
        assert (total, exact) == (12, True)  # B's three are not counted
        assert len(statements) == 1
        rows, total, exact = page_of(LIST, page=2, per_page=5, cap=10, counted=COUNTED)
        assert [d.code for d in rows][0] == "D05" and (total, exact) == (10, False)


def test_a_page_that_is_not_full_needs_no_count(departments, statements):
    with hospital_scope(departments):
        rows, total, exact = page_of(LIST, page=3, per_page=5, counted=COUNTED)
        assert [d.code for d in rows] == ["D10", "D11"] and (total, exact) == (12, True)
        rows, total, exact = page_of(LIST, page=1, per_page=20)
        assert len(rows) == 12 and (total, exact) == (12, True)
        assert len(statements) == 2


def test_past_the_end_and_without_a_cheaper_statement_the_list_is_counted(departments, statements):
    with hospital_scope(departments):
        assert page_of(LIST, page=9, per_page=5, counted=COUNTED) == ([], 12, True)
        assert len(statements) == 2  # the empty page, then its count
        rows, total, _exact = page_of(LIST, page=1, per_page=5)
        assert len(rows) == 5 and total == 12 and len(statements) == 4


def test_rows_of_several_columns_are_counted_apart(departments, statements):
    with hospital_scope(departments):
        rows, total, exact = page_of(sa.select(Department.code, Department.name).order_by(Department.code),
                                     page=1, per_page=5, counted=COUNTED)
        assert rows[0].code == "D00" and (total, exact) == (12, True)
        assert len(statements) == 2


def test_pages_get_flask_sqlalchemys_pager_filled_the_same_way(departments, statements):
    from core.paging import paginate_capped
    with hospital_scope(departments):
        page = paginate_capped(LIST, page=2, per_page=5, cap=10, counted=COUNTED)
        assert [d.code for d in page.items][0] == "D05" and len(statements) == 1
        assert (page.total, page.total_exact, page.pages, page.has_next, page.has_prev) == (10, False, 2, False, True)
        last = paginate_capped(LIST, page=3, per_page=5, cap=100)
        assert (last.total, last.total_exact, [d.code for d in last.items]) == (12, True, ["D10", "D11"])
        assert len(statements) == 2
