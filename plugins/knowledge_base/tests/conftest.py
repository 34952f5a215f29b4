"""Fixtures of the knowledge base tests: hospitals A and B with the plugin, C without it, their
users (a group administrator included), and articles written through the real services."""
from __future__ import annotations

import pytest

from core.extensions import db
from core.tenancy import system_scope, use_scope
from core.testing import make_department, make_hospital, make_user
from core.web import scope_for
from plugins.followup.testing import (  # the same lookups: knowledge_base depends on followup
    hospital,
    user,
)

__all__ = ["as_user", "client_for", "hospital", "user", "write"]


def as_user(username: str, code: str | None = None):
    """The scope a request of ``username`` gets (in hospital ``code``, default: their own)."""
    person = user(username)
    with system_scope():
        return use_scope(scope_for(person, hospital(code) if code else person.hospital))


def write(app, code: str, username: str, *, publish=False, group=False, **data):
    """An article written (and published) through the services; returns its id."""
    from plugins.knowledge_base import services
    with app.app_context():
        return _write(services, code, username, publish, group, data)


def _write(services, code, username, publish, group, data):
    person = user(username)
    with as_user(username, code):
        article = services.save_article(None, {"type_code": "education", "body": "", **data}, user=person, group=group)
        if publish:
            services.transition(article, "publish", user=person)
        db.session.commit()
        return article.id


@pytest.fixture
def kb(app):
    from plugins.knowledge_base import search
    search.forget_terms()  # hospital ids repeat from test to test: no terms kept from an earlier one
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["knowledge_base"])
        b = make_hospital("B", "乙医院", plugins=["knowledge_base"])
        make_hospital("C", "丙医院", plugins=["patients"])
        ortho = make_department(a, "ORTH", "骨科")
        make_user(a, "a_admin", ("super_admin",))
        make_user(a, "a_manager", ("dept_manager",), department=ortho)
        make_user(a, "a_staff", ("staff",), department=ortho)
        make_user(a, "a_analyst", ("analyst",))
        make_user(a, "group_admin", ("super_admin",), group_admin=True)
        make_user(b, "b_admin", ("super_admin",))
        make_user(b, "b_staff", ("staff",))
        return {"a": a.id, "b": b.id, "ortho": ortho.id}


def client_for(app, username: str):
    """A browser signed in as ``username`` (one per user: signing in again keeps the first user)."""
    from core.testing import login
    client = app.test_client()
    login(client, username)
    return client
