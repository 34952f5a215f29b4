"""One clock: every template shows a time through the core's ``stamp`` / ``wall`` filters
(core.clock, Flask-Babel's time zone), so no page can show UTC, or a format of its own, while its
neighbour shows the hospitals' clock."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Ways a template formats a time by hand: strftime / isoformat on a datetime or date, the raw
#: UTC→local converter (whose result then needs formatting), Babel's formatters called directly.
HAND_FORMATTING = re.compile(r"\.strftime\s*\(|\.isoformat\s*\(|\blocal_time\b|\bformat_(?:date|datetime|time)\s*\(")


def templates() -> list[Path]:
    found = [p for p in (ROOT / "core").rglob("*") if p.suffix in (".html", ".tmpl") and "templates" in p.parts]
    for base in (ROOT / "plugins", ROOT / "examples"):
        found += [p for p in base.rglob("*.html") if "templates" in p.parts]
    return sorted(found)


def offences(path: Path) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{number}: {line.strip()[:160]}"
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
            if HAND_FORMATTING.search(line)]


def test_the_scan_sees_every_templates_folder():
    folders = {p.relative_to(ROOT).parts[:2] for p in templates()}
    assert ("core", "templates") in folders
    for plugin in ("patients", "followup", "complaints", "vip", "knowledge_base", "his_connector"):
        assert ("plugins", plugin) in folders
    assert ("examples", "hotline") in folders


def test_the_scan_catches_hand_formatting(tmp_path):
    probe = tmp_path / "probe.html"
    probe.write_text('ok {{ v | stamp }}\n{{ v.strftime("%Y") }}\n{{ (v|local_time) }}\n{{ d.isoformat() }}\n')
    found = [line.split(":")[1] for line in (o.replace(str(tmp_path), "x") for o in _offences_abs(probe))]
    assert found == ["2", "3", "4"]


def _offences_abs(path: Path) -> list[str]:
    return [f"{path}:{n}" for n, line in enumerate(path.read_text().splitlines(), start=1) if HAND_FORMATTING.search(line)]


def test_no_template_formats_a_time_by_hand():
    found = [o for path in templates() for o in offences(path)]
    assert not found, ("Show times with the `stamp` (UTC bookkeeping stamps) or `wall` (hospital wall-clock "
                       "times) filter, not by hand:\n" + "\n".join(found))
