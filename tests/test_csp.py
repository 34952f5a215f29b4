"""A strict Content-Security-Policy on every response, which the templates can live with: no
inline script, no inline event handler, no <style> element, no javascript: URL anywhere."""
import re
from pathlib import Path

import pytest

from core.testing import login, make_hospital, make_user

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = sorted([*ROOT.glob("core/templates/**/*.html"), *ROOT.glob("plugins/*/templates/**/*.html")])

# An attribute named on<event> inside a tag (onclick=, onsubmit=, onchange=…).
HANDLER = re.compile(r"<[a-zA-Z][^>]*?\son[a-z]+\s*=", re.S)
# A <script> element that is neither a file (src=) nor a data block (type="application/json").
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")[^>]*>", re.S)


def offences(text: str) -> list[str]:
    found = [m.group(0)[:80] for m in HANDLER.finditer(text)]
    found += [m.group(0) for m in INLINE_SCRIPT.finditer(text)]
    found += re.findall(r"<style[\s>]", text)
    found += re.findall(r"javascript:", text, re.I)
    return found


def test_the_template_walk_finds_templates_and_would_catch_offences():
    assert len(TEMPLATES) > 50
    assert offences('<form onsubmit="return confirm(1)">') and offences("<button\n  onclick='x()'>")
    assert offences("<script>alert(1)</script>") and offences("<style>p{}</style>")
    assert not offences('<script src="/static/x.js"></script><script type="application/json" id="d">{}</script>')
    assert not offences('<input data-confirm="Delete on Monday?" placeholder="one=1">')


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_has_inline_script_handlers_or_styles(path):
    comments_removed = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
    assert offences(comments_removed) == []


def policy(response) -> dict[str, str]:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split(None, 1)[1] if " " in part else "" for part in header.split("; ")}


def test_pages_and_api_carry_the_policy_and_the_other_headers(app, client):
    with app.app_context():
        make_user(make_hospital("A", plugins=["patients"]), "boss", ("super_admin",))
    anonymous = client.get("/login")
    login(client, "boss")
    for response in (anonymous, client.get("/"), client.get("/patients/"), client.get("/api/v1/patients")):
        rules = policy(response)
        assert rules["default-src"] == "'self'"
        assert rules["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
        assert rules["frame-ancestors"] == "'none'" and rules["object-src"] == "'none'"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_rendered_pages_have_no_inline_script(app, client):
    """What the browser receives (macros, panels from other plugins included) obeys the policy."""
    with app.app_context():
        make_user(make_hospital("A", plugins=["patients", "followup"]), "boss", ("super_admin",))
    login(client, "boss")
    created = client.post("/patients/new", data={"name": "王五", "gender": "M"})
    assert created.status_code == 302
    pages = ["/", "/patients/", created.headers["Location"], "/patients/new", "/admin/apps",
             "/patients/lookup?phone=13812345678", "/admin/users"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert offences(response.get_data(as_text=True)) == [], url
