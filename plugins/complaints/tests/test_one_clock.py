"""One clock: the complaint pages show times through the core's ``stamp``/``wall`` filters (the
hospital's zone and format), never a template's own strftime or isoformat."""
import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def test_templates_format_no_time_themselves():
    found = [f"{path.name}:{number}: {line.strip()}"
             for path in sorted(TEMPLATES.rglob("*.html"))
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\.strftime\(|\.isoformat\(|\|\s*local_time\b", line)]
    assert not found, "format times with the stamp / wall filters:\n" + "\n".join(found)
