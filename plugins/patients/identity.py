"""Rules about identity data that need no database: ID numbers, phones, pinyin keys, masking."""
from __future__ import annotations

import functools
import io
import itertools
import os
import re
from array import array
from bisect import bisect_left
from datetime import date
from pathlib import Path

from core.clock import local_today
from core.i18n import gettext as _

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
LANDLINE_RE = re.compile(r"^0\d{2,3}-?\d{7,8}(-\d{1,6})?$")
MAX_NAME_KEYS = 16  # reading combinations kept per name: enough for real names, bounded for odd ones


class IdentityError(ValueError):
    """Input that cannot be a real ID number or phone; the message says why."""


def parse_id_number(value: str) -> tuple[str, date, str]:
    """Validate an 18-digit resident ID number (GB 11643); return it normalised (upper-case X),
    the birth date and the gender ("M"/"F") it encodes."""
    number = (value or "").strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", number):
        raise IdentityError(_("An ID number has 18 characters: 17 digits and a digit or X."))
    expected = ID_CHECK[sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS, strict=True)) % 11]
    if number[17] != expected:
        raise IdentityError(_("The ID number's check digit is wrong: please check the number."))
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise IdentityError(_("The ID number holds an impossible birth date.")) from None
    if birth > local_today() or birth.year < 1890:
        raise IdentityError(_("The ID number holds an impossible birth date."))
    return number, birth, "M" if int(number[16]) % 2 else "F"


THREE_DIGIT_AREA_RE = re.compile(r"^(010|02\d)")  # Beijing and the 02x cities; other area codes have 4 digits


def normalize_phone(value: str) -> str:
    """One canonical form per number, however it was typed: a mainland mobile as 11 digits
    (13812345678), a landline as area code, dash, number (0730-1234567, 010-12345678-123).
    Spaces, dashes, brackets and a +86/0086 prefix are tolerated."""
    phone = re.sub(r"[\s()]", "", value or "")
    if phone.startswith("+86"):
        phone = phone[3:]
    elif phone.startswith("0086"):
        phone = phone[4:]
    digits = phone.replace("-", "")
    if MOBILE_RE.match(digits):
        return digits
    main, _sep, extension = phone.rpartition("-") if phone.count("-") == 2 else (phone, "", "")
    main = main.replace("-", "")
    if re.fullmatch(r"0\d{9,11}", main):
        area = 3 if THREE_DIGIT_AREA_RE.match(main) else 4
        canonical = f"{main[:area]}-{main[area:]}" + (f"-{extension}" if extension else "")
        if LANDLINE_RE.match(canonical):
            return canonical
    raise IdentityError(_("“%(phone)s” is not a mobile number (11 digits starting with 1) or a landline "
                          "(area code and number, e.g. 0730-1234567).", phone=value))


def last4(phone: str | None) -> str | None:
    digits = re.sub(r"\D", "", phone or "")
    return digits[-4:] if len(digits) >= 4 else None


def age_on(birth: date | None, today: date | None = None) -> int | None:
    if birth is None:
        return None
    today = today or local_today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def pypinyin():
    """The pypinyin module, imported on first use and without its phrase dictionary (~12 MB
    instead of ~56 MB). The name index does not use it (see :func:`_table`); only whole-word
    conversions do (a source's code from its name)."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")  # read once, when pypinyin is imported
    import pypinyin as module
    return module


PINYIN_TABLE = Path(__file__).parent / "data" / "pinyin.txt"


class _Readings:
    """pypinyin's readings of each character, from data/pinyin.txt (scripts/pinyin_table.py
    writes it from pypinyin): ~1 MB in two arrays and one string, where pypinyin's dictionaries
    take ~11 MB in every process that indexes names (a HIS sync of patients, an import)."""

    def __init__(self, path: Path):
        self.codes, self.ends, text, end = array("I"), array("I"), io.StringIO(), 0
        with path.open(encoding="utf-8") as lines:  # line by line: no list of 42,000 strings
            self.hans = re.compile(next(lines).rstrip("\n"))
            for line in lines:
                code, readings = line.rstrip("\n").split(" ", 1)
                self.codes.append(int(code, 16))
                end += len(readings) + 1
                self.ends.append(end)
                text.write(readings + ",")
        self.text = text.getvalue()

    def of(self, char: str) -> tuple[str, ...] | None:
        at = bisect_left(self.codes, ord(char))
        if at == len(self.codes) or self.codes[at] != ord(char):
            return None
        start = self.ends[at - 1] if at else 0
        return tuple(self.text[start:self.ends[at] - 1].split(","))


@functools.cache
def _table() -> _Readings:
    return _Readings(PINYIN_TABLE)


def _segments(text: str) -> list[str]:
    """The parts pypinyin reads separately: each Chinese character, and each run of others."""
    hans = _table().hans
    parts: list[str] = []
    for char in text:
        if hans.match(char) or not parts or hans.match(parts[-1]):
            parts.append(char)
        else:
            parts[-1] += char
    return parts


@functools.lru_cache(maxsize=65536)
def _readings(part: str) -> tuple[str, ...]:
    """Every reading of a character (or a run of other characters as it is), lower case, as
    pypinyin gives them (heteronyms, no tones). Cached: a HIS brings in patients by the million
    with a few thousand distinct characters between them."""
    known = _table().of(part) if len(part) == 1 else None
    return known or ((part.lower(),) if part.strip() else ("",))


def pinyin_keys(name: str) -> set[str]:
    """Search keys of a name: full pinyin and initials, for each reading of its polyphonic
    characters (曾 ceng/zeng), lower-case, without spaces; Latin letters are kept as they are."""
    text = re.sub(r"[\s·•.\-]", "", name or "")
    if not text:
        return set()
    readings = [_readings(part) for part in _segments(text)]
    keys: set[str] = set()
    for combo in itertools.islice(itertools.product(*readings), MAX_NAME_KEYS):
        keys.add("".join(combo)[:64])
        keys.add("".join(part[:1] if part.isascii() and len(part) > 0 and not part.isdigit() else part
                         for part in combo)[:64])
    return {k for k in keys if k}


def mask_phone(phone: str | None) -> str | None:
    """138****5678; landlines keep the area code and the last four digits."""
    if not phone:
        return phone
    if MOBILE_RE.match(phone):
        return f"{phone[:3]}****{phone[-4:]}"
    visible = 4 if len(phone) > 6 else 2
    return phone[: max(0, phone.find("-") + 1 if "-" in phone else 3)] + "*" * 4 + phone[-visible:]


def mask_insurance_no(number: str | None) -> str | None:
    """HN********8899: the card's prefix and the last four characters, like the ID number."""
    if not number:
        return number
    return number[:2] + "*" * (len(number) - 6) + number[-4:] if len(number) > 7 else "*" * len(number)


def mask_id_number(number: str | None) -> str | None:
    """4201**********1234: the region prefix and the last four characters."""
    if not number:
        return number
    return number[:4] + "*" * (len(number) - 8) + number[-4:] if len(number) > 8 else "*" * len(number)
