"""The name index reads pinyin from data/pinyin.txt, not from pypinyin (~1 MB instead of ~11 MB
per process): the table must give exactly what pypinyin gives, for every character it knows."""
import os

from plugins.patients import identity


def test_the_pinyin_table_gives_pypinyins_readings_for_every_character():
    os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
    import pypinyin
    from pypinyin.pinyin_dict import pinyin_dict
    chars = "".join(chr(code) for code in sorted(pinyin_dict))
    # one call for all: without phrases pypinyin reads each character on its own
    theirs = pypinyin.pinyin(chars, style=pypinyin.Style.NORMAL, heteronym=True, errors="default")
    assert len(theirs) == len(chars)
    table = identity._table()
    differ = []
    for char, options in zip(chars, theirs, strict=True):
        expected = tuple(r.lower() for r in dict.fromkeys(options) if r.strip()) or ("",)
        if identity._readings(char) != expected:
            differ.append((char, identity._readings(char), expected))
    assert not differ, differ[:5]
    assert table.hans.pattern == pypinyin.constants.RE_HANS.pattern  # the same split into characters


def test_names_get_every_reading_and_other_text_is_kept():
    assert identity.pinyin_keys("曾三") == {"cengsan", "cs", "zengsan", "zs"}
    assert identity.pinyin_keys("李 四") == {"lisi", "ls"}
    assert identity.pinyin_keys("Anna李") == {"annali", "al"}
    assert identity.pinyin_keys("") == set()
