"""Give the Chinese catalogs Chinese punctuation (what tests/test_chinese_punctuation.py checks).

    .venv/bin/python scripts/zh_punctuation.py [PO ...]    # default: every zh catalog of the repository
    bash scripts/i18n.sh                                     # then recompile the .mo files

Half-width , : ; ! ? next to a Chinese character become ，：；！？, a bracket pair touching Chinese
becomes （）, spaces around them go; placeholders (%(name)s, {name}) are kept as they are.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_chinese_punctuation import CATALOGS, CHINESE, PLACEHOLDER  # one definition of the rule

FULL_WIDTH = {",": "，", ":": "：", ";": "；", "!": "！", "?": "？"}
SENTINEL = 0xE000  # private-use characters stand for the placeholders while fixing


def _chinese(char: str) -> bool:
    return bool(char) and bool(CHINESE.match(char))


def fix(text: str) -> str:
    kept: list[str] = []

    def keep(match):
        kept.append(match.group(0))
        return chr(SENTINEL + len(kept) - 1)

    chars = list(PLACEHOLDER.sub(keep, text))
    stack, pairs = [], []
    for i, char in enumerate(chars):
        if char == "(":
            stack.append(i)
        elif char == ")" and stack:
            pairs.append((stack.pop(), i))
    for start, end in pairs:  # a pair touching Chinese on any side becomes full-width as a whole
        if any(_chinese(chars[j]) for j in (start - 1, start + 1, end - 1, end + 1) if 0 <= j < len(chars)):
            chars[start], chars[end] = "（", "）"
    for i, char in enumerate(chars):
        if char in FULL_WIDTH and (_chinese(chars[i - 1] if i else "") or
                                   _chinese(chars[i + 1] if i + 1 < len(chars) else "")):
            chars[i] = FULL_WIDTH[char]
    fixed = "".join(chars)
    fixed = re.sub(r"\s*([，：；！？）])[ \t]+", r"\1", fixed)
    fixed = re.sub(r"(?<=[\u3400-\u9fff])[ \t]+([（，：；！？])", r"\1", fixed)
    fixed = re.sub(r"（[ \t]+", "（", fixed)
    for index, placeholder in enumerate(kept):
        fixed = fixed.replace(chr(SENTINEL + index), placeholder)
    return fixed


def main(paths) -> int:
    changed = 0
    for path in paths:
        with open(path, "rb") as f:
            catalog = read_po(f)
        for message in catalog:
            if not message.id or not message.string:
                continue
            new = (tuple(fix(s) if s else s for s in message.string) if isinstance(message.string, tuple)
                   else fix(message.string))
            if new != message.string:
                changed += 1
                message.string = new
        with open(path, "wb") as f:
            write_po(f, catalog, width=76, sort_output=True, no_location=True)
    print(f"{changed} translation(s) changed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or CATALOGS))
