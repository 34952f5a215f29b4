"""core.autocommit_reads: on PostgreSQL an API GET runs on the autocommit twin of the app's
engine (no BEGIN/ROLLBACK round trips); writes, pages and other databases keep transactions."""
import pytest
import sqlalchemy as sa

from core.extensions import db
from core.permissions import hcrm
from core.testing import PASSWORD, api_token, make_hospital, make_user

pytestmark = pytest.mark.real_commits  # API reads must run on the real autocommit twin engine


def _statements_by_engine(app):
    """{"app": [...], "twin": [...]}: the statements each engine runs from now on."""
    seen = {"app": [], "twin": []}
    with app.app_context():
        engines = {"app": db.engine, "twin": hcrm().autocommit_engine}
    for name, engine in engines.items():
        if engine is not None:
            sa.event.listen(engine, "before_cursor_execute",
                            lambda conn, cursor, statement, *args, name=name: seen[name].append(
                                (statement.split()[0], conn.connection.dbapi_connection.autocommit
                                 if hasattr(conn.connection.dbapi_connection, "get_backend_pid") else None)))
    return seen


def test_api_reads_skip_the_transaction_and_writes_keep_it(app, client):
    with app.app_context():
        hospital = make_hospital("A", "示范医院")
        make_user(hospital, "admin", ("super_admin",))
        postgres = db.engine.dialect.name == "postgresql"
    headers = api_token(client, "admin")
    seen = _statements_by_engine(app)

    assert client.get("/api/v1/me", headers=headers).status_code == 200
    if postgres:
        assert seen["twin"] and seen["app"] == []
        assert all(autocommit for _kind, autocommit in seen["twin"])
    else:  # SQLite's BEGIN costs no round trip: no twin, nothing changes
        assert seen["app"] and seen["twin"] == []

    seen["app"].clear(), seen["twin"].clear()
    issued = client.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD})
    assert issued.status_code == 201
    assert any(kind == "INSERT" for kind, _ in seen["app"]) and seen["twin"] == []

    seen["app"].clear()
    login_page = client.get("/login")  # pages keep their transaction
    assert login_page.status_code == 200 and seen["twin"] == []


def test_a_write_made_by_an_api_read_is_kept(app, client):
    """A token's first use is recorded by the GET that uses it: committed as it runs."""
    with app.app_context():
        make_user(make_hospital("A"), "admin", ("super_admin",))
    headers = api_token(client, "admin")
    from core.models import ApiToken
    with app.app_context():
        db.session.execute(sa.update(ApiToken).values(last_used_at=None))
        db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with app.app_context():
        assert db.session.execute(sa.select(ApiToken.last_used_at)).scalar_one() is not None
