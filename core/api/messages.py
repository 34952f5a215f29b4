"""marshmallow's own field errors in the request's language.

A 400/422 says what is wrong in the caller's language (``查询参数无效。``), and its ``fields`` hold
one message per bad field. Those come from marshmallow in English, already formatted
("Must be greater than or equal to 1."): each is matched here against the English sentences
marshmallow 4 writes and replaced by the catalog's translation with the same values. A message
that matches none (a service's own, already translated) is left as it is.
"""
from __future__ import annotations

import re

from core.i18n import Message, _m

MARSHMALLOW_MESSAGES = (
    _m("Missing data for required field."),
    _m("Field may not be null."),
    _m("Unknown field."),
    _m("Invalid input type."),
    _m("Invalid input."),
    _m("Invalid type."),
    _m("Invalid value."),
    _m("Not a valid string."),
    _m("Not a valid integer."),
    _m("Not a valid number."),
    _m("Not a valid boolean."),
    _m("Not a valid date."),
    _m("Not a valid datetime."),
    _m("Not a valid time."),
    _m("Not a valid naive datetime."),
    _m("Not a valid aware datetime."),
    _m("Not a valid list."),
    _m("Not a valid mapping type."),
    _m("Not a valid email address."),
    _m("Not a valid URL."),
    _m("Not a valid UUID."),
    _m("Number too large."),
    _m("Special numeric values (nan or infinity) are not permitted."),
    _m("String does not match expected pattern."),
    _m("Longer than maximum length %(max)s."),
    _m("Shorter than minimum length %(min)s."),
    _m("Length must be between %(min)s and %(max)s."),
    _m("Length must be %(equal)s."),
    _m("Must be one of: %(choices)s."),
    _m("Must be equal to %(other)s."),
    _m("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    _m("Must be greater than or equal to %(min)s."),
    _m("Must be greater than %(min)s."),
    _m("Must be less than or equal to %(max)s."),
    _m("Must be less than %(max)s."),
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _pattern(msgid: str) -> re.Pattern:
    parts = _PLACEHOLDER.split(msgid)  # literal, name, literal, name, …
    return re.compile("".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)"
                              for i, part in enumerate(parts)))


# The sentence with the most fixed words first: "Must be greater than or equal to 1 and less than
# or equal to 200." must not be read as "Must be greater than or equal to %(min)s." with a long min.
_PATTERNS = tuple(sorted(((_pattern(m.msgid), m.msgid) for m in MARSHMALLOW_MESSAGES),
                         key=lambda pair: -len(_PLACEHOLDER.sub("", pair[1]))))


def translate_message(text: str) -> str:
    for pattern, msgid in _PATTERNS:
        found = pattern.fullmatch(text)
        if found:
            return Message(msgid, **found.groupdict()).translated()
    return text


def translate_errors(errors):
    """``ValidationError.messages`` (field -> messages, nested for nested fields and list items)
    with marshmallow's sentences translated."""
    if isinstance(errors, dict):
        return {key: translate_errors(value) for key, value in errors.items()}
    if isinstance(errors, list):
        return [translate_errors(value) for value in errors]
    return translate_message(errors) if isinstance(errors, str) else errors
