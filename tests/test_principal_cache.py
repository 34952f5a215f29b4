"""API reads reuse their token's principal for a few seconds (core.principal_cache): what that
saves, and that revocations and role changes still take effect when they must."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core.testing import api_token, make_hospital, make_user

ME = "/api/v1/me"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app):
    from core.permissions import hcrm
    with app.app_context():
        ticking = Clock()
        hcrm().principals._clock = ticking
    return ticking


@pytest.fixture
def alice(app, client):
    with app.app_context():
        make_user(make_hospital("A"), "alice", ("analyst",))
    return api_token(client, "alice")


def _token_reads(app):
    """A list that collects the statements loading a token's principal while the test runs."""
    from core.extensions import db
    seen = []

    def record(_conn, _cursor, statement, *_args):
        if "core_api_token.token_hash = " in statement:
            seen.append(statement)

    with app.app_context():
        engines = [db.engine] + [e for e in [_twin()] if e is not None]
    for engine in engines:
        sa.event.listen(engine, "before_cursor_execute", record)
    return seen


def _twin():
    from core.permissions import hcrm
    return hcrm().autocommit_engine


def _sql(app, statement, **params):
    """A change made the way another worker (or a DBA) makes it: not through this process's ORM."""
    from core.extensions import db
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text(statement), params)


def test_reads_reuse_the_principal_and_writes_load_it(app, client, alice, clock):
    reads = _token_reads(app)
    first = client.get(ME, headers=alice)
    assert first.status_code == 200
    assert len(reads) == 1
    for _ in range(3):
        me = client.get(ME, headers=alice)
        assert me.status_code == 200 and me.get_json()["user"]["username"] == "alice"
        assert me.get_json()["permissions"] == first.get_json()["permissions"] != []  # the roles came along
    assert len(reads) == 1
    assert client.delete("/api/v1/auth/tokens/999999", headers=alice).status_code == 404
    assert len(reads) == 2  # a write loaded the token afresh
    clock.now += 6
    assert client.get(ME, headers=alice).status_code == 200
    assert len(reads) == 3  # the 5 seconds were over


@pytest.mark.real_commits  # another worker's change, sent on a connection of its own
def test_a_revocation_elsewhere_stops_reads_after_the_delay_and_writes_at_once(app, client, alice, clock):
    assert client.get(ME, headers=alice).status_code == 200
    _sql(app, "UPDATE core_api_token SET revoked_at = CURRENT_TIMESTAMP")
    assert client.get(ME, headers=alice).status_code == 200  # within the delay config.yaml states
    assert client.delete("/api/v1/auth/token", headers=alice).status_code == 401
    clock.now += 5
    assert client.get(ME, headers=alice).status_code == 401


def test_this_processs_changes_apply_at_once(app, client, alice, clock):
    from core.extensions import db
    from core.models import Role, User
    from core.tenancy import system_scope
    other = api_token(client, "alice")
    assert client.get(ME, headers=alice).status_code == 200
    assert client.get(ME, headers=other).status_code == 200

    # A role gains a permission (through the ORM, as the admin pages do): at once.
    with app.app_context(), system_scope():
        analyst = db.session.execute(sa.select(Role).where(Role.code == "analyst")).scalar_one()
        analyst.set_permissions(analyst.permissions | {"core.audit.read"})
        db.session.commit()
    assert "core.audit.read" in client.get(ME, headers=alice).get_json()["permissions"]

    # The token revoked through the API: at once, and only that token.
    assert client.delete("/api/v1/auth/token", headers=other).status_code == 204
    assert client.get(ME, headers=other).status_code == 401
    assert client.get(ME, headers=alice).status_code == 200

    # The user deactivated with an ORM update statement: at once.
    with app.app_context(), system_scope():
        db.session.execute(sa.update(User).where(User.username == "alice").values(active=False))
        db.session.commit()
    assert client.get(ME, headers=alice).status_code == 401


def test_a_token_expiring_while_remembered_is_refused(app, client, clock, monkeypatch):
    import core.auth
    from core.auth import issue_token
    from core.models import utcnow
    with app.app_context():
        user = make_user(make_hospital("A"), "alice")
        token, _record = issue_token(user, "short", ttl=timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(ME, headers=headers).status_code == 200
    monkeypatch.setattr(core.auth, "utcnow", lambda: utcnow() + timedelta(hours=2))
    assert client.get(ME, headers=headers).status_code == 401


def test_bookkeeping_does_not_empty_the_cache(app, client, alice, clock):
    from core.extensions import db
    from core.models import ApiToken, User, utcnow
    from core.permissions import hcrm
    from core.tenancy import system_scope
    assert client.get(ME, headers=alice).status_code == 200
    with app.app_context(), system_scope():
        assert len(hcrm().principals._entries) == 1
        db.session.execute(sa.select(ApiToken)).scalars().first().last_used_at = utcnow()
        db.session.execute(sa.select(User)).scalars().first().last_login_at = utcnow()
        db.session.commit()
        assert len(hcrm().principals._entries) == 1
        db.session.execute(sa.select(User)).scalars().first().display_name = "Alice Li"
        db.session.commit()
        assert len(hcrm().principals._entries) == 0


def test_what_a_request_does_to_its_copy_stays_in_that_request(app, client, alice, clock):
    """Each request merges the remembered principal into its own session; a commit there expires
    that session's objects, not the copy the next request starts from."""
    from core.permissions import hcrm
    assert client.get(ME, headers=alice).status_code == 200
    with app.app_context():
        (_deadline, remembered), = hcrm().principals._entries.values()
    for _ in range(2):
        assert client.get(ME, headers=alice).get_json()["user"]["username"] == "alice"
    assert sa.inspect(remembered).detached and sa.inspect(remembered).session is None
    assert "username" not in sa.inspect(remembered.user).expired_attributes
    assert remembered.user.roles and remembered.user.hospital.code == "A"


def test_zero_seconds_never_reuses(app_factory):
    app = app_factory(config_overrides={"api_token_cache_seconds": 0})
    client = app.test_client()
    with app.app_context():
        make_user(make_hospital("A"), "alice")
    headers = api_token(client, "alice")
    reads = _token_reads(app)
    for _ in range(3):
        assert client.get(ME, headers=headers).status_code == 200
    assert len(reads) == 3
