"""Errors the planning services raise; pages, the API and the CLI turn them into messages.

Services raise before writing anything, so a refusal never leaves half a change behind.
"""
from __future__ import annotations


class FollowupInvalid(ValueError):
    """Input refused: ``errors`` maps each field to a message for the person who typed it."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


class PlanStateError(ValueError):
    """The change does not fit the plan's (or rule's) current state, e.g. a round on a
    cancelled plan (the API answers 409, pages flash the message)."""
