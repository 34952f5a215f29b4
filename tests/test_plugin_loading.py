"""Plugin discovery and loading: order, and a clear message for every kind of broken plugin."""
from pathlib import Path

import pytest

from core import hookspecs
from core.plugins import PluginError, PluginRegistry, find_cycle
from core.testing import finder_with, make_app, write_plugin

HOOK = "from core import hookimpl\n"


def registry_of(tmp_path, monkeypatch, *dirs, builtin_source=False):
    monkeypatch.syspath_prepend(str(tmp_path))
    if builtin_source:
        def finder():
            return [(Path(d), Path(d).name, "builtin") for d in dirs], []
        return PluginRegistry(finder)
    return PluginRegistry(finder_with(*dirs, builtin=False))


def reasons(registry):
    return {b.name: b.reason for b in registry.broken}


def test_dependencies_load_first(tmp_path, monkeypatch):
    dirs = [write_plugin(tmp_path, "zeta"), write_plugin(tmp_path, "alpha", depends=["zeta"]),
            write_plugin(tmp_path, "mid", depends=["alpha"])]
    registry = registry_of(tmp_path, monkeypatch, *dirs).load()
    assert list(registry.infos) == ["zeta", "alpha", "mid"]
    assert registry.requirements("mid") == ["zeta", "alpha"]
    assert registry.dependants("zeta") == ["alpha", "mid"]


def test_missing_dependency_skips_third_party_plugin_and_its_dependants(tmp_path, monkeypatch):
    dirs = [write_plugin(tmp_path, "needy", depends=["ghost"]), write_plugin(tmp_path, "above", depends=["needy"]),
            write_plugin(tmp_path, "fine")]
    registry = registry_of(tmp_path, monkeypatch, *dirs).load()
    assert list(registry.infos) == ["fine"]
    assert reasons(registry)["needy"] == "missing dependency 'ghost' (not installed)"
    assert "'needy' (broken, see above)" in reasons(registry)["above"]


def test_cycle_is_reported_with_its_path(tmp_path, monkeypatch):
    dirs = [write_plugin(tmp_path, "aa", depends=["bb"]), write_plugin(tmp_path, "bb", depends=["cc"]),
            write_plugin(tmp_path, "cc", depends=["aa"])]
    registry = registry_of(tmp_path, monkeypatch, *dirs).load()
    assert registry.infos == {}
    assert reasons(registry)["aa"] == "dependency cycle: aa -> bb -> cc -> aa"


def test_builtin_cycle_stops_start_up(tmp_path, monkeypatch):
    dirs = [write_plugin(tmp_path, "aa", depends=["bb"]), write_plugin(tmp_path, "bb", depends=["aa"])]
    with pytest.raises(PluginError, match=r"dependency cycle: aa -> bb -> aa"):
        registry_of(tmp_path, monkeypatch, *dirs, builtin_source=True).load()


def test_duplicate_name_keeps_the_first(tmp_path, monkeypatch):
    first = write_plugin(tmp_path / "one", "twin")
    second = write_plugin(tmp_path / "two", "twin", package="twin_copy")
    monkeypatch.syspath_prepend(str(tmp_path / "one"))
    monkeypatch.syspath_prepend(str(tmp_path / "two"))
    registry = PluginRegistry(finder_with(first, second, builtin=False)).load()
    assert list(registry.infos) == ["twin"] and registry.infos["twin"].module == "twin"
    assert reasons(registry)["twin"].startswith("duplicate plugin name: already provided by hcrm-test-plugins")


def test_import_error_is_reported_not_raised(tmp_path, monkeypatch):
    pkg = write_plugin(tmp_path, "crashy", "import does_not_exist_anywhere\n")
    registry = registry_of(tmp_path, monkeypatch, pkg).load()
    assert "crashy" not in registry.infos
    assert reasons(registry)["crashy"] == ("failed to import crashy: ModuleNotFoundError: "
                                           "No module named 'does_not_exist_anywhere'")


def test_builtin_import_error_stops_start_up(tmp_path, monkeypatch):
    pkg = write_plugin(tmp_path, "crashy", "raise RuntimeError('boom at import')\n")
    with pytest.raises(PluginError, match="plugin 'crashy': failed to import crashy: RuntimeError: boom at import"):
        registry_of(tmp_path, monkeypatch, pkg, builtin_source=True).load()


def test_misspelled_hook_is_named_with_a_suggestion(tmp_path, monkeypatch):
    pkg = write_plugin(tmp_path, "typo", HOOK + "@hookimpl\ndef hcrm_menu():\n    return []\n")
    registry = registry_of(tmp_path, monkeypatch, pkg).load()
    assert "typo" not in registry.infos
    assert reasons(registry)["typo"] == "implements unknown hook 'hcrm_menu'; did you mean 'hcrm_menus'?"


def test_misspelled_check_pending_hook(tmp_path, monkeypatch):
    pkg = write_plugin(tmp_path, "pending", HOOK + "@hookimpl\ndef check_pending():\n    pass\n")
    registry = registry_of(tmp_path, monkeypatch, pkg).load()
    assert reasons(registry)["pending"].startswith("implements unknown hook 'check_pending'")


def test_hook_with_wrong_arguments_is_refused(tmp_path, monkeypatch):
    pkg = write_plugin(tmp_path, "badargs", HOOK + "@hookimpl\ndef hcrm_event(evt):\n    pass\n")
    registry = registry_of(tmp_path, monkeypatch, pkg).load()
    assert "invalid hook implementation" in reasons(registry)["badargs"]
    assert "evt" in reasons(registry)["badargs"]


@pytest.mark.parametrize("text, message", [
    ("{'name': 'x1', 'title': 'X'", "manifest must be a single dict literal"),
    ("['not', 'a', 'dict']", "manifest must be a dict literal, got list"),
    ("{'name': 'x1', 'title': 'X', 'version': '1'}", "manifest lacks required key(s): summary"),
    ("{'name': 'x1', 'title': 'X', 'version': '1', 'summary': 's', 'depend': []}", "unknown manifest key(s): depend"),
    ("{'name': 'Bad-Name', 'title': 'X', 'version': '1', 'summary': 's'}", "plugin name 'Bad-Name' must match"),
    ("{'name': 'x1', 'title': 'X', 'version': '1', 'summary': 's', 'depends': 'patients'}", "'depends' must be a list"),
    ("__import__('os').system('true')", "manifest must be a single dict literal"),
])
def test_bad_manifest_is_reported_without_running_code(tmp_path, monkeypatch, text, message):
    pkg = write_plugin(tmp_path, "x1", "raise SystemExit('the plugin code must not run')\n", manifest=text)
    registry = registry_of(tmp_path, monkeypatch, pkg).load()
    assert registry.infos == {}
    (reason,) = reasons(registry).values()
    assert message in reason and "__manifest__.py" in reason


def test_published_hooks_can_be_implemented_by_dependants(tmp_path, monkeypatch):
    publisher = write_plugin(tmp_path, "channels", HOOK + """
from core import hookspec

class Specs:
    @hookspec
    def channels_senders(self):
        '''Return a list of sender names.'''

@hookimpl
def hcrm_hookspecs():
    return Specs
""")
    user = write_plugin(tmp_path, "wechat", HOOK + "@hookimpl\ndef channels_senders():\n    return ['wechat']\n",
                        depends=["channels"])
    registry = registry_of(tmp_path, monkeypatch, publisher, user).load()
    assert registry.broken == []
    assert registry.pm.hook.channels_senders() == [["wechat"]]
    assert registry.hooks_for({"channels"}).channels_senders() == []


def test_broken_third_party_plugin_does_not_stop_the_app(app, tmp_path, monkeypatch):
    from core.testing import _empty_tables  # noqa: F401  (same database as the app fixture)
    pkg = write_plugin(tmp_path, "crashy", "1/0\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    other = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))
    state = other.extensions["hcrm"]
    assert "patients" in state.registry.infos
    assert reasons(state.registry)["crashy"].startswith("failed to import crashy: ZeroDivisionError")


def test_builtin_plugins_all_load():
    registry = PluginRegistry().load()
    assert registry.broken == []
    assert set(registry.infos) >= {"patients", "followup", "vip", "knowledge_base", "complaints", "his_connector"}


def test_find_cycle():
    assert find_cycle({"a": ["b"], "b": []}) is None
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    # The path follows "depends on", from the cycle's first name, whichever node graphlib met first.
    ring = {"c": ["a"], "b": ["c"], "a": ["b"], "d": ["a", "x"]}
    assert find_cycle(ring) == ["a", "b", "c", "a"]
    assert find_cycle({"d": ["c"], "c": ["b"], "b": ["a"], "a": []}) is None


def test_plugins_load_after_what_they_depend_on():
    from types import SimpleNamespace
    infos = {name: SimpleNamespace(name=name, depends=depends) for name, depends in
             (("zeta", ()), ("alpha", ("zeta",)), ("mid", ("alpha", "zeta")), ("beta", ()))}
    assert [i.name for i in PluginRegistry._topological(infos)] == ["beta", "zeta", "alpha", "mid"]


def test_every_hookspec_has_a_docstring():
    specs = [getattr(hookspecs, n) for n in dir(hookspecs) if n.startswith("hcrm_")]
    assert specs and all((f.__doc__ or "").strip() for f in specs)


SETTINGS_PLUGIN = HOOK + '''
@hookimpl
def hcrm_settings(settings, config):
    numbers = settings.group.get("numbers", [])
    if not isinstance(numbers, list):
        raise settings.error(("numbers",), "must be a list of phone numbers")
    return {"numbers": numbers, "H1": settings.hospitals.get("H1", {}).get("numbers"), "db": config.database_url}
'''


def test_a_plugin_validates_its_own_settings_section(tmp_path, monkeypatch, database_url):
    """hcrm_settings gets the plugin's plugins_settings (group and per hospital) and what it
    returns is kept for it; its ConfigError stops the start."""
    import dataclasses

    from core.config import ConfigError, PluginSettings
    monkeypatch.syspath_prepend(str(tmp_path))
    finder = finder_with(write_plugin(tmp_path, "hotline", SETTINGS_PLUGIN))
    section = PluginSettings("hotline", {"numbers": ["0731-1"]}, {"H1": {"numbers": ["0731-2"]}})
    app = make_app(database_url, finder=finder, config_overrides={"plugins_settings": {"hotline": section}})
    assert app.extensions["hcrm"].plugin_settings["hotline"] == {"numbers": ["0731-1"], "H1": ["0731-2"],
                                                                 "db": database_url}
    empty = make_app(database_url, finder=finder)  # no section in the file: the hook still runs
    assert empty.extensions["hcrm"].plugin_settings["hotline"]["numbers"] == []
    bad = dataclasses.replace(section, group={"numbers": 5}, path="/etc/hcrm/config.yaml",
                              lines={("", "numbers"): 7})
    with pytest.raises(ConfigError, match=r"^/etc/hcrm/config.yaml:7: plugins_settings.hotline.numbers: must be a list"):
        make_app(database_url, finder=finder, config_overrides={"plugins_settings": {"hotline": bad}})
    fewer = write_plugin(tmp_path, "pager", HOOK + "@hookimpl\ndef hcrm_settings(settings):\n    return dict(settings.group)\n")
    app = make_app(database_url, finder=finder_with(fewer),
                   config_overrides={"plugins_settings": {"pager": PluginSettings("pager", {"on": True})}})
    assert app.extensions["hcrm"].plugin_settings["pager"] == {"on": True}
