"""Each plugin translates in its own catalog, then the core's: the same English word translated
differently by two plugins never changes the other's pages."""
from __future__ import annotations

from flask import render_template_string
from flask_babel import force_locale

from core.i18n import Domains


def test_a_word_a_plugin_translates_its_own_way_stays_in_that_plugin(app):
    domains = app.extensions["hcrm_domains"]
    with app.test_request_context(), force_locale("zh_CN"):
        survey = domains.for_module("plugins.followup.outreach.views_surveys").gettext("Kind")
        visit = domains.for_module("plugins.patients.views").gettext("Kind")
        core = domains.core.gettext("Kind")
    assert (survey, visit, core) == ("题型", "类型", "Kind")  # each plugin's own word; the core has none


def test_modules_and_templates_find_their_plugin(app):
    domains: Domains = app.extensions["hcrm_domains"]
    assert domains.for_module("plugins.followup.planning.views") is domains.by_plugin["followup"]
    assert domains.for_module("plugins.followupx") is domains.core  # a prefix must end at a dot
    assert domains.for_module("core.web") is domains.core
    assert domains.for_template("patients/list.html") is domains.by_plugin["patients"]
    assert domains.for_template("admin/users.html") is domains.core


def test_templates_translate_in_their_plugins_domain(app):
    loader = app.jinja_env.loader
    with app.test_request_context(), force_locale("zh_CN"):
        assert render_template_string("{{ _('Kind') }}") == "Kind"  # no plugin's folder: the core's
        for name, expected in (("patients/_probe.html", "类型"), ("followup/_probe.html", "题型")):
            app.jinja_env.loader = _Probe(name, loader)
            try:
                assert app.jinja_env.get_template(name).render() == expected
            finally:
                app.jinja_env.loader = loader


class _Probe:
    """A loader that knows one more template, named as if in a plugin's folder."""

    def __init__(self, name, loader):
        self.name, self.loader = name, loader

    def get_source(self, environment, template):
        if template == self.name:
            return "{{ _('Kind') }}", None, lambda: True
        return self.loader.get_source(environment, template)

    def load(self, environment, name, globals=None):
        from jinja2.loaders import BaseLoader
        return BaseLoader.load(self, environment, name, globals)


def test_plugins_take_their_translators_from_core_i18n():
    """flask_babel's gettext family reads the core's catalog only: a plugin using it would show
    its own words untranslated."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent
    family = {"gettext", "ngettext", "pgettext", "lazy_gettext", "lazy_ngettext", "lazy_pgettext"}
    offenders = []
    for path in [*root.glob("plugins/**/*.py"), *root.glob("examples/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module == "flask_babel":
                offenders += [f"{path.relative_to(root)}: {a.name}" for a in node.names if a.name in family]
    assert not offenders, "import these from core.i18n instead: " + ", ".join(offenders)
