"""Load and validate the HCRM deployment file ``config.yaml``.

Hospital IT staff edit this file by hand, so every mistake must come back as one sentence naming the
file, the line and the fix -- never a traceback, never a setting silently ignored. So the YAML is
*composed* into nodes (which keep line numbers) and checked node by node; scalars still follow
``yaml.SafeLoader`` rules (``true`` is a boolean, ``"5"`` a string).
"""
from __future__ import annotations

import difflib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = REPO_ROOT / "config.yaml"
DEFAULT_DATABASE_URL = "sqlite:///instance/hcrm.sqlite3"
DATABASE_URL_ENV = "HCRM_DATABASE_URL"
CONFIG_PATH_ENV = "HCRM_CONFIG"
JOBS_BACKEND_ENV = "HCRM_JOBS_BACKEND"
JOBS_URL_ENV = "HCRM_JOBS_URL"
JOBS_BACKENDS = ("sqlite", "postgresql", "redis")

_HOSPITAL_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_URL_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\+[A-Za-z0-9_]+)?://")

# section -> key -> (HcrmConfig field, _Parser checker method, default)
_SECTIONS = {
    "database": {"url": ("database_url", "string", DEFAULT_DATABASE_URL)},
    "security": {
        "session_cookie_secure": ("session_cookie_secure", "boolean", True),
        "login_max_failures": ("login_max_failures", "integer", 5),
        "login_lockout_minutes": ("login_lockout_minutes", "integer", 15),
        "trusted_proxies": ("trusted_proxies", "count", 0),
        "api_token_cache_seconds": ("api_token_cache_seconds", "count", 5),
    },
    "i18n": {"default_locale": ("default_locale", "string", "zh_CN"),
             "locales": ("locales", "string_list", ("zh_CN", "en")),
             "timezone": ("timezone", "timezone", "Asia/Shanghai")},
    "jobs": {"worker_interval_seconds": ("worker_interval_seconds", "integer", 60),
             "backend": ("jobs_backend", "string", "sqlite"),
             "url": ("jobs_url", "string", ""),
             "workers": ("jobs_workers", "integer", 2),
             "stale_seconds": ("jobs_stale_seconds", "integer", 300)},
}
_DEFAULTS = {field: default for keys in _SECTIONS.values() for field, _, default in keys.values()}
_TOP_KEYS = (*_SECTIONS, "plugins_settings", "hospitals")
_HOSPITAL_KEYS = ("code", "name", "timezone", "plugins", "plugins_settings")
_EMPTY_LIST = yaml.SequenceNode("tag:yaml.org,2002:seq", [])


class ConfigError(Exception):
    """A mistake worded for the person editing the file: ``str(e)`` is ``"<path>:<line>: <message>"``."""

    def __init__(self, message: str, path: str | None = None, line: int | None = None) -> None:
        self.message, self.path, self.line = message, path, line
        prefix = f"{path}:{line}: " if path and line else f"{path}: " if path else ""
        super().__init__(prefix + message)


@dataclass(frozen=True)
class HospitalConfig:
    """One hospital (tenant) and the plugins it enables; lines let later checks point into the file."""

    code: str
    name: str
    plugins: tuple[str, ...] = ()
    line: int = 0  # 1-based line of the entry; 0 when built in code
    plugin_lines: tuple[int, ...] = ()  # line of each plugin name, so plugin errors can point at it
    timezone: str = ""  # IANA name; "" = the deployment's i18n.timezone. Seeds the hospital once.


@dataclass(frozen=True)
class PluginSettings:
    """A plugin's own settings as written in the file, for the plugin to validate (hook
    ``hcrm_settings``): ``group`` is ``plugins_settings.<plugin>`` at the top level, ``hospitals``
    maps a hospital code to that hospital's ``plugins_settings.<plugin>``. Values are plain YAML
    values (dicts, lists, strings, numbers); ``error(where, message)`` words a mistake like the
    rest of this module, at the line of ``where`` (a key path such as ``("sources", 0, "host")``,
    or ``("DEMO1", "sources")`` with ``hospital="DEMO1"``)."""

    plugin: str
    group: Mapping = field(default_factory=dict)
    hospitals: Mapping[str, Mapping] = field(default_factory=dict)
    path: str | None = None
    lines: Mapping[tuple, int] = field(default_factory=dict)  # (hospital code or "", *key path) -> line

    def where(self, keys: tuple = (), hospital: str | None = None) -> str:
        text = f"hospital {hospital!r} " if hospital else ""
        text += f"plugins_settings.{self.plugin}"
        for key in keys:
            text += f"[{key}]" if isinstance(key, int) else f".{key}"
        return text

    def error(self, keys: tuple, message: str, hospital: str | None = None) -> ConfigError:
        full = (hospital or "", *keys)
        while full and full not in self.lines:  # the nearest key written in the file
            full = full[:-1]
        return ConfigError(f"{self.where(keys, hospital)}: {message}", self.path, self.lines.get(full))


@dataclass(frozen=True)
class HcrmConfig:
    """The validated deployment settings; frozen so no request can change them at run time."""

    path: str | None
    database_url: str
    session_cookie_secure: bool
    login_max_failures: int
    login_lockout_minutes: int
    trusted_proxies: int  # reverse proxies in front of the app whose X-Forwarded-* headers are believed
    api_token_cache_seconds: int  # how long an API read may reuse its token's principal (core.principal_cache)
    default_locale: str
    locales: tuple[str, ...]
    timezone: str  # IANA name: the hospitals' wall clock (visit and due times are stored in it)
    worker_interval_seconds: int  # how often each queue consumer looks for due periodic jobs
    jobs_backend: str    # the task queue's storage (core.queue): sqlite / postgresql / redis
    jobs_url: str        # its file, DSN or redis URL; "" = instance/queue.sqlite3 or the CRM's database
    jobs_workers: int    # worker threads per consumer (`hcrm worker`)
    jobs_stale_seconds: int  # a running task whose consumer stopped beating this long is run again
    hospitals: tuple[HospitalConfig, ...]
    # plugin name -> its own section(s), validated by the plugin (hook ``hcrm_settings``)
    plugins_settings: Mapping[str, PluginSettings] = field(default_factory=dict)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _describe(value: object) -> str:
    """Words for a value (or a list/mapping node) that has the wrong type."""
    if isinstance(value, yaml.CollectionNode):
        return "a mapping" if isinstance(value, yaml.MappingNode) else "a list"
    if value is None:
        return "an empty value"
    kind = {bool: "boolean", str: "string", int: "number", float: "number"}.get(type(value), "value")
    return f"the {kind} {str(value).lower() if isinstance(value, bool) else repr(value)}"


class _AnyKey(tuple):
    """The allowed keys of a mapping whose keys the plugin decides: any name."""

    def __contains__(self, _key: object) -> bool:
        return True


class _Parser:
    """Typed accessors over YAML nodes; every failure is a ConfigError at the offending node's line."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._constructor = yaml.constructor.SafeConstructor()

    def error(self, node: yaml.Node, message: str) -> ConfigError:
        return ConfigError(message, self.path, _line(node))

    def plain(self, node: yaml.Node) -> object:
        """The Python value of a scalar node; list/mapping nodes are returned as they are."""
        if isinstance(node, yaml.CollectionNode):
            return node
        try:
            return self._constructor.construct_object(node)
        except yaml.YAMLError as exc:
            raise self.error(node, f"cannot read value: {getattr(exc, 'problem', None) or exc}") from None

    def mapping(self, node: yaml.Node, where: str,
                allowed: tuple[str, ...]) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """key -> (key node, value node) of the mapping at ``where`` ("" = top level); no unknown/repeated keys."""
        if self.plain(node) is None:
            return {}  # "security:" with every line commented out means "use the defaults"
        if not isinstance(node, yaml.MappingNode):
            keys = "" if isinstance(allowed, _AnyKey) else f" with keys ({', '.join(allowed)})"
            raise self.error(node, f"{where or 'the top level'} must be a mapping{keys}, "
                                   f"got {_describe(self.plain(node))}")
        fields: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise self.error(key_node, f"YAML merge keys ('<<') are not supported in {where or 'this file'}")
            key = self.plain(key_node)
            if not isinstance(key, str):
                raise self.error(key_node, f"keys in {where} must be names, got {_describe(key)}")
            name, scope = (f"{where}.{key}", f"in {where}") if where else (key, "at the top level")
            if key not in allowed:
                raise self.error(key_node, f"unknown key {name!r} (allowed keys {scope}: "
                                           f"{', '.join(allowed)}){_did_you_mean(key, allowed)}")
            if key in fields:
                raise self.error(key_node, f"duplicate key {name!r} "
                                           f"(first given on line {_line(fields[key][0])})")
            fields[key] = (key_node, value_node)
        return fields

    def integer(self, node: yaml.Node, where: str) -> int:
        value = self.plain(node)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(node, f"{where} must be an integer, got {_describe(value)}")
        if value <= 0:
            raise self.error(node, f"{where} must be a positive integer, got {value}")
        return value

    def count(self, node: yaml.Node, where: str) -> int:
        value = self.plain(node)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.error(node, f"{where} must be a whole number, 0 or more, got {_describe(value)}")
        return value

    def boolean(self, node: yaml.Node, where: str) -> bool:
        value = self.plain(node)
        if not isinstance(value, bool):
            raise self.error(node, f"{where} must be true or false (unquoted), got {_describe(value)}")
        return value

    def string(self, node: yaml.Node, where: str) -> str:
        value = self.plain(node)
        if not isinstance(value, str):
            hint = " (put it in quotes)" if isinstance(value, (bool, int, float)) else ""
            raise self.error(node, f"{where} must be a string{hint}, got {_describe(value)}")
        if not value.strip():
            raise self.error(node, f"{where} must not be empty")
        return value

    def timezone(self, node: yaml.Node, where: str) -> str:
        value = self.string(node, where)
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            close = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " such as 'Asia/Shanghai'"
            raise self.error(node, f"{where} must be an IANA time zone name{hint}, got {value!r}") from None
        return value

    def string_list(self, node: yaml.Node, where: str) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"{where} must be a list of strings like [a, b], "
                                   f"got {_describe(self.plain(node))}")
        first_line: dict[str, int] = {}
        for index, item in enumerate(node.value):
            value = self.string(item, f"{where}[{index}]")
            if value in first_line:
                raise self.error(item, f"{where} lists {value!r} twice (first on line {first_line[value]})")
            first_line[value] = _line(item)
        return tuple(first_line)

    def data(self, node: yaml.Node, lines: dict, key: tuple) -> object:
        """Plain Python data of any YAML node, recording each key's line in ``lines``."""
        lines[key] = _line(node)
        if isinstance(node, yaml.SequenceNode):
            return [self.data(item, lines, (*key, index)) for index, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            where = ".".join(str(k) for k in key[1:])
            return {name: self.data(value, lines, (*key, name))
                    for name, (_k, value) in self.mapping(node, where, _AnyKey()).items()}
        return self.plain(node)

    def plugins_settings(self, node: yaml.Node, settings: dict, hospital: str = "") -> None:
        """Fill ``settings`` (plugin -> PluginSettings) from a ``plugins_settings:`` mapping."""
        where = f"{f'hospital {hospital!r} ' if hospital else ''}plugins_settings"
        for plugin, (_key, value) in self.mapping(node, where, _AnyKey()).items():
            lines = dict(settings[plugin].lines) if plugin in settings else {}
            data = self.data(value, lines, (hospital,)) if self.plain(value) is not None else {}
            lines[(hospital,)] = _line(_key)
            if not isinstance(data, dict):
                raise self.error(value, f"{where}.{plugin} must be a mapping, got {_describe(self.plain(value))}")
            current = settings.get(plugin) or PluginSettings(plugin, path=self.path)
            group = data if not hospital else current.group
            hospitals = {**current.hospitals, hospital: data} if hospital else current.hospitals
            settings[plugin] = PluginSettings(plugin, group, hospitals, self.path, lines)

    def hospitals(self, node: yaml.Node, settings: dict | None = None) -> tuple[HospitalConfig, ...]:
        if self.plain(node) is None:
            return ()
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, f"hospitals must be a list of entries ('- code: ...'), "
                                   f"got {_describe(self.plain(node))}")
        seen: dict[str, int] = {}
        result = []
        for index, item in enumerate(node.value):
            where = f"hospitals[{index}]"
            fields = self.mapping(item, where, _HOSPITAL_KEYS)
            for required in ("code", "name"):
                if required not in fields:
                    raise self.error(item, f"{where} is missing the required key '{required}'")
            code_node = fields["code"][1]
            code = self.string(code_node, f"{where}.code")
            if not _HOSPITAL_CODE_RE.match(code):
                raise self.error(code_node, f"{where}.code {code!r} is invalid: "
                                            "use 1-32 letters, digits, '_' or '-'")
            if code in seen:
                raise self.error(code_node, f"duplicate hospital code {code!r} (also on line {seen[code]})")
            seen[code] = _line(code_node)
            name = self.string(fields["name"][1], f"{where}.name").strip()
            plugins_node = fields.get("plugins", (None, _EMPTY_LIST))[1]
            if self.plain(plugins_node) is None:  # "plugins:" with nothing listed
                plugins_node = _EMPTY_LIST
            plugins = self.string_list(plugins_node, f"{where}.plugins")
            plugin_lines = tuple(_line(n) for n in plugins_node.value)
            timezone = self.timezone(fields["timezone"][1], f"{where}.timezone") if "timezone" in fields else ""
            if "plugins_settings" in fields and settings is not None:
                self.plugins_settings(fields["plugins_settings"][1], settings, code)
            result.append(HospitalConfig(code, name, plugins, _line(item), plugin_lines, timezone))
        return tuple(result)


def _checked_url(url: str, where: str, path: str | None = None, line: int | None = None) -> str:
    if not _URL_RE.match(url):
        shown = re.sub(r":[^:/@]*@", ":***@", url)  # never echo a password into logs
        raise ConfigError(f"{where}: database url {shown!r} is not a URL with a scheme (e.g. 'sqlite:///"
                          "instance/hcrm.sqlite3' or 'postgresql+psycopg2://user:password@host/dbname')", path, line)
    return url


def _resolve_sqlite(url: str, base_dir: Path) -> str:
    """Make a relative sqlite path absolute, so the database does not move with the working directory."""
    scheme, _, rest = url.partition("://")
    if scheme.split("+")[0].lower() != "sqlite" or not rest.startswith("/"):
        return url  # another database, or "sqlite://" (in memory)
    db_path, sep, query = rest[1:].partition("?")
    if db_path in ("", ":memory:") or db_path.startswith("file:") or os.path.isabs(db_path):
        return url
    return f"{scheme}:///{os.path.normpath(base_dir / db_path)}{sep}{query}"


def _parse(root: yaml.Node | None, path: str, environ: Mapping[str, str]) -> HcrmConfig:
    parser = _Parser(path)
    if root is None:
        raise ConfigError("the file is empty; it needs at least a 'hospitals:' list", path)
    if not isinstance(root, yaml.MappingNode):
        raise parser.error(root, f"the top level must be a mapping with keys ({', '.join(_TOP_KEYS)}), "
                                 f"got {_describe(parser.plain(root))}")
    top = parser.mapping(root, "", _TOP_KEYS)
    values: dict[str, object] = dict(_DEFAULTS)
    lines: dict[str, int] = {}
    for section, keys in _SECTIONS.items():
        if section not in top:
            continue
        for key, (_key_node, value_node) in parser.mapping(top[section][1], section, tuple(keys)).items():
            field, checker, _default = keys[key]
            values[field] = getattr(parser, checker)(value_node, f"{section}.{key}")
            lines[field] = _line(value_node)
    if "hospitals" not in top:
        raise ConfigError("missing the required key 'hospitals' (write 'hospitals: []' for none)", path)
    plugins_settings: dict[str, PluginSettings] = {}
    if "plugins_settings" in top:
        parser.plugins_settings(top["plugins_settings"][1], plugins_settings)
    hospitals = parser.hospitals(top["hospitals"][1], plugins_settings)

    if values["default_locale"] not in values["locales"]:
        raise ConfigError(f"i18n.default_locale {values['default_locale']!r} is not in i18n.locales "
                          f"({', '.join(values['locales'])})", path,
                          lines.get("default_locale") or lines.get("locales"))
    url = _checked_url(values["database_url"], "database.url", path, lines.get("database_url"))
    if DATABASE_URL_ENV in environ:
        url = _checked_url(environ[DATABASE_URL_ENV], f"environment variable {DATABASE_URL_ENV}")
    values["database_url"] = _resolve_sqlite(url, Path(path).parent)
    values["jobs_backend"] = environ.get(JOBS_BACKEND_ENV) or values["jobs_backend"]
    values["jobs_url"] = environ.get(JOBS_URL_ENV) or values["jobs_url"]
    if values["jobs_backend"] not in JOBS_BACKENDS:
        where = JOBS_BACKEND_ENV if environ.get(JOBS_BACKEND_ENV) else "jobs.backend"
        raise ConfigError(f"{where} must be one of {', '.join(JOBS_BACKENDS)}, not {values['jobs_backend']!r}"
                          + _did_you_mean(values["jobs_backend"], JOBS_BACKENDS), path, lines.get("jobs_backend"))
    return HcrmConfig(path=path, hospitals=hospitals, plugins_settings=plugins_settings, **values)


def load_config(path: str | os.PathLike[str] | None = None,
                environ: Mapping[str, str] | None = None) -> HcrmConfig:
    """Read and validate the deployment file; every problem is a ConfigError, never a traceback.

    ``path`` defaults to ``$HCRM_CONFIG``, then ``<repo root>/config.yaml``. ``$HCRM_DATABASE_URL``
    overrides ``database.url``; a relative sqlite path in either is relative to the config file's directory.
    """
    environ = os.environ if environ is None else environ
    file_path = os.path.abspath(os.fspath(path or environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH))
    try:
        with open(file_path, encoding="utf-8-sig") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise ConfigError(f"config file not found (set {CONFIG_PATH_ENV} to its path)", file_path) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"the file is not UTF-8 text (bad byte at offset {exc.start})", file_path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read the config file: {exc.strerror or exc}", file_path) from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, "?")
        context = f" ({exc.context} on line {exc.context_mark.line + 1})" \
            if exc.problem and exc.context and exc.context_mark else ""
        raise ConfigError(f"invalid YAML (column {column}): {exc.problem or exc.context}{context}",
                          file_path, line) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ConfigError(f"invalid YAML: {exc}", file_path) from None
    return _parse(root, file_path, environ)


def default_config(**overrides: object) -> HcrmConfig:
    """The documented defaults without reading any file or environment (for tests and scripts).

    A relative sqlite ``database_url`` is resolved against the repository root.
    """
    values = {**_DEFAULTS, "path": None, "hospitals": (), **overrides}
    values["database_url"] = _resolve_sqlite(values["database_url"], REPO_ROOT)
    values["locales"] = tuple(values["locales"])
    values["hospitals"] = tuple(values["hospitals"])
    return HcrmConfig(**values)


def check_plugin_names(config: HcrmConfig, available: Iterable[str]) -> None:
    """Refuse to start on a misspelt plugin: a silently missing feature would look like a bug at the hospital."""
    known = sorted(set(available))
    listing = ", ".join(known) or "none are installed"
    for name, settings in config.plugins_settings.items():
        if name not in known:
            line = settings.lines.get(("",)) or min(settings.lines.values(), default=None)
            raise ConfigError(f"plugins_settings names unknown plugin {name!r} (available plugins: {listing})"
                              f"{_did_you_mean(name, known)}", config.path, line)
    for hospital in config.hospitals:
        for index, name in enumerate(hospital.plugins):
            if name in known:
                continue
            line = hospital.plugin_lines[index] if index < len(hospital.plugin_lines) else hospital.line
            raise ConfigError(f"hospital {hospital.code!r} enables unknown plugin {name!r} "
                              f"(available plugins: {listing}){_did_you_mean(name, known)}", config.path, line)
