"""Each part's Chinese catalog covers every user-visible string of that part, and the compiled
catalogs are current. The core and every plugin own one (``<folder>/translations``).

When this fails: `bash scripts/i18n.sh [plugin]` (extract, update, then translate the new entries
in <folder>/translations/zh_Hans_CN/LC_MESSAGES/messages.po, and run it again to compile). The
folder is zh_Hans_CN because Flask-Babel looks the configured "zh_CN" up under Babel's name for it.
"""
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from core.testing import login, make_hospital, make_user

ROOT = Path(__file__).resolve().parent.parent
PARTS = [ROOT / "core"] + sorted(p.parent for p in (ROOT / "plugins").glob("*/__manifest__.py"))
PARTS += sorted(p.parent for p in (ROOT / "examples").glob("*/*/__manifest__.py"))  # the example plugins
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2),
            "_l": None, "_m": None, "lazy_gettext": None, "lazy_ngettext": (1, 2), "lazy_pgettext": ((1, "c"), 2)}
METHODS = [("**/tests/**", "ignore"), ("**/scaffold_template/**", "ignore"), ("**/translations/**", "ignore"),
           ("**.py", "python"),
           ("**/templates/**.html", "jinja2")]
# What must survive translation unchanged: %(name)s / %(n)d, a literal %%, and {name}.
PLACEHOLDER = re.compile(r"%\(\w+\)[-#0 +]*\d*(?:\.\d+)?[sdirf]|%%|\{\w*\}")


def source_messages(folder: Path) -> set[tuple]:
    """(context, msgid) of every message: pgettext("field", "Roles") is not the menu's "Roles"."""
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
            folder, METHODS, keywords=KEYWORDS,
            options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
        found.add((context, message if isinstance(message, str) else message[0]))
    return {m for m in found if m[1]}


def catalog_folder(part: Path) -> Path:
    return part / "translations" / "zh_Hans_CN" / "LC_MESSAGES"


def load_po(part: Path):
    path = catalog_folder(part) / "messages.po"
    assert path.is_file(), f"{part.name} has messages but no catalog: run scripts/i18n.sh {part.name}"
    with open(path, "rb") as fh:
        return read_po(fh)


# A plugin with no user-visible string needs no catalog.
TRANSLATED_PARTS = [pytest.param(part, id=part.name) for part in PARTS if source_messages(part)]


def _key(value):
    """A message id or string as one hashable value: plural forms become a tuple."""
    return value if isinstance(value, str) else tuple(value)


@pytest.mark.parametrize("part", TRANSLATED_PARTS)
def test_every_message_is_translated_to_chinese(part):
    catalog = load_po(part)
    assert catalog.num_plurals == 1 and catalog.plural_expr == "0", "Chinese has one plural form"
    translated = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog
                  if m.id and m.string and (all(m.string) if isinstance(m.string, tuple) else True)
                  and not m.fuzzy}
    missing = sorted(source_messages(part) - translated, key=lambda m: (m[0] or "", m[1]))
    assert not missing, f"{len(missing)} untranslated in {part.name} (run scripts/i18n.sh {part.name}): {missing[:15]}"
    fuzzy = sorted(str(m.id) for m in catalog if m.id and m.fuzzy)
    assert not fuzzy, f"fuzzy entries left (check and clear the flag): {fuzzy[:15]}"


@pytest.mark.parametrize("part", TRANSLATED_PARTS)
def test_translations_keep_every_placeholder(part):
    catalog = load_po(part)
    broken = [(m.id, [str(e) for e in errors]) for m, errors in catalog.check()]
    for m in catalog:
        if not m.id or not m.string:
            continue
        # Chinese uses msgstr[0] for every count, so it must carry the plural form's placeholders.
        source = m.id if isinstance(m.id, str) else m.id[1]
        for text in ([m.string] if isinstance(m.string, str) else m.string):
            if text and sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(source)):
                broken.append((m.id, f"placeholders {PLACEHOLDER.findall(source)} became "
                                     f"{PLACEHOLDER.findall(text)} in {text!r}"))
    assert not broken, broken


@pytest.mark.parametrize("part", TRANSLATED_PARTS)
def test_compiled_catalog_matches_the_po_file(part):
    po = {(m.context, _key(m.id)): _key(m.string) for m in load_po(part) if m.id and m.string and not m.fuzzy}
    with open(catalog_folder(part) / "messages.mo", "rb") as fh:
        # read_mo gives the context as bytes (Babel 2.18); the .po reader gives str.
        mo = {(m.context.decode() if isinstance(m.context, bytes) else m.context, _key(m.id)): _key(m.string)
              for m in read_mo(fh) if m.id}
    assert mo == po, f"{part.name}: messages.mo is stale: run scripts/i18n.sh {part.name}"


def test_pages_are_chinese_by_default(app, client):
    with app.app_context():
        hospital = make_hospital("H1", "第一人民医院")
        make_user(hospital, "admin", ("super_admin",))
    page = client.get("/login").get_data(as_text=True)
    for text in ("登录", "用户名", "密码", "医院客户关系管理系统"):
        assert text in page, f"login page lacks {text!r}"
    assert "Sign in" not in page and "Username" not in page

    login(client, "admin")
    response = client.get("/")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in ("工作台", "系统管理", "应用管理", "用户管理", "角色管理", "操作日志", "统计报表",
                 "今日数据变更", "退出登录"):
        assert text in page, f"dashboard lacks {text!r}"
    assert "Dashboard" not in page and "Sign out" not in page

    client.post("/language", data={"locale": "en"})
    page = client.get("/").get_data(as_text=True)
    assert "Dashboard" in page and "工作台" not in page, "switching to English must still work"


def test_api_messages_follow_accept_language(app, client):
    from core.testing import make_hospital, make_user
    with app.app_context():
        make_user(make_hospital("L"), "lang_user", ("staff",))
    wrong = {"username": "lang_user", "password": "not-the-password"}
    english = client.post("/api/v1/auth/token", json=wrong, headers={"Accept-Language": "en-US,en;q=0.9"})
    chinese = client.post("/api/v1/auth/token", json=wrong, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert english.status_code == chinese.status_code == 401
    assert english.get_json()["error"]["message"] == "Wrong username or password."
    assert english.get_json()["error"]["message"] != chinese.get_json()["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in chinese.get_json()["error"]["message"])


def test_a_plugin_ships_its_own_translations(app, tmp_path, monkeypatch):
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo

    from core.testing import finder_with, login, make_app, make_hospital, make_user, write_plugin
    code = '''
from flask import Blueprint
from core.i18n import gettext as _
from core import hookimpl
from core.declarations import Permission
from core.permissions import require

bp = Blueprint("greeter", __name__, url_prefix="/greeter")


@bp.route("/")
@require("greeter.read")
def index():
    return _("Good morning, ward seven")


@hookimpl
def hcrm_permissions():
    return [Permission("greeter.read", "Read")]


@hookimpl
def hcrm_blueprints():
    return [bp]
'''
    pkg = write_plugin(tmp_path, "greeter", code, package=f"greeter_{tmp_path.name[-10:].replace('-', '_')}")
    catalog = Catalog(locale="zh_Hans_CN")
    catalog.add("Good morning, ward seven", "七病区，早上好")
    folder = pkg / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    with open(folder / "messages.mo", "wb") as fh:
        write_mo(fh, catalog)
    monkeypatch.syspath_prepend(str(tmp_path))
    greeter_app = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))
    with greeter_app.app_context():
        make_user(make_hospital("G", plugins=["greeter"]), "greeted", ("staff",))
    client = greeter_app.test_client()
    login(client, "greeted")
    assert client.get("/greeter/").get_data(as_text=True) == "七病区，早上好"
    assert "工作台" in client.get("/").get_data(as_text=True)  # the core's catalog still applies
