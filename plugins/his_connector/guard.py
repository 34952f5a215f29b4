"""Where a HIS connection may never lead: the CRM's own database, and SQLite files outside the
directory the operator allowed.

Spellings do not matter: server hosts are compared by the addresses they resolve to (every
address of this machine, the loopback and 0.0.0.0 count as one "this machine"), unix sockets are
this machine too, ports default per dialect, and SQLite files are compared by their real path
(symlinks and ``..`` resolved, ``file:`` URIs decoded, the same inode under another name).
Checked when the configuration is loaded and again at every connect (DNS and files change).
"""
from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import unquote, urlsplit

from sqlalchemy.engine import URL, make_url

from core.i18n import Message, _m

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mssql": 1433, "oracle": 1521}
LOCAL = "this machine"


def family(url: URL) -> str:
    name = url.get_backend_name()
    return "mysql" if name in ("mysql", "mariadb") else name


def sqlite_file(url: URL) -> str | None:
    """The file a SQLite URL opens (``file:`` URIs decoded), None for an in-memory database."""
    database = url.database or ""
    if database.startswith("file:"):
        parts = urlsplit(database)
        database = unquote(parts.path)
        if parts.netloc not in ("", "localhost"):
            return database  # not a local file URI: sqlite refuses it; compare as written
    if database in ("", ":memory:"):
        return None
    return database


def real_path(path: str, base: str | None = None) -> str:
    if base and not os.path.isabs(path):
        path = os.path.join(base, path)
    return os.path.realpath(path)


def inside(path: str, directory: str) -> bool:
    directory = os.path.realpath(directory)
    return os.path.commonpath([path, directory]) == directory and path != directory


def _is_local(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    ip = mapped or ip
    if ip.is_loopback or ip.is_unspecified:
        return True
    kind = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:  # an address this machine can bind to is one of its own
        with socket.socket(kind, socket.SOCK_DGRAM) as probe:
            probe.bind((str(ip), 0))
        return True
    except OSError:
        return False


def _hosts(url: URL) -> list[str | None]:
    query_host = url.query.get("host")
    if query_host:
        return list(query_host) if isinstance(query_host, tuple) else [query_host]
    return [url.host]


def addresses(url: URL) -> set[str]:
    """Where the server of ``url`` is: its resolved addresses, with LOCAL for this machine."""
    if "unix_socket" in url.query:
        return {LOCAL}
    found: set[str] = set()
    for host in _hosts(url):
        if not host or host.startswith("/") or host.startswith("@"):  # a unix socket (or abstract one)
            found.add(LOCAL)
            continue
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (socket.gaierror, UnicodeError):
            found.add(host.lower())  # unresolvable now: compare the name as written
            continue
        for info in infos:
            address = info[4][0]
            found.add(LOCAL if _is_local(address) else address)
    return found


def _port(url: URL) -> int | None:
    return url.port or DEFAULT_PORTS.get(family(url))


def _same_name(one: str | None, other: str | None, kind: str) -> bool:
    if one is None or other is None:
        return True  # a default database we cannot know: assume the worst
    return one == other if kind == "postgresql" else one.casefold() == other.casefold()


def crm_problem(his: URL, crm: URL) -> Message | None:
    """Why ``his`` may be the CRM's own database (None when it cannot be)."""
    kind = family(his)
    if kind != family(crm):
        return None
    if kind == "sqlite":
        mine, theirs = sqlite_file(his), sqlite_file(crm)
        if mine is None or theirs is None:
            return None
        mine, theirs = os.path.realpath(mine), os.path.realpath(theirs)
        same = mine == theirs
        if not same and os.path.exists(mine) and os.path.exists(theirs):
            same = os.path.samefile(mine, theirs)  # a hard link is the same file too
        return _m("This is the CRM's own database file: a HIS source can never point at it.") if same else None
    if _port(his) != _port(crm) or not (addresses(his) & addresses(crm)):
        return None
    if kind == "mysql":
        # One MySQL/MariaDB server serves every database on it to a SELECT (db.table).
        return _m("This is the server of the CRM's own database: a HIS source on the same MySQL/MariaDB "
                  "server could read the CRM's tables.")
    if _same_name(his.database, crm.database, kind):
        return _m("This is the CRM's own database: a HIS source can never point at it.")
    return None


def sqlite_problem(his: URL, sqlite_dir: str | None) -> Message | None:
    """Why a SQLite source is not allowed (None when it is inside the configured directory)."""
    path = sqlite_file(his)
    if path is None:
        return _m("A SQLite HIS source is a file, not an in-memory database.")
    if not sqlite_dir:
        return _m("SQLite HIS sources are not allowed: the operator sets plugins_settings.his_connector."
                  "sqlite_dir to the directory that holds them.")
    if not os.path.isabs(path) or not inside(os.path.realpath(path), sqlite_dir):
        return _m("The SQLite file %(path)s is outside the directory allowed for HIS files (%(dir)s).",
                  path=path, dir=sqlite_dir)
    return None


def problem(his: URL, crm_url: str, sqlite_dir: str | None) -> Message | None:
    """Everything a HIS URL is checked for, before any connection is opened."""
    if family(his) == "sqlite":
        found = sqlite_problem(his, sqlite_dir)
        if found:
            return found
    return crm_problem(his, make_url(crm_url))


def read_only_sqlite(path: str) -> URL:
    """A SQLite URL that opens ``path`` read-only and never creates it (URI ``mode=ro``)."""
    uri = "file:" + path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return URL.create("sqlite", database=uri, query={"mode": "ro", "uri": "true"})
