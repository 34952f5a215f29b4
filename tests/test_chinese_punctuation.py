"""Chinese text uses Chinese punctuation: a msgstr of a zh catalog (the core's, each plugin's,
the example plugin's) has no half-width , : ; ! ? ( ) next to a Chinese character, and its
full-width brackets pair up. Placeholders (%(name)s, %s, {name}) count as non-Chinese, so
"原因:%(reason)s" fails while "HH:mm" or a URL inside Chinese text does not."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOGS = sorted(p for p in ROOT.glob("**/translations/zh*/LC_MESSAGES/messages.po")
                  if ".venv" not in p.parts and "scaffold_template" not in p.parts)
PLACEHOLDER = re.compile(r"%\([^)]*\)[-#0 +]*\d*(?:\.\d+)?[a-zA-Z%]|%[-#0 +]*\d*[sdifrxX%]|\{[^{}]*\}")
HALF_WIDTH = ",:;!?()"
# Chinese characters and the punctuation that lives among them (。、“”《》 and the full-width forms).
CHINESE = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef\u201c\u201d\u2018\u2019]")


def problems(text: str) -> list[str]:
    plain = PLACEHOLDER.sub("\u2063", text)  # an invisible separator: neither Chinese nor punctuation
    found = []
    for i, char in enumerate(plain):
        if char not in HALF_WIDTH:
            continue
        left, right = plain[i - 1:i], plain[i + 1:i + 2]
        if CHINESE.match(left or " ") or CHINESE.match(right or " "):
            found.append(f"half-width {char!r} at {i}: …{plain[max(0, i - 8):i + 9]}…")
    if plain.count("（") != plain.count("）"):
        found.append("full-width brackets do not pair up")
    return found


def messages(path: Path):
    with path.open("rb") as f:
        catalog = read_po(f)
    for message in catalog:
        if not message.id:
            continue
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            if string:
                yield (message.id if isinstance(message.id, str) else message.id[0]), string


def test_catalogs_are_found():
    assert any(p.parts[-5] == "core" for p in CATALOGS) and len(CATALOGS) >= 7


@pytest.mark.parametrize("path", CATALOGS, ids=lambda p: str(p.relative_to(ROOT).parts[:-4]))
def test_chinese_translations_use_chinese_punctuation(path):
    bad = [f"{msgid!r} -> {string!r}: {'; '.join(found)}"
           for msgid, string in messages(path) if (found := problems(string))]
    assert not bad, (f"{path.relative_to(ROOT)}: {len(bad)} translation(s) with half-width punctuation "
                     "(fix: .venv/bin/python scripts/zh_punctuation.py && bash scripts/i18n.sh):\n" + "\n".join(bad[:40]))


@pytest.mark.parametrize("text, ok", [
    ("原因：%(reason)s", True), ("原因:%(reason)s", False), ("%(header)s：只有集团管理员", True),
    ("%(header)s:只有", False), ("共 %(n)d 行，完成", True), ("共 %(n)d 行, 完成", False),
    ("格式 HH:mm", True), ("见 https://example.org", True), ("令牌（POST /api/v1/auth/token）", True),
    ("令牌(POST /api/v1/auth/token)", False), ("令牌（POST）)", False), ("完成!", False), ("{name}:", True),
])
def test_the_check_itself(text, ok):
    assert (not problems(text)) is ok
