"""Write plugins/patients/data/pinyin.txt: every reading pypinyin knows of each Chinese character
(lower case, without tones, as the name index wants them), so that indexing names needs ~1 MB
instead of pypinyin's ~11 MB in every process that writes patients (a HIS sync, an import).

    .venv/bin/python scripts/pinyin_table.py      # after upgrading pypinyin; commit the file

First line: pypinyin's pattern of the characters it reads one by one (RE_HANS). Then one line per
character: its code point in hex, a space, its readings separated by commas.
plugins/patients/tests/test_identity_pinyin.py checks the file against pypinyin itself.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "plugins" / "patients" / "data" / "pinyin.txt"


def readings_by_pypinyin(char: str) -> tuple[str, ...]:
    """The readings of one character as pypinyin gives them (the index's reference)."""
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
    import pypinyin
    options = pypinyin.pinyin(char, style=pypinyin.Style.NORMAL, heteronym=True, errors="default")
    return tuple(r.lower() for opts in options for r in dict.fromkeys(opts) if r.strip()) or ("",)


def lines():
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
    import pypinyin
    from pypinyin.pinyin_dict import pinyin_dict
    yield pypinyin.constants.RE_HANS.pattern
    for code in sorted(pinyin_dict):
        readings = readings_by_pypinyin(chr(code))
        if readings != (chr(code).lower(),):
            yield f"{code:x} {','.join(readings)}"


if __name__ == "__main__":
    TABLE.write_text("\n".join(lines()) + "\n", encoding="utf-8")
    print(f"wrote {TABLE.relative_to(ROOT)}", file=sys.stderr)
