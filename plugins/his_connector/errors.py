"""Errors meant for people: English for the CLI and logs, translated for pages and the API.

Messages are built with ``core.i18n._m`` at the call site so that Babel extracts them.
"""
from __future__ import annotations

import json

from core.i18n import Message


class Messages(Message):
    """Several messages shown as one ("; "-joined): English for the CLI and logs, each part in
    the reader's language on pages — joining them with str() first would freeze them in English."""

    __slots__ = ("parts",)

    def __init__(self, parts):
        self.parts = list(parts)
        super().__init__(str(self))

    def __str__(self) -> str:
        return "; ".join(map(str, self.parts))

    def translated(self) -> str:
        return "; ".join(part.translated() for part in self.parts)


def stored(message: Message) -> str:
    """A Message as text for a database column, to be shown later in the reader's language."""
    return json.dumps({"msgid": message.msgid, "params": {k: v if isinstance(v, (int, float)) else str(v)
                                                          for k, v in message.params.items()}}, ensure_ascii=False)


def from_stored(text: str | None) -> Message | None:
    """The Message kept by ``stored`` (plain text stored before: shown as it is)."""
    if not text:
        return None
    try:
        data = json.loads(text)
        return Message(data["msgid"], _module=__name__, **data["params"])
    except (ValueError, KeyError, TypeError):
        return Message(text)


class HisError(Exception):
    """A refused setting, an unreachable HIS, a query the HIS rejects. ``message`` is a
    core.i18n.Message; ``errors`` maps form fields to Messages (empty when not about a field)."""

    def __init__(self, message: Message, *, errors: dict | None = None):
        self.message = message
        self.errors = dict(errors or {})
        super().__init__(str(self))

    def __str__(self) -> str:
        text = str(self.message)
        if self.errors:
            text += " " + "; ".join(f"{field}: {message}" for field, message in self.errors.items())
        return text

    def translated(self) -> str:
        return self.message.translated()
