"""The plugin's refusals: a field-by-field one (a 422 / form errors) and a workflow one."""
from __future__ import annotations

from marshmallow import ValidationError


class ComplaintInvalid(ValidationError):
    """Input refused before anything was written; ``messages`` maps each field to its message.
    A marshmallow ValidationError, so the API answers it as a 422 with ``fields``."""

    def __init__(self, errors: dict[str, str]):
        super().__init__({key: [value] for key, value in errors.items()})
        self.errors = errors

    def __str__(self) -> str:
        return " ".join(self.errors.values())


class TransitionRefused(Exception):
    """A workflow step that may not be taken (wrong state: 409, missing permission: 403)."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.message = message
        self.status = status
