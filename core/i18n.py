"""Translations: sentences services build once and each caller renders in its language, and one
translation domain per plugin.

A service (plugin activation, say) serves the Apps screen, the API and the CLI. It returns
:class:`Message` objects: ``str(message)`` is the English sentence (CLI output, logs, API
messages, tests), ``message.translated()`` the sentence in the request's language (pages).
``_m`` is also an extraction keyword (babel.cfg / scripts/i18n.sh), so the msgids reach the
catalog like any ``_()`` string.

A plugin's words come from its own catalog, then the core's: the same English word translated
differently by two plugins ("Kind": 题型 for a survey question, 类型 for a visit) never changes the
other plugin's pages. Plugins import ``gettext``, ``lazy_gettext`` ... from here, not from
flask_babel: these pick the catalog of the calling module's plugin, and templates translate in
the catalog of the plugin whose folder holds them (:func:`install`).
"""
from __future__ import annotations

import sys

import flask_babel as _flask_babel
from flask import current_app, has_app_context
from flask_babel import Domain
from flask_babel.speaklater import LazyString
from jinja2 import pass_context


class Message:
    __slots__ = ("msgid", "params", "module")

    def __init__(self, msgid: str, *, _module: str | None = None, **params):
        # _module: the module whose plugin's catalog translates it (None: the core's)
        self.msgid, self.params, self.module = msgid, params, _module

    def __str__(self) -> str:
        return self.msgid % self.params if self.params else self.msgid

    def __repr__(self) -> str:
        return f"Message({str(self)!r})"

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def translated(self) -> str:
        return _module_domain(self.module).gettext(self.msgid, **self.params)


def _m(msgid: str, **params) -> Message:
    """A Message, translated (when shown) in the catalog of the module that made it."""
    return Message(msgid, _module=sys._getframe(1).f_globals.get("__name__"), **params)


# -- one translation domain per plugin ---------------------------------------------------------
_domains: dict[tuple[str, ...], Domain] = {}


class Domains:
    """The app's plugin -> catalog folders, module prefixes and template folders (built once at
    start-up by :func:`install`)."""

    def __init__(self, core_dir: str, plugins: dict[str, tuple[str, str]]):
        self.core = _domain((core_dir,))
        self.by_plugin = {name: _domain((core_dir, folder)) if folder else self.core
                          for name, (_module, folder) in plugins.items()}
        # longest module prefix first: "plugins.followup" before "plugins"
        self.modules = sorted(((module, name) for name, (module, _folder) in plugins.items()),
                              key=lambda pair: -len(pair[0]))

    def for_module(self, module: str | None) -> Domain:
        if module:
            for prefix, name in self.modules:
                if module == prefix or module.startswith(prefix + "."):
                    return self.by_plugin[name]
        return self.core

    def for_template(self, template: str | None) -> Domain:
        """A plugin's templates live in a folder named after it (``followup/plan.html``)."""
        first = (template or "").split("/", 1)[0]
        return self.by_plugin.get(first, self.core)


def plugin_text(plugin: str, text: str) -> str:
    """A plugin's manifest title or summary in the request's language, from the plugin's own
    catalog (``scripts/i18n.sh`` extracts them with :mod:`core.i18n_extract`)."""
    domains = current_app.extensions.get("hcrm_domains") if has_app_context() else None
    if domains is None or not text:
        return text
    from core.i18n_extract import CONTEXT
    return domains.by_plugin.get(plugin, domains.core).pgettext(CONTEXT, text)


def _domain(folders: tuple[str, ...]) -> Domain:
    """One Domain per set of folders for the process: its catalogs are cached on it by locale."""
    found = _domains.get(folders)
    if found is None:
        found = _domains[folders] = Domain(translation_directories=list(folders))
    return found


def install(app, core_dir: str, plugins: dict[str, tuple[str, str]]) -> None:
    """Give ``app`` one domain per plugin (``plugins``: name -> (module, translations folder or
    "")) and make templates translate in the domain of the plugin that owns them."""
    domains = app.extensions["hcrm_domains"] = Domains(core_dir, plugins)

    @pass_context
    def template_gettext(context, string, **variables):
        return domains.for_template(context.name).gettext(string, **variables)

    @pass_context
    def template_ngettext(context, singular, plural, num, **variables):
        # Jinja's newstyle wrapper formats the result itself (with num and the variables): hand it
        # the bare translation, as Flask-Babel's own template callables do.
        return domains.for_template(context.name).get_translations().ungettext(singular, plural, num)

    @pass_context
    def template_pgettext(context, message_context, string, **variables):
        return domains.for_template(context.name).pgettext(message_context, string, **variables)

    app.jinja_env.install_gettext_callables(template_gettext, template_ngettext, newstyle=True,
                                            pgettext=template_pgettext)


def _caller_domain(depth: int = 2) -> Domain | None:
    if not has_app_context():
        return None
    domains = current_app.extensions.get("hcrm_domains")
    if domains is None:
        return None
    return domains.for_module(sys._getframe(depth).f_globals.get("__name__"))


def gettext(string: str, **variables) -> str:
    """flask_babel.gettext in the calling plugin's domain."""
    domain = _caller_domain()
    return (domain or _flask_babel).gettext(string, **variables)


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    domain = _caller_domain()
    return (domain or _flask_babel).ngettext(singular, plural, num, **variables)


def pgettext(context: str, string: str, **variables) -> str:
    domain = _caller_domain()
    return (domain or _flask_babel).pgettext(context, string, **variables)


def _lazy(module: str | None, method: str, *args, **variables) -> LazyString:
    """A lazy string translated, when shown, in the domain of the module that made it."""
    return LazyString(lambda *a, **v: getattr(_module_domain(module), method)(*a, **v), *args, **variables)


def _module_domain(module: str | None):
    if has_app_context() and "hcrm_domains" in current_app.extensions:
        return current_app.extensions["hcrm_domains"].for_module(module)
    return _flask_babel


def lazy_gettext(string: str, **variables) -> LazyString:
    """flask_babel.lazy_gettext in the domain of the module that calls it (resolved when shown,
    so a module-level declaration works before any app exists)."""
    return _lazy(sys._getframe(1).f_globals.get("__name__"), "gettext", string, **variables)


def lazy_ngettext(singular: str, plural: str, num: int, **variables) -> LazyString:
    return _lazy(sys._getframe(1).f_globals.get("__name__"), "ngettext", singular, plural, num, **variables)


def lazy_pgettext(context: str, string: str, **variables) -> LazyString:
    return _lazy(sys._getframe(1).f_globals.get("__name__"), "pgettext", context, string, **variables)


# -- validation messages that marshmallow formats and the request's language renders -------------
class _Unfilled(dict):
    """Formatting before every value is known (marshmallow's Range fills ``min_op`` first)."""

    def __missing__(self, key):
        return f"%({key})s"


class FieldMessage(str):
    """A validation message marshmallow can use as its own (``error_messages``, a validator's
    ``error``): as a ``str`` it is the English sentence, so marshmallow formats it, compares and
    serialises it like its defaults; :meth:`translated` renders it in the request's language.

    The msgid uses ``%(name)s`` placeholders (the catalogs' style); marshmallow's ``format(**kw)``
    calls bind the values (``input``, ``min``, ``choices``, …) and return a new FieldMessage.
    Values that are FieldMessages or lazy strings are translated along with it. ``input`` (the
    caller's value) is cut to 40 characters: a message never echoes a whole pasted document.
    """

    INPUT_LIMIT = 40

    def __new__(cls, message: Message, **params):
        params = {**message.params, **params}
        if "input" in params:
            params["input"] = str(params["input"])[:cls.INPUT_LIMIT]
        english = message.msgid % _Unfilled({k: str(v) for k, v in params.items()})
        made = super().__new__(cls, english)
        made.message = Message(message.msgid, _module=message.module, **params)
        return made

    def format(self, *args, **params):
        return FieldMessage(self.message, **params)

    # marshmallow deep-copies declared fields with their messages: the message is immutable.
    def __copy__(self):
        return self

    def __deepcopy__(self, memo):
        return self

    def __reduce__(self):
        return FieldMessage, (self.message,)

    def translated(self) -> str:
        params = {k: v.translated() if isinstance(v, FieldMessage) else str(v)
                  for k, v in self.message.params.items()}
        return _module_domain(self.message.module).gettext(self.message.msgid, **params) \
            if params else _module_domain(self.message.module).gettext(self.message.msgid)


def field_message(message: Message, **params) -> FieldMessage:
    """``field_message(_m("%(field)s must be chosen from the list.", field=_l("Tag")))``: a message
    for marshmallow's ``error_messages``/``error=``, translated in the catalog that made ``_m``."""
    return FieldMessage(message, **params)


def localized(errors):
    """``ValidationError.messages`` (field -> messages, nested for nested fields and list items)
    in the request's language: FieldMessages and lazy strings translated, other text as it is
    (a service's own message, already translated)."""
    if isinstance(errors, dict):
        return {key: localized(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [localized(value) for value in errors]
    if isinstance(errors, FieldMessage):
        return errors.translated()
    if isinstance(errors, LazyString | Message):
        return errors.translated() if isinstance(errors, Message) else str(errors)
    return errors


# -- marshmallow's own messages, in the core's catalog --------------------------------------------
# Set as the fields' default_error_messages and the validators' messages once, at import (fields
# copy their messages when declared, so before any schema exists: core/__init__ imports this).
# The keys are marshmallow's; each sentence uses only values marshmallow passes with that key.
_FIELD_MESSAGES = {
    "Field": {"required": _m("Missing data for required field."), "null": _m("Field may not be null."),
              "validator_failed": _m("Invalid value.")},
    "Nested": {"type": _m("Invalid type.")},
    "List": {"invalid": _m("Not a valid list.")},
    "Tuple": {"invalid": _m("Not a valid tuple.")},
    "String": {"invalid": _m("Not a valid string."), "invalid_utf8": _m("Not a valid utf-8 string.")},
    "UUID": {"invalid_uuid": _m("Not a valid UUID.")},
    "Number": {"invalid": _m("Not a valid number."), "too_large": _m("Number too large.")},
    "Integer": {"invalid": _m("Not a valid integer.")},
    "Float": {"special": _m("Special numeric values (nan or infinity) are not permitted.")},
    "Decimal": {"special": _m("Special numeric values (nan or infinity) are not permitted.")},
    "Boolean": {"invalid": _m("Not a valid boolean.")},
    "DateTime": {"invalid": _m("Not a valid datetime.")},
    "NaiveDateTime": {"invalid_awareness": _m("Not a valid naive datetime.")},
    "AwareDateTime": {"invalid_awareness": _m("Not a valid aware datetime.")},
    "Time": {"invalid": _m("Not a valid time.")},
    "Date": {"invalid": _m("Not a valid date.")},
    "TimeDelta": {"invalid": _m("Not a valid period of time.")},
    "Mapping": {"invalid": _m("Not a valid mapping type.")},
    "Url": {"invalid": _m("Not a valid URL.")},
    "Email": {"invalid": _m("Not a valid email address.")},
    "IP": {"invalid_ip": _m("Not a valid IP address.")},
    "Enum": {"unknown": _m("Must be one of: %(choices)s.")},
}
_SCHEMA_MESSAGES = {"type": _m("Invalid input type."), "unknown": _m("Unknown field.")}
_VALIDATOR_MESSAGES = {
    "URL": {"default_message": _m("Not a valid URL.")},
    "Email": {"default_message": _m("Not a valid email address.")},
    "Length": {"message_min": _m("Shorter than minimum length %(min)s."),
               "message_max": _m("Longer than maximum length %(max)s."),
               "message_all": _m("Length must be between %(min)s and %(max)s."),
               "message_equal": _m("Length must be %(equal)s.")},
    "Equal": {"default_message": _m("Must be equal to %(other)s.")},
    "Regexp": {"default_message": _m("String does not match expected pattern.")},
    "Predicate": {"default_message": _m("Invalid input.")},
    "NoneOf": {"default_message": _m("Invalid input.")},
    "OneOf": {"default_message": _m("Must be one of: %(choices)s.")},
    "ContainsOnly": {"default_message": _m("One or more of the choices you made was not in: %(choices)s.")},
    "ContainsNoneOf": {"default_message": _m("One or more of the choices you made was in: %(values)s.")},
}
# Range builds its sentence from pieces ("Must be {min_op} {{min}}."), which no language but
# English can reorder: it picks the whole sentence here by its bounds' inclusiveness.
_RANGE_OPS = {"gte": "greater than or equal to", "gt": "greater than", "lte": "less than or equal to",
              "lt": "less than"}
_RANGE_SENTENCES = {
    ("gte", None): _m("Must be greater than or equal to %(min)s."),
    ("gt", None): _m("Must be greater than %(min)s."),
    (None, "lte"): _m("Must be less than or equal to %(max)s."),
    (None, "lt"): _m("Must be less than %(max)s."),
    ("gte", "lte"): _m("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    ("gte", "lt"): _m("Must be greater than or equal to %(min)s and less than %(max)s."),
    ("gt", "lte"): _m("Must be greater than %(min)s and less than or equal to %(max)s."),
    ("gt", "lt"): _m("Must be greater than %(min)s and less than %(max)s."),
}


class _RangeSentence(str):
    """Range's message template: its first ``format(min_op=…, max_op=…)`` picks the sentence."""

    def format(self, *args, min_op=None, max_op=None, **params):
        return FieldMessage(_RANGE_SENTENCES[(min_op, max_op)], **params)


def _install_marshmallow_messages() -> None:
    from marshmallow import Schema, validate
    from marshmallow import fields as mfields

    for name, messages in _FIELD_MESSAGES.items():
        cls = getattr(mfields, name)
        cls.default_error_messages = {**cls.__dict__.get("default_error_messages", {}),
                                      **{key: FieldMessage(m) for key, m in messages.items()}}
    Schema._default_error_messages = {key: FieldMessage(m) for key, m in _SCHEMA_MESSAGES.items()}
    for name, messages in _VALIDATOR_MESSAGES.items():
        for attr, message in messages.items():
            setattr(getattr(validate, name), attr, FieldMessage(message))
    for op in _RANGE_OPS:
        setattr(validate.Range, f"message_{op}", op)
    validate.Range.message_min = _RangeSentence("Must be {min_op} {{min}}.")
    validate.Range.message_max = _RangeSentence("Must be {max_op} {{max}}.")
    validate.Range.message_all = _RangeSentence("Must be {min_op} {{min}} and {max_op} {{max}}.")


_install_marshmallow_messages()
