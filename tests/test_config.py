"""Tests for core/config.py: the deployment file loader and its error messages.

Every bad-path test checks that the message starts with "<path>:<line>: " for the right line and
names the offending key, because that is what the person fixing config.yaml relies on.
Lines that should be reported are marked in the YAML with a "# <-" comment.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # so `pytest tests/test_config.py` works without an installed package
    sys.path.insert(0, str(REPO_ROOT))

from core.config import (  # noqa: E402
    ConfigError,
    HcrmConfig,
    HospitalConfig,
    PluginSettings,
    check_plugin_names,
    default_config,
    load_config,
)

ALL_PLUGINS = ["patients", "followup", "vip", "knowledge_base", "complaints", "his_connector"]


def write(tmp_path: Path, text: str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def load_text(tmp_path: Path, text: str, environ: dict[str, str] | None = None) -> HcrmConfig:
    return load_config(write(tmp_path, text), environ={} if environ is None else environ)


def marked_line(text: str) -> int:
    lines = [n for n, line in enumerate(textwrap.dedent(text).splitlines(), 1) if "# <-" in line]
    assert len(lines) == 1, "test YAML must mark exactly one line with '# <-'"
    return lines[0]


def expect_error(tmp_path: Path, text: str, *fragments: str, line: int | None = None) -> str:
    """Load `text`, expect a ConfigError at the marked (or given) line containing every fragment."""
    line = marked_line(text) if line is None else line
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, text)
    message = str(info.value)
    assert message.startswith(f"{tmp_path / 'config.yaml'}:{line}: "), message
    assert info.value.line == line
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- happy paths -----------------------------------------------------------------------------


def test_repo_config_loads_and_names_known_plugins():
    config = load_config(REPO_ROOT / "config.yaml", environ={})
    assert config.path == str(REPO_ROOT / "config.yaml")
    assert config.database_url == f"sqlite:///{REPO_ROOT / 'instance' / 'hcrm.sqlite3'}"
    assert (config.session_cookie_secure, config.login_max_failures, config.login_lockout_minutes) == (True, 5, 15)
    assert (config.default_locale, config.locales, config.worker_interval_seconds) == ("zh_CN", ("zh_CN", "en"), 60)
    assert [h.code for h in config.hospitals] == ["DEMO1", "DEMO2"]
    demo1 = config.hospitals[0]
    assert demo1.name == "示范第一医院"
    assert demo1.plugins == tuple(ALL_PLUGINS)
    text_lines = (REPO_ROOT / "config.yaml").read_text(encoding="utf-8").splitlines()
    assert "code: DEMO1" in text_lines[demo1.line - 1]
    assert all("plugins:" in text_lines[n - 1] for n in demo1.plugin_lines)
    assert len(demo1.plugin_lines) == len(demo1.plugins)
    check_plugin_names(config, ALL_PLUGINS)  # does not raise


def test_default_path_and_hcrm_config_variable(tmp_path):
    assert load_config(environ={}).path == str(REPO_ROOT / "config.yaml")
    other = write(tmp_path, "hospitals: []\n", name="other.yaml")
    assert load_config(environ={"HCRM_CONFIG": str(other)}).path == str(other)
    # an explicit path wins over the variable
    assert load_config(REPO_ROOT / "config.yaml", environ={"HCRM_CONFIG": str(other)}).hospitals


def test_optional_sections_default(tmp_path):
    config = load_text(tmp_path, "hospitals: []\n")
    expected = default_config(path=config.path, database_url=f"sqlite:///{tmp_path / 'instance' / 'hcrm.sqlite3'}")
    assert config == expected
    assert config.hospitals == ()


def test_empty_sections_and_plugins_mean_defaults(tmp_path):
    config = load_text(tmp_path, """\
        security:
        jobs:
        hospitals:
          - code: H1
            name: " Hospital One "
            plugins:
        """)
    assert config.login_max_failures == 5 and config.worker_interval_seconds == 60
    assert config.hospitals == (HospitalConfig("H1", "Hospital One", (), 4, ()),)


def test_all_values_read(tmp_path):
    config = load_text(tmp_path, """\
        database:
          url: postgresql+psycopg2://hcrm:pw@db/hcrm
        security:
          session_cookie_secure: false
          login_max_failures: 3
          login_lockout_minutes: 30
        i18n:
          default_locale: en
          locales:
            - en
            - zh_CN
        jobs:
          worker_interval_seconds: 5
        hospitals:
          - {code: A-1_b, name: A, plugins: [vip]}
        """)
    assert config.database_url == "postgresql+psycopg2://hcrm:pw@db/hcrm"
    assert config.session_cookie_secure is False
    assert (config.login_max_failures, config.login_lockout_minutes, config.worker_interval_seconds) == (3, 30, 5)
    assert (config.default_locale, config.locales) == ("en", ("en", "zh_CN"))
    assert config.hospitals[0].plugins == ("vip",) and config.hospitals[0].plugin_lines == (15,)


def test_config_is_immutable_and_replaceable():
    config = default_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.login_max_failures = 1  # type: ignore[misc]
    assert dataclasses.replace(config, login_max_failures=1).login_max_failures == 1


def test_default_config():
    config = default_config()
    assert config.path is None
    assert config.database_url == f"sqlite:///{REPO_ROOT / 'instance' / 'hcrm.sqlite3'}"
    assert config.hospitals == () and config.locales == ("zh_CN", "en") and config.session_cookie_secure
    custom = default_config(session_cookie_secure=False, locales=["en"], default_locale="en",
                            database_url="sqlite://", hospitals=[HospitalConfig("X", "X hospital")])
    assert custom.session_cookie_secure is False and custom.locales == ("en",)
    assert custom.database_url == "sqlite://" and custom.hospitals[0].code == "X"


@pytest.mark.parametrize("url, expected", [
    ("sqlite:///data/x.db", "sqlite:///{dir}/data/x.db"),
    ("sqlite:///../x.db", "sqlite:///{parent}/x.db"),
    ("sqlite+pysqlite:///x.db?timeout=5", "sqlite+pysqlite:///{dir}/x.db?timeout=5"),
    ("sqlite:////abs/x.db", "sqlite:////abs/x.db"),
    ("sqlite://", "sqlite://"),
    ("sqlite:///:memory:", "sqlite:///:memory:"),
    ("postgresql://u@h/db", "postgresql://u@h/db"),
    ("mysql+pymysql://u:p@h/db?charset=utf8mb4", "mysql+pymysql://u:p@h/db?charset=utf8mb4"),
])
def test_sqlite_paths_are_relative_to_the_config_file(tmp_path, url, expected):
    config = load_text(tmp_path, f"database:\n  url: '{url}'\nhospitals: []\n")
    assert config.database_url == expected.format(dir=tmp_path, parent=tmp_path.parent)


def test_environment_overrides_database_url(tmp_path):
    text = "database:\n  url: sqlite:///file.db\nhospitals: []\n"
    assert load_text(tmp_path, text, {"HCRM_DATABASE_URL": "postgresql://u@h/db"}).database_url == "postgresql://u@h/db"
    # a relative sqlite path from the environment is relative to the config file too
    assert load_text(tmp_path, text, {"HCRM_DATABASE_URL": "sqlite:///env.db"}).database_url == f"sqlite:///{tmp_path}/env.db"


def test_os_environ_is_the_default_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("HCRM_DATABASE_URL", "postgresql://u@h/from_env")
    assert load_config(write(tmp_path, "hospitals: []\n")).database_url == "postgresql://u@h/from_env"


# --- file-level errors -----------------------------------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="not found") as info:
        load_config(missing, environ={})
    assert str(info.value).startswith(f"{missing}: ")


def test_missing_file_from_hcrm_config_variable(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml: config file not found"):
        load_config(environ={"HCRM_CONFIG": str(tmp_path / "nope.yaml")})


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load_config(tmp_path, environ={})


def test_not_utf8(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_bytes("hospitals: []\n# 示范第一医院\n".encode("gb18030"))  # a GBK-saved file
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path, environ={})


def test_empty_file(tmp_path):
    with pytest.raises(ConfigError, match="the file is empty") as info:
        load_text(tmp_path, "# nothing yet\n")
    assert str(info.value).startswith(f"{tmp_path / 'config.yaml'}: ")


@pytest.mark.parametrize("text, line, fragment", [
    ("hospitals: []\nsecurity:\n  login_max_failures: 5\n   login_lockout_minutes: 3\n", 4, "mapping values are not allowed here"),
    ("hospitals: []\ndatabase:\n  url: \"sqlite:///x\n", 4, "found unexpected end of stream"),
    ("hospitals: []\njobs:\n\tworker_interval_seconds: 5\n", 3, "found character '\\t'"),
    ("hospitals: []\n---\nhospitals: []\n", 2, "expected a single document"),
    ("hospitals: [a, b\njobs: {}\n", 2, "expected ',' or ']'"),
])
def test_invalid_yaml_reports_line_column_and_problem(tmp_path, text, line, fragment):
    message = expect_error(tmp_path, text, "invalid YAML (column ", fragment, line=line)
    assert "Traceback" not in message


def test_top_level_must_be_a_mapping(tmp_path):
    expect_error(tmp_path, "- hospitals  # <-\n", "top level must be a mapping", "got a list")


def test_hospitals_is_required(tmp_path):
    with pytest.raises(ConfigError, match="missing the required key 'hospitals'"):
        load_text(tmp_path, "jobs:\n  worker_interval_seconds: 5\n")


# --- unknown / duplicate keys ----------------------------------------------------------------


def test_unknown_top_level_key(tmp_path):
    expect_error(tmp_path, """\
        hospitals: []
        databse:  # <-
          url: sqlite://
        """, "unknown key 'databse'", "allowed keys at the top level: database, security, i18n, jobs, plugins_settings, hospitals",
        "did you mean 'database'?")


def test_unknown_section_key(tmp_path):
    expect_error(tmp_path, """\
        security:
          session_cookie_secure: true
          login_max_failure: 3  # <-
        hospitals: []
        """, "unknown key 'security.login_max_failure'",
        "session_cookie_secure, login_max_failures, login_lockout_minutes", "did you mean 'login_max_failures'?")


def test_unknown_key_without_close_match_has_no_hint(tmp_path):
    message = expect_error(tmp_path, "hospitals: []\njobs:\n  zzz: 1  # <-\n", "unknown key 'jobs.zzz'")
    assert "did you mean" not in message


def test_unknown_hospital_key(tmp_path):
    expect_error(tmp_path, """\
        hospitals:
          - code: H1
            name: One
          - code: H2
            name: Two
            plugin: [vip]  # <-
        """, "unknown key 'hospitals[1].plugin'", "code, name, timezone, plugins", "did you mean 'plugins'?")


def test_duplicate_key(tmp_path):
    expect_error(tmp_path, """\
        security:
          login_max_failures: 3
          login_max_failures: 4  # <-
        hospitals: []
        """, "duplicate key 'security.login_max_failures'", "first given on line 2")


def test_non_string_key(tmp_path):
    expect_error(tmp_path, "hospitals: []\nsecurity:\n  5: true  # <-\n", "keys in security must be names")


def test_merge_keys_are_rejected_clearly(tmp_path):
    expect_error(tmp_path, "hospitals: []\nsecurity:\n  <<: {login_max_failures: 3}  # <-\n",
                 "merge keys ('<<') are not supported in security")


def test_section_must_be_a_mapping(tmp_path):
    expect_error(tmp_path, "hospitals: []\nsecurity: [true]  # <-\n", "security must be a mapping", "got a list")


# --- wrong types and values ------------------------------------------------------------------


@pytest.mark.parametrize("key, value, fragment", [
    ("login_max_failures", '"five"', "security.login_max_failures must be an integer, got the string 'five'"),
    ("login_max_failures", '"5"', "must be an integer, got the string '5'"),
    ("login_max_failures", "5.5", "must be an integer, got the number 5.5"),
    ("login_max_failures", "true", "must be an integer, got the boolean true"),
    ("login_max_failures", "", "must be an integer, got an empty value"),
    ("login_max_failures", "0", "security.login_max_failures must be a positive integer, got 0"),
    ("login_lockout_minutes", "-15", "security.login_lockout_minutes must be a positive integer, got -15"),
    ("login_lockout_minutes", "[15]", "must be an integer, got a list"),
    ("session_cookie_secure", '"true"', "security.session_cookie_secure must be true or false"),
    ("session_cookie_secure", "1", "must be true or false (unquoted), got the number 1"),
    ("session_cookie_secure", "!foo bar", "cannot read value"),
])
def test_security_value_types(tmp_path, key, value, fragment):
    expect_error(tmp_path, f"hospitals: []\nsecurity:\n  {key}: {value}  # <-\n", fragment)


def test_worker_interval_must_be_positive(tmp_path):
    expect_error(tmp_path, "hospitals: []\njobs:\n  worker_interval_seconds: 0  # <-\n",
                 "jobs.worker_interval_seconds must be a positive integer")


@pytest.mark.parametrize("i18n, fragment", [
    ("  locales: en  # <-\n", "i18n.locales must be a list of strings like [a, b], got the string 'en'"),
    ("  locales:\n    - zh_CN\n    - 1  # <-\n", "i18n.locales[1] must be a string (put it in quotes), got the number 1"),
    ("  locales: [zh_CN, en, zh_CN]  # <-\n", "i18n.locales lists 'zh_CN' twice"),
    ("  default_locale: 5  # <-\n", "i18n.default_locale must be a string (put it in quotes), got the number 5"),
    ("  default_locale: fr  # <-\n", "i18n.default_locale 'fr' is not in i18n.locales (zh_CN, en)"),
    ("  default_locale: fr  # <-\n  locales: [en]\n", "i18n.default_locale 'fr' is not in i18n.locales (en)"),
    ("  locales: [en]  # <-\n", "i18n.default_locale 'zh_CN' is not in i18n.locales (en)"),
    ("  locales: []  # <-\n", "i18n.default_locale 'zh_CN' is not in i18n.locales ()"),
])
def test_i18n_errors(tmp_path, i18n, fragment):
    expect_error(tmp_path, f"hospitals: []\ni18n:\n{i18n}", fragment)


@pytest.mark.parametrize("url, fragment", [
    ("instance/hcrm.sqlite3", "database.url: database url 'instance/hcrm.sqlite3' is not a URL with a scheme"),
    ("sqlite:instance/x.db", "is not a URL with a scheme"),
    ("postgres:/hcrm:secret@db/hcrm", "'postgres:/hcrm:***@db/hcrm'"),
    ("''", "database.url must not be empty"),
    ("5432", "database.url must be a string (put it in quotes)"),
])
def test_bad_database_url(tmp_path, url, fragment):
    message = expect_error(tmp_path, f"hospitals: []\ndatabase:\n  url: {url}  # <-\n", fragment)
    assert "secret" not in message


def test_bad_database_url_from_environment_names_the_variable(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_text(tmp_path, "hospitals: []\n", {"HCRM_DATABASE_URL": "localhost/hcrm"})
    assert str(info.value).startswith("environment variable HCRM_DATABASE_URL: database url 'localhost/hcrm'")
    assert info.value.line is None


# --- hospitals -------------------------------------------------------------------------------


@pytest.mark.parametrize("hospitals, fragment", [
    ("hospitals:\n  code: H1  # <-\n", "hospitals must be a list of entries ('- code: ...'), got a mapping"),
    ("hospitals: DEMO1  # <-\n", "hospitals must be a list of entries"),
    ("hospitals:\n  - DEMO1  # <-\n", "hospitals[0] must be a mapping with keys (code, name, timezone, plugins, plugins_settings), got the string 'DEMO1'"),
    ("hospitals:\n  -  # <-\n", "hospitals[0] is missing the required key 'code'"),
    ("hospitals:\n  - name: One  # <-\n", "hospitals[0] is missing the required key 'code'"),
    ("hospitals:\n  - code: H1  # <-\n    plugins: []\n", "hospitals[0] is missing the required key 'name'"),
    ("hospitals:\n  - code: 123  # <-\n    name: One\n", "hospitals[0].code must be a string (put it in quotes)"),
    ("hospitals:\n  - code: no  # <-\n    name: One\n", "got the boolean false"),
    ("hospitals:\n  - code: my hospital  # <-\n    name: One\n", "hospitals[0].code 'my hospital' is invalid"),
    ("hospitals:\n  - code: 第一医院  # <-\n    name: One\n", "use 1-32 letters, digits, '_' or '-'"),
    (f"hospitals:\n  - code: {'A' * 33}  # <-\n    name: One\n", "is invalid"),
    ("hospitals:\n  - code: H1\n    name: ''  # <-\n", "hospitals[0].name must not be empty"),
    ("hospitals:\n  - code: H1\n    name: [x]  # <-\n", "hospitals[0].name must be a string, got a list"),
    ("hospitals:\n  - code: H1\n    name: One\n    plugins: vip  # <-\n",
     "hospitals[0].plugins must be a list of strings like [a, b], got the string 'vip'"),
    ("hospitals:\n  - code: H1\n    name: One\n    plugins: [vip, {a: b}]  # <-\n", "hospitals[0].plugins[1] must be a string"),
    ("hospitals:\n  - code: H1\n    name: One\n    plugins:\n      - vip\n      - followup\n      - vip  # <-\n",
     "hospitals[0].plugins lists 'vip' twice (first on line 5)"),
])
def test_hospital_errors(tmp_path, hospitals, fragment):
    expect_error(tmp_path, hospitals, fragment)


def test_duplicate_hospital_code_names_both_lines(tmp_path):
    message = expect_error(tmp_path, """\
        hospitals:
          - code: DEMO1
            name: One
          - code: DEMO2
            name: Two
          - code: DEMO1  # <-
            name: Three
        """, "duplicate hospital code 'DEMO1'", "also on line 2")
    assert message.startswith(f"{tmp_path / 'config.yaml'}:6: ")


# --- plugin names ----------------------------------------------------------------------------

TWO_HOSPITALS = """\
    hospitals:
      - code: DEMO1
        name: One
        plugins: [patients]
      - code: DEMO2
        name: Two
        plugins:
          - patients
          - folowup  # <-
    """


def test_unknown_plugin_with_hint(tmp_path):
    config = load_text(tmp_path, TWO_HOSPITALS)
    with pytest.raises(ConfigError) as info:
        check_plugin_names(config, ["patients", "followup", "vip"])
    assert str(info.value) == (
        f"{tmp_path / 'config.yaml'}:{marked_line(TWO_HOSPITALS)}: hospital 'DEMO2' enables unknown plugin "
        "'folowup' (available plugins: followup, patients, vip); did you mean 'followup'?")


def test_unknown_plugin_without_hint(tmp_path):
    config = load_text(tmp_path, TWO_HOSPITALS.replace("folowup", "billing"))
    with pytest.raises(ConfigError, match=r":9: hospital 'DEMO2' enables unknown plugin 'billing' "
                                          r"\(available plugins: patients\)$"):
        check_plugin_names(config, iter(["patients"]))


def test_unknown_plugin_in_code_built_config_has_no_line():
    config = default_config(hospitals=[HospitalConfig("H1", "One", ("vip",))])
    with pytest.raises(ConfigError) as info:
        check_plugin_names(config, [])
    assert str(info.value) == "hospital 'H1' enables unknown plugin 'vip' (available plugins: none are installed)"
    check_plugin_names(default_config(), [])  # no hospitals, nothing to check


def test_config_error_message_format():
    assert str(ConfigError("boom", "/etc/hcrm.yaml", 3)) == "/etc/hcrm.yaml:3: boom"
    assert str(ConfigError("boom", "/etc/hcrm.yaml")) == "/etc/hcrm.yaml: boom"
    assert str(ConfigError("boom")) == "boom"
    assert os.fspath(REPO_ROOT / "core" / "config.py")  # module lives where REPO_ROOT expects


def test_timezone_is_read_and_checked(tmp_path):
    assert default_config().timezone == "Asia/Shanghai"
    assert load_text(tmp_path, "i18n:\n  timezone: Asia/Urumqi\nhospitals: []\n").timezone == "Asia/Urumqi"
    expect_error(tmp_path, """\
        i18n:
          timezone: Asia/Shanghia  # <-
        hospitals: []
        """, "i18n.timezone must be an IANA time zone name", "did you mean 'Asia/Shanghai'?")
    expect_error(tmp_path, """\
        i18n:
          timezone: 8  # <-
        hospitals: []
        """, "i18n.timezone must be a string")


def test_trusted_proxies_is_a_count(tmp_path):
    assert default_config().trusted_proxies == 0
    assert load_text(tmp_path, "security:\n  trusted_proxies: 1\nhospitals: []\n").trusted_proxies == 1
    expect_error(tmp_path, """\
        security:
          trusted_proxies: -1  # <-
        hospitals: []
        """, "security.trusted_proxies must be a whole number, 0 or more")


def test_api_token_cache_seconds_is_a_count(tmp_path):
    assert default_config().api_token_cache_seconds == 5
    assert load_text(tmp_path, "security:\n  api_token_cache_seconds: 0\nhospitals: []\n").api_token_cache_seconds == 0
    expect_error(tmp_path, """\
        security:
          api_token_cache_seconds: 2.5  # <-
        hospitals: []
        """, "security.api_token_cache_seconds must be a whole number, 0 or more")


# --- plugins_settings: each plugin's own section, passed through for the plugin to check --------

PLUGIN_SETTINGS = """\
    plugins_settings:
      his_connector:
        sqlite_dir: his
        sources:
          - name: main
            port: 3306
    hospitals:
      - code: H1
        name: One
        plugins_settings:
          his_connector:
            sources: [{name: own}]
    """


def test_plugins_settings_are_passed_through_with_their_lines(tmp_path):
    config = load_text(tmp_path, PLUGIN_SETTINGS)
    section = config.plugins_settings["his_connector"]
    assert section.group == {"sqlite_dir": "his", "sources": [{"name": "main", "port": 3306}]}
    assert section.hospitals == {"H1": {"sources": [{"name": "own"}]}}
    assert str(section.error(("sources", 0, "port"), "must be closed")) == (
        f"{tmp_path / 'config.yaml'}:6: plugins_settings.his_connector.sources[0].port: must be closed")
    assert str(section.error(("sources", 0), "bad", hospital="H1")).startswith(
        f"{tmp_path / 'config.yaml'}:12: hospital 'H1' plugins_settings.his_connector.sources[0]: bad")
    # a key the file lacks points at the nearest one it has
    assert section.error(("sources", 0, "host"), "is required").line == 5
    assert load_text(tmp_path, "hospitals: []\n").plugins_settings == {}
    assert default_config().plugins_settings == {}


def test_plugins_settings_of_an_unknown_plugin_are_refused(tmp_path):
    config = load_text(tmp_path, PLUGIN_SETTINGS.replace("his_connector", "his_conector", 1))
    with pytest.raises(ConfigError) as info:
        check_plugin_names(config, ["his_connector", "patients"])
    assert str(info.value).startswith(f"{tmp_path / 'config.yaml'}:2: plugins_settings names unknown plugin "
                                      "'his_conector'") and "did you mean 'his_connector'?" in str(info.value)


def test_plugins_settings_must_be_mappings(tmp_path):
    expect_error(tmp_path, """\
        hospitals: []
        plugins_settings: [his_connector]  # <-
        """, "plugins_settings must be a mapping, got a list")
    expect_error(tmp_path, """\
        hospitals: []
        plugins_settings:
          his_connector: 5  # <-
        """, "plugins_settings.his_connector must be a mapping, got the number 5")
    assert isinstance(PluginSettings("x").error((), "m"), ConfigError)


def test_a_hospital_may_name_its_own_timezone(tmp_path):
    config = load_text(tmp_path, "hospitals:\n  - code: W\n    name: West\n    timezone: Asia/Urumqi\n"
                                 "  - code: E\n    name: East\n")
    assert [h.timezone for h in config.hospitals] == ["Asia/Urumqi", ""]
    expect_error(tmp_path, """\
        hospitals:
          - code: W
            name: West
            timezone: Asia/Urumchi  # <-
        """, "hospitals[0].timezone must be an IANA time zone name", "did you mean 'Asia/Urumqi'?")
