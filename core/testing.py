"""HCRM's pytest plugin: real databases, factories and the generic plugin contract suite.

Loaded through the ``pytest11`` entry point, so a third-party plugin's tests get the same
fixtures by installing ``hcrm``. The database comes from ``HCRM_TEST_DATABASE``:

* ``sqlite`` (default): a file in pytest's temporary directory;
* ``postgresql`` or a ``postgresql://`` URL: a fresh database created for the run and dropped
  after it. When no server answers, the run fails under CI (``CI`` set) and is skipped, with the
  reason printed, on a developer's machine.

The schema is built once per run by the Alembic migrations (so the migrations are tested on
every run). The ``app`` fixture is built once per run (``app_factory`` once per set of settings)
and each test runs inside a transaction rolled back after it (core.testing_rollback): the code
under test commits as usual, nothing it writes reaches the next test, and the app's settings
(``app.config``) and caches are put back. What a test must do differently:

* mark it ``@pytest.mark.real_commits`` when its writes must really be committed: another
  thread, process or connection must see them or write itself (background syncs and imports,
  subprocesses, ``db.engine.begin()``, a second engine, killing database sessions, statements
  counted on the autocommit twin). It gets an app of its own and the tables are emptied after
  it, as before. A thread or a second connection writing to the test database during a
  rolled-back test fails the test with that advice;
* mark it ``@pytest.mark.fresh_app`` when it adds routes or blueprints to its app;
* do not assert database ids or sequence values (PostgreSQL's sequences are not rolled back);
* an app built with ``make_app`` inside a test shares the test's transaction.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from core import testing_rollback as rollback

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
PASSWORD = "correct-horse-9"


MARKERS = {
    "real_commits": "real_commits: the test's writes must be committed and seen by other connections or "
                    "processes (queue consumers, threads, subprocesses); it gets its own app and emptied "
                    "tables instead of a rolled-back transaction",
    "fresh_app": "fresh_app: the test changes its app (routes, blueprints): it gets an app of its own, "
                 "still in a rolled-back transaction",
}


def pytest_configure(config):
    declared = {line.split(":", 1)[0] for line in config.getini("markers")}
    for name, line in MARKERS.items():
        if name not in declared:
            config.addinivalue_line("markers", line)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false")


def _server_unavailable(reason: str):
    if _in_ci():
        pytest.fail(f"{reason} (CI must not skip database suites)", pytrace=False)
    pytest.skip(f"{reason}; skipped on this machine (CI fails instead)")


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """URL of the run's test database, migrated to every head."""
    with fresh_database(tmp_path_factory.mktemp("db")) as url:
        yield url


@contextlib.contextmanager
def fresh_database(directory):
    """A new empty database of the kind ``HCRM_TEST_DATABASE`` names, dropped on exit: a file
    in ``directory`` for SQLite, a database of its own on the PostgreSQL server."""
    choice = os.environ.get("HCRM_TEST_DATABASE", "sqlite")
    if choice == "sqlite":
        yield f"sqlite:///{Path(directory) / 'hcrm-test.sqlite3'}"
        return
    admin_url = DEFAULT_PG if choice in ("postgresql", "postgres") else choice
    admin_url = admin_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"hcrm_test_{uuid.uuid4().hex[:10]}"
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        _server_unavailable(f"PostgreSQL at {engine.url.render_as_string(hide_password=True)} "
                            f"is not reachable: {exc.orig}")
    try:
        yield engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


def test_config(database_url, **overrides):
    from core.config import default_config
    settings = {"hospitals": (), "session_cookie_secure": False, **overrides}
    return dataclasses.replace(default_config(), database_url=database_url, **settings)


TEST_SETTINGS = {"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test-secret",
                 "SERVER_NAME": "hcrm.test", "HCRM_PASSWORD_HASH": "pbkdf2:sha256:1000"}


def make_app(database_url, *, finder=None, config_overrides=None, **settings):
    """A new app on ``database_url``. Inside a rolled-back test it shares the test's engine and
    transaction (core.testing_rollback)."""
    application = _build_app(database_url, finder=finder, config_overrides=config_overrides, **settings)
    outer = rollback.active()
    if outer is not None:
        outer.adopt(application)
    return application


def _build_app(database_url, *, finder=None, config_overrides=None, **settings):
    from core import create_app
    return create_app(test_config(database_url, **(config_overrides or {})),
                      overrides={**TEST_SETTINGS, **settings}, finder=finder)


@pytest.fixture(scope="session")
def _schema(database_url):
    """Run the migrations once for the whole run."""
    app = make_app(database_url)
    with app.app_context():
        from core import migrations_support
        migrations_support.upgrade()
        dispose_engines()
    return database_url


def dispose_engines() -> None:
    """Close the current app's pooled connections (the engine's and its autocommit twin's): a
    test run builds many apps on one database."""
    from core.extensions import db
    from core.permissions import hcrm
    for engine in db.engines.values():
        engine.dispose()
    if hcrm().autocommit_engine is not None:
        hcrm().autocommit_engine.dispose()


def _empty_tables(app) -> None:
    """Delete every row a ``real_commits`` test committed (nothing to do in a rolled-back test)."""
    from core.extensions import db
    with app.app_context():
        if rollback.active() is not None:
            db.session.remove()
            return
        with db.engine.begin() as conn:
            # Test-only models add tables to the shared metadata that this database may lack.
            existing = set(sa.inspect(conn).get_table_names())
            tables = [t for t in reversed(db.metadata.sorted_tables) if t.name in existing]
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t.name}"' for t in tables)
                                     + " RESTART IDENTITY CASCADE"))
            else:
                for table in tables:
                    conn.execute(table.delete())
        db.session.remove()
        dispose_engines()


# -- one app per settings, one transaction per test ---------------------------------------------
def _real_commits(request) -> bool:
    return request.node.get_closest_marker("real_commits") is not None


class _Apps:
    """The run's apps, one per ``make_app`` keywords (without ``finder``), built when first asked."""

    def __init__(self, url):
        self.url, self.built = url, {}

    @staticmethod
    def _key(kwargs) -> str:
        return repr(sorted((k, sorted(v.items()) if isinstance(v, dict) else v) for k, v in kwargs.items()))

    def get(self, **kwargs):
        """The app for ``kwargs``; all of them share the first one's engine (the one whose
        connection carries each test's transaction)."""
        key = self._key(kwargs)
        if key not in self.built:
            from core.extensions import db
            application = _build_app(self.url, **kwargs)
            if self.built:
                rollback.share_engine(application, self.engine)
            else:
                with application.app_context():
                    self.engine = db.engine
                rollback.manage_savepoints(self.engine)
            self.built[key] = application
        return self.built[key]

    @contextlib.contextmanager
    def lend(self, **kwargs):
        """The app for ``kwargs``, for one test: its settings put back and its caches emptied
        after it. A test that adds routes to it spoils it for the next ones: it is dropped (built
        again when next asked) and the test told to ask for an app of its own."""
        application = self.get(**kwargs)
        state = application.extensions["hcrm"]
        config, rules, blueprints = dict(application.config), len(list(application.url_map.iter_rules())), \
            set(application.blueprints)
        plugin_settings = dict(state.plugin_settings)  # tests configure plugins (HIS sources) on the app
        state.live_cache.clear()
        state.principals.clear()
        state.zone_cache.clear()  # the hospitals' zones a previous test set were rolled back
        # Flask refuses new routes once an app served a request; let the test try, so that the
        # check below can say what to do instead.
        application._got_first_request = False
        try:
            yield application
        finally:
            application.config.clear()
            application.config.update(config)
            state.plugin_settings.clear()
            state.plugin_settings.update(plugin_settings)
            state.live_cache.clear()
            state.principals.clear()
            state.zone_cache.clear()
        if len(list(application.url_map.iter_rules())) != rules or set(application.blueprints) != blueprints:
            del self.built[self._key(kwargs)]
            with application.app_context():
                dispose_engines()
            pytest.fail("the test added routes or blueprints to the shared app: mark it @pytest.mark.fresh_app",
                        pytrace=False)

    def close(self):
        for application in self.built.values():
            with application.app_context():
                dispose_engines()


@pytest.fixture(scope="session")
def _app_cache(_schema):
    apps = _Apps(_schema)
    yield apps
    apps.close()


@pytest.fixture(autouse=True)
def _test_transaction(request):
    """Every test that touches the test database runs in a transaction rolled back after it,
    unless marked ``real_commits`` (see core.testing_rollback)."""
    if "database_url" not in request.fixturenames or _real_commits(request):
        yield None
        return
    request.getfixturevalue("_schema")
    apps = request.getfixturevalue("_app_cache")
    apps.get()
    outer = rollback.begin(apps.engine)
    try:
        yield outer
    finally:
        rollback.end(outer)
    if outer.misuse:
        pytest.fail(outer.misuse[0], pytrace=False)


@pytest.fixture
def app(request, _test_transaction, _schema):
    """The app on the migrated test database. Built once per run and lent to each test inside a
    rolled-back transaction; a ``fresh_app`` test gets one of its own, a ``real_commits`` test
    one of its own whose committed rows are deleted after it."""
    if _test_transaction is None:
        application = make_app(_schema)
        yield application
        _empty_tables(application)
    elif request.node.get_closest_marker("fresh_app"):
        yield make_app(_schema)
    else:
        with request.getfixturevalue("_app_cache").lend() as application:
            yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def app_factory(request, _test_transaction, _schema):
    """Apps with other settings on the migrated test database: ``app_factory(**kwargs)`` takes
    ``make_app``'s keywords (``finder``, ``config_overrides``, Flask settings). Inside a
    rolled-back test an app without ``finder`` is built once per run for its keywords and lent
    like ``app``; in a ``real_commits`` test tables are emptied after it, as with ``app``."""
    built, lent = [], contextlib.ExitStack()

    def factory(**kwargs):
        if _test_transaction is None or "finder" in kwargs or request.node.get_closest_marker("fresh_app"):
            built.append(make_app(_schema, **kwargs))
            return built[-1]
        return lent.enter_context(request.getfixturevalue("_app_cache").lend(**kwargs))

    with lent:
        yield factory
    if built and _test_transaction is None:
        _empty_tables(built[-1])
    for application in built:
        with application.app_context():
            dispose_engines()


# -- factories --------------------------------------------------------------------------------
def make_hospital(code: str, name: str | None = None, plugins=()):
    """A hospital with default roles and ``plugins`` enabled (run inside an app context)."""
    from core import activation
    from core.extensions import db
    from core.tenancy import system_scope
    hospital = activation.create_hospital(code, name or f"Hospital {code}")
    with system_scope():
        for plugin in plugins:
            activation.enable(hospital, plugin)
    db.session.commit()
    return hospital


def make_department(hospital, code: str, name: str | None = None, parent=None):
    from core.extensions import db
    from core.models import Department
    from core.tenancy import hospital_scope
    with hospital_scope(hospital):
        dept = Department(hospital_id=hospital.id, code=code, name=name or code,
                          parent_id=parent.id if parent else None)
        db.session.add(dept)
        db.session.commit()
    return dept


def make_user(hospital, username: str, roles=("staff",), *, department=None, group_admin=False,
              password: str = PASSWORD):
    """A user of ``hospital`` holding the default roles named in ``roles``."""
    from core.extensions import db
    from core.models import Role, User
    from core.tenancy import hospital_scope
    with hospital_scope(hospital):
        role_rows = db.session.execute(sa.select(Role).where(Role.code.in_(roles))).scalars().all()
        user = User(hospital_id=hospital.id, username=username, display_name=username.title(),
                    department_id=department.id if department else None, is_group_admin=group_admin,
                    roles=role_rows)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
    return user


def login(client, username: str, password: str = PASSWORD):
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 302, f"login of {username} failed: {response.status_code}"
    return response


def api_token(client, username: str, password: str = PASSWORD) -> dict:
    """Authorization headers for ``username``, through the real token endpoint."""
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


@contextlib.contextmanager
def statements_run():
    """The (SQL, parameters) the session's engine runs inside the block, in order."""
    from core.extensions import db
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        seen.append((statement, parameters))

    engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


def postgres_plan(statement: str, parameters) -> str:
    """PostgreSQL's plan for a statement as run, with sequential scans priced out: an index
    whose predicate the statement matches then shows in the plan; one it cannot use does not,
    whatever the (tiny) test tables would make the planner prefer."""
    from core.extensions import db
    connection = db.session.connection()
    cursor = connection.connection.cursor()
    try:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        cursor.execute("SET LOCAL enable_seqscan = on")
        cursor.close()


# -- the generic plugin suite -----------------------------------------------------------------
class PluginContract:
    """Every plugin passes this suite. Subclass it in the plugin's tests and name the plugin::

        from core.testing import PluginContract

        class TestContract(PluginContract):
            plugin = "patients"
    """

    plugin: str = ""

    @pytest.fixture
    def contract_app(self, app):
        assert self.plugin, "set `plugin = '<name>'` on the PluginContract subclass"
        return app

    def _state(self, app):
        return app.extensions["hcrm"]

    def test_loads_and_dependencies_resolve(self, contract_app):
        registry = self._state(contract_app).registry
        broken = {b.name: b.reason for b in registry.broken}
        assert self.plugin not in broken, broken.get(self.plugin)
        assert self.plugin in registry.infos, f"plugin '{self.plugin}' is not installed"
        order = list(registry.infos)
        for dep in registry.infos[self.plugin].depends:
            assert order.index(dep) < order.index(self.plugin), f"'{dep}' must load before '{self.plugin}'"

    def test_menu_items_point_at_guarded_routes(self, contract_app):
        from core.permissions import required_permission
        catalog = self._state(contract_app).catalog
        with contract_app.test_request_context():
            for item in (i for i in catalog.menus.values() if i.plugin == self.plugin and i.endpoint):
                assert item.endpoint in contract_app.view_functions, f"menu '{item.id}': no route '{item.endpoint}'"
                needed = required_permission(item.endpoint)
                assert needed in catalog.permissions, f"route '{item.endpoint}' requires no declared permission"
                assert item.permission == needed, (
                    f"menu '{item.id}' shows for '{item.permission}' but its page requires '{needed}'")

    def test_models_are_hospital_scoped_and_prefixed(self, contract_app):
        from core.catalog import check_model
        for model in self._state(contract_app).catalog.models.get(self.plugin, []):
            check_model(self.plugin, model)

    def test_migrations_reach_head_and_match_models(self, contract_app):
        from core import migrations_support
        with contract_app.app_context():
            assert migrations_support.heads() <= migrations_support.applied()
            drift = migrations_support.drift((f"{self.plugin}_",))
            assert drift == [], f"models and migrations of '{self.plugin}' disagree: {drift}"

    def _plugin_rules(self, app):
        catalog = self._state(app).catalog
        blueprints = {name for name, plugin in catalog.blueprint_plugin.items() if plugin == self.plugin}
        for rule in app.url_map.iter_rules():
            if rule.endpoint.split(".")[0] in blueprints and "GET" in (rule.methods or ()):
                values = {arg: 1 for arg in rule.arguments}
                with app.test_request_context():
                    from flask import url_for
                    yield rule.endpoint, url_for(rule.endpoint, **values)

    def test_routes_404_where_disabled_and_403_without_permission(self, contract_app):
        from core.permissions import required_permission
        with contract_app.app_context():
            on = make_hospital("ON", plugins=[self.plugin])
            off = make_hospital("OFF")
            make_user(off, "off_admin", ("super_admin",))
            make_user(on, "on_nobody", ())
            # Public pages (core.permissions.public) need no sign-in: the plugin tests them itself.
            rules = [(e, u) for e, u in self._plugin_rules(contract_app)
                     if not e.endswith(".static") and not getattr(contract_app.view_functions[e], "hcrm_public", False)]
            for endpoint, _url in rules:
                assert required_permission(endpoint), f"route '{endpoint}' is not guarded by core.permissions.require"
        for username, expected in (("off_admin", 404), ("on_nobody", 403)):
            client = contract_app.test_client()
            login(client, username)
            # The API is token-only: its routes get a bearer token, pages the session cookie.
            bearer = api_token(client, username) if any(u.startswith("/api/") for _e, u in rules) else {}
            for endpoint, url in rules:
                status = client.get(url, headers=bearer if url.startswith("/api/") else {}).status_code
                assert status == expected, f"{username} GET {url} ({endpoint}) -> {status}, expected {expected}"

    def _enabled_with_admin(self, app, code: str):
        with app.app_context():
            hospital = make_hospital(code, plugins=[self.plugin])
            make_user(hospital, f"{code.lower()}_admin", ("super_admin",))
            make_user(hospital, f"{code.lower()}_nobody", ())
            return hospital.id

    def test_every_report_runs_with_its_defaults(self, contract_app):
        reports = [r for r in self._state(contract_app).catalog.reports.values() if r.plugin == self.plugin]
        self._enabled_with_admin(contract_app, "REP")
        client = contract_app.test_client()
        login(client, "rep_admin")
        for report in reports:
            for url in (f"/reports/{report.id}", f"/reports/{report.id}.csv", f"/reports/{report.id}.xlsx"):
                status = client.get(url).status_code
                # 400: a parameter without a default must be chosen first; 302: made in the background
                assert status in (200, 302, 400), f"report '{report.id}': GET {url} -> {status}"

    @staticmethod
    @contextlib.contextmanager
    def _request_as(app, username: str):
        """A request context of ``username`` as the core sets one up: their hospital, its live
        plugins, their permissions and data scope."""
        from flask_login import login_user

        from core import web
        from core.extensions import db
        from core.models import User
        from core.tenancy import system_scope
        with app.test_request_context("/"):
            with system_scope():
                login_user(db.session.execute(sa.select(User).where(User.username == username)).scalar_one())
            web.enter_request_scope()
            try:
                yield
            finally:
                web.leave_request_scope()

    def test_every_widget_renders(self, contract_app):
        widgets = [w for w in self._state(contract_app).catalog.widgets if w.plugin == self.plugin]
        self._enabled_with_admin(contract_app, "WID")
        with self._request_as(contract_app, "wid_admin"):
            for widget in widgets:
                shown = widget.render()  # an exception here is the plugin's bug: it fails the test
                assert shown is None or shown.title, f"widget '{widget.id}' returned {shown!r}"
        client = contract_app.test_client()
        login(client, "wid_admin")
        assert client.get("/").status_code == 200

    def test_panels_render_on_an_example_record_and_vanish_when_disabled(self, contract_app):
        import importlib

        from flask import g

        from core import activation
        from core.extensions import db
        from core.models import Hospital
        from core.panels import render_panels
        from core.tenancy import system_scope
        catalog = self._state(contract_app).catalog
        panels = [p for p in catalog.panels if p.plugin == self.plugin]
        hospital_id = self._enabled_with_admin(contract_app, "PAN") if panels else None

        def render(panel, target, record_id) -> tuple[object, list[str]]:
            """The panel's own HTML (its exception fails the test: render_panels would hide it)
            and the ids of the panels the page shows, as hospital PAN's administrator."""
            module, _, name = target.record.rpartition(".")
            with self._request_as(contract_app, "pan_admin"):
                record = db.session.get(getattr(importlib.import_module(module), name), record_id)
                html = panel.render(record) if panel.plugin in g.hcrm_live else None
                return html, [p.id for p in render_panels(target.id, record)]

        for panel in panels:
            target = catalog.panel_targets[panel.target]
            if target.example is None:
                continue  # the page's owner offers no example record: nothing to render generically
            with contract_app.test_request_context():
                record_id = target.example(hospital_id).id
            html, ids = render(panel, target, record_id)
            assert (panel.id in ids) == (html is not None), f"panel '{panel.id}' on {target.id}: {html!r}, {ids}"
            with contract_app.app_context(), system_scope():
                activation.disable(db.session.get(Hospital, hospital_id), self.plugin)
                db.session.commit()
            html, ids = render(panel, target, record_id)
            assert html is None and panel.id not in ids, f"panel '{panel.id}' shows where its plugin is off"
            with contract_app.app_context(), system_scope():
                activation.enable(db.session.get(Hospital, hospital_id), self.plugin)
                db.session.commit()

    def test_post_routes_refuse_a_missing_csrf_token_and_users_without_the_permission(self, contract_app):
        from core.permissions import required_permission
        self._enabled_with_admin(contract_app, "PST")
        with contract_app.app_context():
            make_user(make_hospital("PSTOFF"), "pstoff_admin", ("super_admin",))
        catalog = self._state(contract_app).catalog
        blueprints = {name for name, plugin in catalog.blueprint_plugin.items() if plugin == self.plugin}
        with contract_app.test_request_context():
            from flask import url_for
            posts = [(rule.endpoint, url_for(rule.endpoint, **_example_values(rule)))
                     for rule in contract_app.url_map.iter_rules()
                     if rule.endpoint.split(".")[0] in blueprints and "POST" in (rule.methods or ())
                     and not getattr(contract_app.view_functions[rule.endpoint], "hcrm_public", False)]
            for endpoint, _url in posts:
                assert required_permission(endpoint), f"POST route '{endpoint}' is not guarded by core.permissions.require"
        pages = [(e, u) for e, u in posts if not u.startswith("/api/")]
        admin = contract_app.test_client()
        login(admin, "pst_admin")
        contract_app.config["WTF_CSRF_ENABLED"] = True
        try:
            for endpoint, url in pages:
                status = admin.post(url, data={}).status_code
                assert status == 400, f"POST {url} ({endpoint}) without a CSRF token -> {status}, expected 400"
        finally:
            contract_app.config["WTF_CSRF_ENABLED"] = False
        for username, expected in (("pstoff_admin", 404), ("pst_nobody", 403)):
            client = contract_app.test_client()
            login(client, username)
            bearer = api_token(client, username) if len(pages) < len(posts) else {}
            for endpoint, url in posts:
                status = client.post(url, data={}, headers=bearer if url.startswith("/api/") else {}).status_code
                assert status == expected, f"{username} POST {url} ({endpoint}) -> {status}, expected {expected}"

    def test_references_into_another_hospital_are_refused(self, contract_app):
        """Every foreign key (and many-to-one relationship) of the plugin's models to a
        hospital-owned table, pointed at a row of another hospital, is refused on flush."""
        from core.extensions import db
        from core.references import references
        from core.tenancy import CrossHospitalReference, HospitalOwned, hospital_scope
        models = self._state(contract_app).catalog.models.get(self.plugin, [])
        with contract_app.app_context():
            here, there = make_hospital("REFA").id, make_hospital("REFB").id
            for model in (m for m in models if issubclass(m, HospitalOwned)):
                mapper = sa.inspect(model)
                owned = {m.local_table: m for m in mapper.registry.mappers if issubclass(m.class_, HospitalOwned)}
                wanted = {(prop.key, owned[fk.column.table]) for prop in mapper.column_attrs
                          for fk in prop.columns[0].foreign_keys
                          if fk.column.table in owned and prop.key != "hospital_id"}
                wanted |= {(ref.attr, ref.target) for ref in references(mapper)[0]}
                for attr, target_mapper in sorted(wanted, key=lambda pair: pair[0]):
                    with hospital_scope(here):
                        target = _row_of(target_mapper.class_, 987654, there)  # held: the map is weak
                        db.session.add_all([target, model(**{attr: 987654})])
                        with pytest.raises(CrossHospitalReference, match=rf"{model.__name__}\.{attr} "):
                            db.session.flush()
                        db.session.rollback()
                        db.session.expunge_all()  # the pretended row must not outlive its case


def _example_values(rule) -> dict:
    """URL values that build ``rule``: 1 for each argument, or the first choice of an ``any(…)``."""
    return {arg: min(getattr(rule._converters.get(arg), "items", None) or [1])
            for arg in rule.arguments}


def _row_of(model, ident: int, hospital_id: int):
    """A row of ``model`` the session believes exists (in its identity map, no SQL)."""
    from sqlalchemy.orm import make_transient_to_detached
    row = model()
    row.id, row.hospital_id = ident, hospital_id
    make_transient_to_detached(row)
    return row


# -- throwaway plugins for tests --------------------------------------------------------------
def write_plugin(root, name: str, code: str = "", *, depends=(), title=None, manifest: str | None = None,
                 package: str | None = None):
    """Write a plugin package ``root/<package or name>`` with a manifest and ``code`` as __init__.py.

    Returns the package directory. ``manifest`` replaces the generated manifest text verbatim
    (to test broken manifests).
    """
    import textwrap
    from pathlib import Path
    package_dir = Path(root) / (package or name)
    package_dir.mkdir(parents=True, exist_ok=True)
    text = manifest if manifest is not None else repr({
        "name": name, "title": title or name.title(), "version": "1.0.0",
        "summary": f"Test plugin {name}.", "depends": list(depends)})
    (package_dir / "__manifest__.py").write_text(text, encoding="utf-8")
    (package_dir / "__init__.py").write_text(textwrap.dedent(code), encoding="utf-8")
    return package_dir


def finder_with(*package_dirs, source: str = "hcrm-test-plugins", builtin: bool = True):
    """A plugin finder: the built-in plugins (when ``builtin``) plus the given package directories,
    presented as third-party plugins of distribution ``source``. Their parent directories must be
    importable (``monkeypatch.syspath_prepend``)."""
    from pathlib import Path

    from core.manifest import builtin_candidates

    def finder():
        extra = [(Path(d), Path(d).name, source) for d in package_dirs]
        return (builtin_candidates() if builtin else []) + extra, []

    return finder
from core.testing_queue import _private_queue, queue_consumer, start_consumers  # noqa: E402,F401  (queue fixtures: one private queue per run)
