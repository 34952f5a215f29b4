"""Sentences that services build once and each caller renders in its own language.

A service (plugin activation, say) serves the Apps screen, the API and the CLI. It returns
:class:`Message` objects: ``str(message)`` is the English sentence (CLI output, logs, API
messages, tests), ``message.translated()`` the sentence in the request's language (pages).
``_m`` is also an extraction keyword (babel.cfg / scripts/i18n.sh), so the msgids reach the
catalog like any ``_()`` string.
"""
from __future__ import annotations

from flask_babel import gettext


class Message:
    __slots__ = ("msgid", "params")

    def __init__(self, msgid: str, **params):
        self.msgid, self.params = msgid, params

    def __str__(self) -> str:
        return self.msgid % self.params if self.params else self.msgid

    def __repr__(self) -> str:
        return f"Message({str(self)!r})"

    def __eq__(self, other) -> bool:
        return str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))

    def translated(self) -> str:
        return gettext(self.msgid, **self.params)


def _m(msgid: str, **params) -> Message:
    return Message(msgid, **params)
