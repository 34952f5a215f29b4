"""Assembling the Flask app from config, plugins and the core's blueprints."""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask import Flask, has_request_context, request, session
from flask_babel import Babel
from werkzeug.middleware.proxy_fix import ProxyFix

from core import clock, core_hooks, i18n, integers
from core.autocommit_reads import autocommit_twin
from core.catalog import Catalog, build_catalog
from core.config import HcrmConfig, PluginSettings, check_plugin_names, load_config
from core.extensions import csrf, db, login_manager
from core.plugins import PluginRegistry, default_finder
from core.pool_ping import PING_AFTER_IDLE_SECONDS, ping_idle_connections
from core.principal_cache import PrincipalCache

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


@dataclass
class HcrmState:
    config: HcrmConfig
    registry: PluginRegistry
    catalog: Catalog
    live_cache: dict = field(default_factory=dict)  # hospital id -> (plugins_version, live plugins)
    autocommit_engine: sa.Engine | None = None  # API reads on PostgreSQL (core.autocommit_reads)
    principals: PrincipalCache | None = None  # API tokens' principals (core.principal_cache)
    plugin_settings: dict = field(default_factory=dict)  # plugin -> what its hcrm_settings hook returned
    zone_cache: dict = field(default_factory=dict)  # hospital id -> (read at, its time zone or None), core.clock


def secret_key(instance: Path) -> str | None:
    """HCRM_SECRET_KEY, else the key ``hcrm init`` wrote to instance/secret_key."""
    key = os.environ.get("HCRM_SECRET_KEY")
    if key:
        return key
    file = instance / "secret_key"
    return file.read_text().strip() if file.is_file() else None


def write_secret_key(instance: Path) -> Path:
    file = instance / "secret_key"
    if not file.exists():
        instance.mkdir(parents=True, exist_ok=True)
        file.write_text(secrets.token_hex(32))
        file.chmod(0o600)
    return file


def engine_url(url: str) -> str:
    """SQLAlchemy 2.1 maps ``postgresql://`` to psycopg 3; the project ships psycopg2 and
    ``mysql://`` to mysqlclient; the project ships PyMySQL. Name the installed drivers."""
    for plain, explicit in (("postgresql://", "postgresql+psycopg2://"), ("postgres://", "postgresql+psycopg2://"),
                            ("mysql://", "mysql+pymysql://"), ("mariadb://", "mariadb+pymysql://")):
        if url.startswith(plain):
            return explicit + url[len(plain):]
    return url


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the database file but not its folder (``instance/`` on a fresh clone)."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + ":memory:"):
        path = Path(url[len(prefix):].split("?", 1)[0])
        if str(path):
            path.parent.mkdir(parents=True, exist_ok=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets pages read while an import or a job writes (SQLite otherwise locks readers out)."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def build_app(config: HcrmConfig | None, *, overrides=None, finder=None) -> Flask:
    config = config or load_config()
    app = Flask("core", root_path=str(ROOT / "core"), instance_path=str(INSTANCE),
                static_folder=None)
    integers.init_app(app)  # before any route: no id beyond the database's range reaches a query
    registry = PluginRegistry(finder or default_finder, core_module=core_hooks).load()
    check_plugin_names(config, registry.names + [b.name for b in registry.broken])
    state = app.extensions["hcrm"] = HcrmState(config=config, registry=registry, catalog=Catalog(),
                                               principals=PrincipalCache(config.api_token_cache_seconds))
    state.plugin_settings = plugin_settings(registry, config)

    app.config.update(
        SQLALCHEMY_DATABASE_URI=engine_url(config.database_url),
        HCRM_PING_AFTER_IDLE_SECONDS=PING_AFTER_IDLE_SECONDS,  # see core.pool_ping
        SECRET_KEY=secret_key(INSTANCE),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=config.session_cookie_secure,
        BABEL_DEFAULT_LOCALE=config.default_locale,
        BABEL_DEFAULT_TIMEZONE=config.timezone,
        BABEL_TRANSLATION_DIRECTORIES=translation_directories(registry),
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
    )
    # JSON as the schemas declare it (id and name first, not sorted) and Chinese as UTF-8 rather
    # than \uXXXX escapes: readable for integrators and half the bytes (Flask 3 reads these from
    # the provider; the old JSON_* config keys are ignored).
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.config.update(overrides or {})
    if not app.config["SECRET_KEY"]:
        raise RuntimeError("no secret key: set HCRM_SECRET_KEY or run `hcrm init` to create instance/secret_key")

    if config.trusted_proxies:
        # Behind nginx & co. the client's address (login throttling, audit) and the https scheme
        # (secure cookies, redirects) arrive in X-Forwarded-* headers; believe only as many hops
        # as the deployment declares, or any client could forge its address.
        hops = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops, x_prefix=hops)
    ensure_sqlite_directory(app.config["SQLALCHEMY_DATABASE_URI"])
    db.init_app(app)
    with app.app_context():
        ping_idle_connections(db.engine, app.config["HCRM_PING_AFTER_IDLE_SECONDS"])
        state.autocommit_engine = autocommit_twin(db.engine, app.config["HCRM_PING_AFTER_IDLE_SECONDS"])
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            sa.event.listen(db.engine, "connect", _sqlite_pragmas)
    login_manager.init_app(app)
    csrf.init_app(app)
    # One Babel per app: Flask-Babel caches catalogs on the Babel object by locale alone, so a
    # shared one would serve the first app's catalogs (and plugins' folders) to every other app.
    Babel(app, locale_selector=lambda: select_locale(config), timezone_selector=clock.zone_name)
    i18n.install(app, str(ROOT / "core" / "translations"), plugin_catalogs(registry))

    from core import web
    web.init_app(app)  # the core's routes first: plugin menus are checked against them
    state.catalog = build_catalog(registry, app)
    return app


def plugin_settings(registry: PluginRegistry, config: HcrmConfig) -> dict:
    """Each plugin validates its own ``plugins_settings`` section (hook ``hcrm_settings``); a
    mistake stops the start with the ConfigError the plugin raised."""
    validated = {}
    for impl in registry.pm.hook.hcrm_settings.get_hookimpls():
        name = impl.plugin_name
        if name in registry.infos:
            section = config.plugins_settings.get(name) or PluginSettings(name, path=config.path)
            offered = {"settings": section, "config": config}  # pluggy lets an impl take fewer arguments
            validated[name] = impl.function(**{arg: offered[arg] for arg in impl.argnames})
    return validated


def select_locale(config: HcrmConfig) -> str:
    """The language the user chose (session), else the deployment's default (zh_CN). API
    clients have no language switch: their ``Accept-Language`` header decides first."""
    if not has_request_context():  # CLI and jobs
        return config.default_locale
    if request.path.startswith("/api/") and request.headers.get("Accept-Language"):
        asked = request.accept_languages.best_match(config.locales)
        if asked:
            return asked
    chosen = session.get("locale")
    return chosen if chosen in config.locales else config.default_locale


def plugin_catalogs(registry: PluginRegistry) -> dict[str, tuple[str, str]]:
    """Each loaded plugin's module and its own catalog folder ("" when it has none)."""
    return {name: (info.module, str(info.path / "translations") if (info.path / "translations").is_dir() else "")
            for name, info in registry.infos.items()}


def translation_directories(registry: PluginRegistry) -> str:
    """The default domain's catalog: the core's only. Each plugin translates in a domain of its
    own, its catalog then the core's (core.i18n): one plugin's words never change another's."""
    return str(ROOT / "core" / "translations")
