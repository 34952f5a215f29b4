"""Errors meant for people: English for the CLI and logs, translated for pages and the API.

Messages are built with ``core.i18n._m`` at the call site so that Babel extracts them.
"""
from __future__ import annotations

from core.i18n import Message


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
