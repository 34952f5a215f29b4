"""Which HIS a connection reaches: its configured source (settings.py), resolved for the
connection's hospital at every use, so a source removed from config.yaml stops the connection
with a message instead of a 500. Connections made when they stored a URL (``legacy_url``) keep
working when that URL names the same place as a configured source, else they wait for an
administrator to pick one."""
from __future__ import annotations

import os

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from core.i18n import Message, _m
from plugins.his_connector import guard
from plugins.his_connector import settings as his_settings
from plugins.his_connector.errors import HisError


def _hidden(url_text: str | None) -> str | None:
    try:
        return make_url(url_text).render_as_string(hide_password=True) if url_text else url_text
    except (sa.exc.ArgumentError, ValueError):
        return url_text


def hospital_code(hospital_id: int) -> str:
    from core.extensions import db
    from core.models import Hospital
    return db.session.get(Hospital, hospital_id).code


def _same_place(one: URL, other: URL) -> bool:
    """A stored URL (from before sources were configured) names this source's database."""
    if guard.family(one) != guard.family(other):
        return False
    if guard.family(one) == "sqlite":
        mine, theirs = guard.sqlite_file(one), guard.sqlite_file(other)
        return bool(mine and theirs) and os.path.realpath(mine) == os.path.realpath(theirs)
    return ((one.host or "").lower() == (other.host or "").lower() and one.database == other.database
            and (one.port or guard.DEFAULT_PORTS.get(guard.family(one))) ==
            (other.port or guard.DEFAULT_PORTS.get(guard.family(other))))


def legacy_source(connection, settings: his_settings.HisSettings, code: str):
    """The configured source an old connection's stored URL points at, if exactly one does."""
    if not connection.legacy_url:
        return None
    try:
        old = make_url(connection.legacy_url)
    except (sa.exc.ArgumentError, ValueError):
        return None
    matches = []
    for candidate in settings.sources_for(code):
        try:
            if _same_place(old, candidate.base_url(settings.sqlite_dir)):
                matches.append(candidate)
        except HisError:
            continue
    return matches[0] if len(matches) == 1 else None


def resolve(connection):
    """(the connection's configured Source, the settings). Raises HisError with the reason a
    connection cannot be used: its source was removed from config.yaml, or an old connection's
    URL matches no configured source (an administrator picks one)."""
    settings = his_settings.current()
    code = hospital_code(connection.hospital_id)
    if connection.source:
        found = settings.source(code, connection.source)
        if found is None:
            raise HisError(_m("The HIS source “%(source)s” of connection “%(name)s” is no longer configured for this "
                              "hospital (config.yaml): an administrator picks another source on the connection's "
                              "settings.", source=connection.source, name=connection.name))
        return found, settings
    found = legacy_source(connection, settings, code)
    if found is None:
        raise HisError(_m("Connection “%(name)s” is disabled until an administrator picks one of the HIS sources "
                          "configured in config.yaml: its stored URL matches none of them.", name=connection.name))
    return found, settings


def source_problem(connection) -> Message | None:
    """Why the connection cannot be used now (None when its source resolves)."""
    try:
        resolve(connection)
    except HisError as exc:
        return exc.message
    return None


def display_url(connection) -> str:
    try:
        found, settings = resolve(connection)
        url = found.base_url(settings.sqlite_dir)
    except HisError:
        return _hidden(connection.legacy_url) or "—"
    username = (found.username or connection.username) if url.get_backend_name() != "sqlite" else None
    return (url.set(username=username) if username else url).render_as_string(hide_password=True)


def connection_url(connection) -> URL:
    """The URL to open, checked now (not only when the configuration was loaded): the source is
    still allowed, it is not the CRM's database, a SQLite file is inside sqlite_dir and exists,
    and the password variable is one of the HIS's."""
    found, settings = resolve(connection)
    url = found.base_url(settings.sqlite_dir)
    his_settings.check_url(url, settings)
    problem = his_settings.password_env_problem(connection.password_env)
    if problem:
        raise HisError(problem)
    password = os.environ.get(connection.password_env) if connection.password_env else None
    if connection.password_env and password is None:
        raise HisError(_m("The environment variable %(name)s, which should hold the HIS password, is not "
                          "set for this process.", name=connection.password_env))
    if url.get_backend_name() == "sqlite":
        path = os.path.realpath(guard.sqlite_file(url))
        if not os.path.isfile(path):
            raise HisError(_m("The SQLite HIS file %(path)s does not exist (it is never created).", path=path))
        return guard.read_only_sqlite(path)
    username = found.username or connection.username
    if username:
        url = url.set(username=username)
    return url.set(password=password) if password is not None else url
