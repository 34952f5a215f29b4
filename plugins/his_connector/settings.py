"""The HIS sources the deployment operator allows (``config.yaml``), and their validation.

Where a HIS may be is the operator's decision, not a hospital administrator's: config.yaml lists
named sources, group-wide (``plugins_settings.his_connector.sources``, optionally limited to some
hospitals) or per hospital (``hospitals[].plugins_settings.his_connector.sources``). A connection
only *picks* one by name and adds the user name, the password variable, the queries and the
schedule. See docs/his_connector.md for the keys.
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.engine import URL, make_url

from core.i18n import _m
from plugins.his_connector import guard
from plugins.his_connector.errors import HisError

PLUGIN = "his_connector"
PASSWORD_ENV_PREFIX = "HCRM_HIS_PASSWORD_"
URL_ENV_PREFIX = "HCRM_HIS_URL_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ENV_RE = re.compile(r"^[A-Z0-9_]{1,100}$")
DIALECTS = {"mysql": "mysql+pymysql", "mariadb": "mysql+pymysql", "postgresql": "postgresql+psycopg2",
            "oracle": "oracle+oracledb", "mssql": "mssql+pymssql", "sqlite": "sqlite"}
GROUP_KEYS = ("sqlite_dir", "sources")
HOSPITAL_KEYS = ("sources",)
SOURCE_KEYS = ("name", "title", "dialect", "host", "port", "database", "url", "url_env", "username", "hospitals")


@dataclass(frozen=True)
class Source:
    """One allowed HIS: a server (dialect, host, port, database), a SQLite file inside
    ``sqlite_dir``, or a whole URL kept in config.yaml (``url``) or the environment (``url_env``)."""

    name: str
    title: str | None = None
    dialect: str | None = None
    host: str | None = None
    port: int | None = None
    database: str | None = None
    url: str | None = None
    url_env: str | None = None
    username: str | None = None  # set by the operator: the connection cannot choose another
    hospitals: tuple[str, ...] | None = None  # None: every hospital (group-wide sources only)

    @property
    def kind(self) -> str:
        return "sqlite" if self.dialect == "sqlite" or (self.url or "").startswith("sqlite") else "server"

    def base_url(self, sqlite_dir: str | None) -> URL:
        """The URL without user or password, as this process resolves it now. Raises HisError."""
        if self.url_env:
            text = os.environ.get(self.url_env)
            if not text:
                raise HisError(_m("The HIS source %(source)s takes its URL from the environment variable "
                                  "%(name)s, which is not set for this process.", source=self.name, name=self.url_env))
            return _parse(text, self.name)
        if self.url:
            return _parse(self.url, self.name)
        if self.dialect == "sqlite":
            return URL.create("sqlite", database=guard.real_path(self.database, sqlite_dir))
        return URL.create(self.dialect, host=self.host, port=self.port, database=self.database)

    def describe(self, sqlite_dir: str | None) -> str:
        """Where the source is, without any password (for pages and the CLI)."""
        try:
            return self.base_url(sqlite_dir).render_as_string(hide_password=True)
        except HisError:
            return f"${self.url_env}"


@dataclass(frozen=True)
class HisSettings:
    sqlite_dir: str | None
    sources: tuple[Source, ...]
    crm_url: str

    def sources_for(self, hospital_code: str) -> list[Source]:
        return [s for s in self.sources if s.hospitals is None or hospital_code in s.hospitals]

    def source(self, hospital_code: str, name: str | None) -> Source | None:
        return next((s for s in self.sources_for(hospital_code) if s.name == name), None)


def _parse(text: str, source: str) -> URL:
    try:
        url = make_url(text)
        url.get_dialect()
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise HisError(_m("The URL of HIS source %(source)s is not usable: %(error)s", source=source,
                          error=str(exc).split("\n")[0][:200])) from None
    return url


def current() -> HisSettings:
    """The validated settings of the running app (empty when the hook has not run)."""
    found = current_app.extensions["hcrm"].plugin_settings.get(PLUGIN)
    return found or HisSettings(None, (), current_app.extensions["hcrm"].config.database_url)


def password_env_problem(name: str | None):
    """Why a password variable name is refused (None when it may be used)."""
    if not name:
        return None
    if not name.startswith(PASSWORD_ENV_PREFIX) or not ENV_RE.match(name) or name == PASSWORD_ENV_PREFIX:
        return _m("The password variable must be named %(prefix)s… (capital letters, digits, underscores), "
                  "e.g. %(prefix)sH1: other variables of the server are never sent to a HIS.",
                  prefix=PASSWORD_ENV_PREFIX)
    return None


def check_url(url: URL, settings: HisSettings) -> None:
    """Refuse the CRM's own database and SQLite files outside ``sqlite_dir`` (raises HisError)."""
    found = guard.problem(url, settings.crm_url, settings.sqlite_dir)
    if found:
        raise HisError(found)


# -- validation of config.yaml (hook hcrm_settings) ---------------------------------------------
class _Checker:
    def __init__(self, section, config):
        self.section, self.config = section, config
        self.codes = {h.code for h in config.hospitals}

    def keys(self, data, allowed, where, hospital):
        if not isinstance(data, dict):
            raise self.section.error(where, f"must be a mapping with keys ({', '.join(allowed)})", hospital)
        for key in data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise self.section.error((*where, key), f"unknown key (allowed: {', '.join(allowed)}){hint}", hospital)

    def text(self, data, key, where, hospital, *, required=False):
        value = data.get(key)
        if value is None:
            if required:
                raise self.section.error(where, f"the key '{key}' is required", hospital)
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.section.error((*where, key), "must be a non-empty string (in quotes if it looks like a number)",
                                     hospital)
        return value.strip()

    def source(self, data, where, hospital) -> Source:
        self.keys(data, SOURCE_KEYS, where, hospital)
        name = self.text(data, "name", where, hospital, required=True)
        if not NAME_RE.match(name):
            raise self.section.error((*where, "name"), "use 1-64 letters, digits, '_', '.' or '-'", hospital)
        ways = [k for k in ("dialect", "url", "url_env") if data.get(k) is not None]
        if len(ways) != 1:
            raise self.section.error(where, "give exactly one of 'dialect' (with host, port, database), 'url' or "
                                            f"'url_env' (got {', '.join(ways) or 'none'})", hospital)
        values = {k: self.text(data, k, where, hospital) for k in ("title", "host", "database", "url", "url_env",
                                                                     "username")}
        dialect = self.text(data, "dialect", where, hospital)
        if dialect is not None:
            dialect = self.dialect(dialect, values, data, where, hospital)
        elif any(data.get(k) is not None for k in ("host", "port", "database")):
            raise self.section.error(where, "host, port and database go with 'dialect', not with a URL", hospital)
        if values["url_env"] and (not values["url_env"].startswith(URL_ENV_PREFIX) or not ENV_RE.match(values["url_env"])):
            raise self.section.error((*where, "url_env"), f"the variable's name must start with {URL_ENV_PREFIX} "
                                                          "(capital letters, digits, underscores)", hospital)
        hospitals = self.hospital_list(data, where, hospital)
        port = data.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise self.section.error((*where, "port"), "must be a port number from 1 to 65535", hospital)
        return Source(name=name, title=values["title"], dialect=dialect, host=values["host"], port=port,
                      database=values["database"], url=values["url"], url_env=values["url_env"],
                      username=values["username"], hospitals=(hospital,) if hospital else hospitals)

    def dialect(self, dialect, values, data, where, hospital) -> str:
        chosen = DIALECTS.get(dialect.lower(), dialect)
        try:
            make_url(f"{chosen}://").get_dialect()
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError):
            raise self.section.error((*where, "dialect"), f"unknown dialect {dialect!r} (e.g. "
                                                          f"{', '.join(DIALECTS)})", hospital) from None
        if not values["database"]:
            raise self.section.error(where, "the key 'database' is required with 'dialect'", hospital)
        if chosen == "sqlite":
            if values["host"] or data.get("port") is not None:
                raise self.section.error(where, "a SQLite source has a 'database' file, no host or port", hospital)
        elif not values["host"]:
            raise self.section.error(where, "the key 'host' is required with this dialect", hospital)
        return chosen

    def hospital_list(self, data, where, hospital):
        listed = data.get("hospitals")
        if listed is None:
            return None
        if hospital:
            raise self.section.error((*where, "hospitals"), "a hospital's own source belongs to it alone: "
                                                            "'hospitals' is for group-wide sources", hospital)
        if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
            raise self.section.error((*where, "hospitals"), "must be a list of hospital codes", hospital)
        for code in listed:
            if code not in self.codes:
                raise self.section.error((*where, "hospitals"), f"no hospital has the code {code!r}", hospital)
        return tuple(listed)

    def sources(self, data, where, hospital) -> list[Source]:
        listed = data.get("sources") or []
        if not isinstance(listed, list):
            raise self.section.error((*where, "sources"), "must be a list of sources ('- name: ...')", hospital)
        return [self.source(item, (*where, "sources", index), hospital) for index, item in enumerate(listed)]


def validate(section, config) -> HisSettings:
    """The hook hcrm_settings: check every source and refuse any that could reach the CRM."""
    checker = _Checker(section, config)
    checker.keys(section.group, GROUP_KEYS, (), None)
    sqlite_dir = section.group.get("sqlite_dir")
    if sqlite_dir is not None:
        if not isinstance(sqlite_dir, str) or not sqlite_dir.strip():
            raise section.error(("sqlite_dir",), "must be a directory path")
        base = os.path.dirname(config.path) if config.path else os.getcwd()
        sqlite_dir = guard.real_path(sqlite_dir, base)
    # (source, its key path, its hospital or None): where a later complaint points
    listed = [(found, ("sources", index), None) for index, found in enumerate(checker.sources(section.group, (), None))]
    for code, data in section.hospitals.items():
        checker.keys(data, HOSPITAL_KEYS, (), code)
        listed += [(found, ("sources", index), code) for index, found in enumerate(checker.sources(data, (), code))]
    seen: dict[tuple, str] = {}
    for found, keys, hospital in listed:
        for code in found.hospitals or ("*",):
            clash = seen.get((code, found.name)) or seen.get(("*", found.name))
            if clash or (code == "*" and any(n == found.name for (_c, n) in seen)):
                raise section.error((*keys, "name"), f"two sources that a hospital sees are named {found.name!r}",
                                    hospital)
            seen[(code, found.name)] = found.name
    settings = HisSettings(sqlite_dir, tuple(found for found, _keys, _hospital in listed), config.database_url)
    for found, keys, hospital in listed:
        _check_at_load(found, settings, section, keys, hospital)
    return settings


def _check_at_load(found: Source, settings: HisSettings, section, keys: tuple, hospital: str | None) -> None:
    """A source that reaches the CRM (or a SQLite file outside sqlite_dir) stops the start."""
    try:
        url = found.base_url(settings.sqlite_dir)
    except HisError as exc:
        if found.url_env:
            return  # set later for the server process; checked again at every connect
        raise section.error(keys, str(exc), hospital) from None
    problem = guard.problem(url, settings.crm_url, settings.sqlite_dir)
    if problem:
        raise section.error(keys, str(problem), hospital)
