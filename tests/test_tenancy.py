"""Tenancy and data scope are applied by the ORM to every query: hospital, own, department, group."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.models import Department, User
from core.tenancy import (
    DataScoped,
    Scope,
    ScopedThrough,
    TenancyError,
    get_or_404,
    hospital_scope,
    system_scope,
    use_scope,
)
from core.testing import login, make_department, make_hospital, make_user


class Record(DataScoped, db.Model):
    """A test-only record with owner and department, like a patient or a follow-up plan."""

    __tablename__ = "tenancytest_record"
    id = sa.Column(sa.Integer, primary_key=True)
    title = sa.Column(sa.String(50), nullable=False)


class Note(ScopedThrough, db.Model):
    """A test-only child row seen by whoever sees its record, like an SMS and its patient."""

    __tablename__ = "tenancytest_note"
    __hcrm_scope_through__ = "record_id"
    id = sa.Column(sa.Integer, primary_key=True)
    record_id = sa.Column(sa.Integer, sa.ForeignKey("tenancytest_record.id"), nullable=True)
    text = sa.Column(sa.String(50), nullable=False)


@pytest.fixture
def world(app):
    with app.app_context():
        Record.__table__.create(db.session.connection(), checkfirst=True)  # in the test's transaction
        Note.__table__.create(db.session.connection(), checkfirst=True)
        a, b = make_hospital("A"), make_hospital("B")
        ortho = make_department(a, "ORTH")
        knee = make_department(a, "KNEE", parent=ortho)
        cardio = make_department(a, "CARD")
        users = {
            "a_staff": make_user(a, "a_staff", ("staff",), department=knee),
            "a_other": make_user(a, "a_other", ("staff",), department=cardio),
            "a_manager": make_user(a, "a_manager", ("dept_manager",), department=ortho),
            "a_director": make_user(a, "a_director", ("director",)),
            "b_director": make_user(b, "b_director", ("director",)),
            "group": make_user(a, "group", ("super_admin",), group_admin=True),
        }
        ids = {k: u.id for k, u in users.items()}
        rows = [("mine", a, ids["a_staff"], knee), ("colleague", a, ids["a_other"], cardio),
                ("knee-unit", a, None, knee), ("ortho", a, None, ortho), ("in-b", b, None, None)]
        for title, hospital, owner, dept in rows:
            with hospital_scope(hospital):
                db.session.add(Record(title=title, hospital_id=hospital.id, owner_id=owner,
                                      department_id=dept.id if dept else None))
                db.session.commit()
        with hospital_scope(a):
            by_title = dict(db.session.execute(sa.select(Record.title, Record.id)).all())
            db.session.add_all([Note(text=f"on {title}", record_id=by_title[title]) for title in ("mine", "ortho", "colleague")]
                               + [Note(text="orphan", record_id=None)])
            db.session.commit()
        yield {"a": a.id, "b": b.id, "users": ids, "depts": {"ortho": ortho.id, "knee": knee.id}}
        Note.__table__.drop(db.session.connection())
        Record.__table__.drop(db.session.connection())
        db.session.commit()


def titles_for(app, username, hospital_code=None, *, whole_group=False):
    """What a signed-in user's request sees, using the same scope the web layer computes
    (in ``hospital_code`` when a group administrator switched to it)."""
    from core.models import Hospital
    from core.tenancy import group_wide
    from core.web import scope_for
    with app.app_context():
        with system_scope():
            user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one()
            hospital = (db.session.execute(sa.select(Hospital).where(Hospital.code == hospital_code)).scalar_one()
                        if hospital_code else user.hospital)
            scope = scope_for(user, hospital)
        with use_scope(scope):
            if whole_group:
                with group_wide():
                    return sorted(db.session.execute(sa.select(Record.title)).scalars())
            return sorted(db.session.execute(sa.select(Record.title)).scalars())


@pytest.mark.parametrize("username, expected", [
    ("a_staff", ["mine"]),                                        # own records
    ("a_manager", ["knee-unit", "mine", "ortho"]),                # department and its sub-departments
    ("a_director", ["colleague", "knee-unit", "mine", "ortho"]),  # whole hospital
    ("b_director", ["in-b"]),                                     # another hospital sees only its own
    ("group", ["colleague", "knee-unit", "mine", "ortho"]),       # group administrator, working in A
])
def test_data_scope_levels(app, world, username, expected):
    assert titles_for(app, username) == expected


def test_a_group_administrator_sees_the_chosen_hospital_and_the_group_only_on_request(app, world):
    assert titles_for(app, "group", "B") == ["in-b"]
    assert titles_for(app, "group", "A", whole_group=True) == ["colleague", "in-b", "knee-unit", "mine", "ortho"]
    # The opt-in widens nothing for anyone else.
    assert titles_for(app, "a_director", whole_group=True) == ["colleague", "knee-unit", "mine", "ortho"]
    assert titles_for(app, "a_staff", whole_group=True) == ["mine"]


@pytest.mark.parametrize("username, expected", [
    ("a_staff", ["on mine"]),                                      # the parent's own scope
    ("a_manager", ["on mine", "on ortho"]),                       # the parent's department scope
    ("a_director", ["on colleague", "on mine", "on ortho", "orphan"]),  # the hospital's, orphans too
])
def test_a_scoped_through_row_is_seen_with_its_parent(app, world, username, expected):
    from core.web import scope_for
    with app.app_context():
        with system_scope():
            user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one()
            scope = scope_for(user, user.hospital)
        with use_scope(scope):
            assert sorted(db.session.execute(sa.select(Note.text)).scalars()) == expected
            count = db.session.execute(sa.select(sa.func.count()).select_from(Note)).scalar_one()
            joined = db.session.execute(sa.select(Note.text, Record.title).join(Record)).all()
            assert count == len(expected) and len(joined) == len([t for t in expected if t != "orphan"])


def test_a_scoped_through_model_must_name_a_foreign_key_to_a_data_scoped_table(app):
    from sqlalchemy.orm import declarative_base

    from core.catalog import check_model
    from core.plugins import PluginError
    other = declarative_base()  # kept out of the app's models: every query would trip over it

    class Loose(ScopedThrough, other):
        __tablename__ = "tenancytest_loose"
        __hcrm_scope_through__ = "parent_id"
        id = sa.Column(sa.Integer, primary_key=True)
        parent_id = sa.Column(sa.Integer)  # no foreign key: which parent?

    with pytest.raises(PluginError, match="must name a foreign-key column to a DataScoped table"):
        check_model("tenancytest", Loose)


def test_the_group_scope_keeps_its_level_for_permissions(app, world):
    from core.tenancy import group_wide, is_group_wide
    from core.web import scope_for
    with app.app_context(), system_scope():
        user = db.session.execute(sa.select(User).where(User.username == "group")).scalar_one()
        scope = scope_for(user, user.hospital)
    assert (scope.level, scope.hospital_ids) == ("group", frozenset({world["a"]}))
    with use_scope(scope):
        assert not is_group_wide()
        with group_wide():
            assert is_group_wide()
        assert not is_group_wide()


def test_scope_applies_to_counts_joins_and_relationships(app, world):
    with app.app_context(), hospital_scope(world["b"]):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Record)).scalar_one() == 1
        joined = db.session.execute(sa.select(Record.title, Department.name)
                                    .join(Department, Record.department_id == Department.id, isouter=True)).all()
        assert [r.title for r in joined] == ["in-b"]
        assert db.session.execute(sa.select(Department)).scalars().all() == []


def test_bulk_update_and_delete_stay_inside_the_scope(app, world):
    with app.app_context():
        with hospital_scope(world["b"]):
            db.session.execute(sa.update(Record).values(title="renamed"))
            db.session.execute(sa.delete(Record).where(Record.title == "mine"))
            db.session.commit()
        with system_scope():
            titles = sorted(db.session.execute(sa.select(Record.title)).scalars())
    assert titles == ["colleague", "knee-unit", "mine", "ortho", "renamed"]


def test_query_without_scope_is_refused(app, world):
    with app.app_context():
        with pytest.raises(TenancyError, match="outside any tenancy scope"):
            db.session.execute(sa.select(Record)).all()


def test_new_rows_get_the_scope_hospital_and_owner(app, world):
    with app.app_context():
        scope = Scope(hospital_id=world["a"], hospital_ids=frozenset({world["a"]}), level="own",
                      user_id=world["users"]["a_staff"])
        with use_scope(scope):
            record = Record(title="new")
            db.session.add(record)
            db.session.commit()
            assert (record.hospital_id, record.owner_id) == (world["a"], world["users"]["a_staff"])


def test_writing_another_hospitals_row_is_refused(app, world):
    with app.app_context():
        with hospital_scope(world["a"]):
            db.session.add(Record(title="smuggled", hospital_id=world["b"]))
            with pytest.raises(TenancyError, match="written from another hospital's scope"):
                db.session.commit()
            db.session.rollback()
        with system_scope():
            assert db.session.execute(sa.select(Record).where(Record.title == "smuggled")).first() is None


def test_get_or_404_hides_other_hospitals(app, world):
    from werkzeug.exceptions import NotFound
    with app.app_context():
        with system_scope():
            in_b = db.session.execute(sa.select(Record.id).where(Record.title == "in-b")).scalar_one()
        with app.test_request_context(), hospital_scope(world["a"]):
            with pytest.raises(NotFound):
                get_or_404(Record, in_b)
            with pytest.raises(NotFound):
                get_or_404(Record, "not-a-number")
        with app.test_request_context(), hospital_scope(world["b"]):
            assert get_or_404(Record, in_b).title == "in-b"


def test_group_admin_switches_hospital_and_sees_its_menu(app, world, client):
    login(client, "group")
    assert client.post("/hospital", data={"hospital_id": world["b"]}).status_code == 302
    assert "Hospital B" in client.get("/").get_data(as_text=True)
    assert client.post("/hospital", data={"hospital_id": 999999}).status_code == 404
    assert client.post("/hospital", data={"hospital_id": "x"}).status_code == 400


def test_only_group_admins_switch_hospital(app, world, client):
    login(client, "a_director")
    assert client.post("/hospital", data={"hospital_id": world["b"]}).status_code == 403
