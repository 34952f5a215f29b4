"""The confirmation dialogs show names as typed. A patient called <script>x</script> was shown as
“&lt;script&gt;x&lt;/script&gt;” by the delete dialog: the macro put the already-escaped
translated sentence through ``tojson`` into an inline handler, escaping it twice. Now the
sentence sits in ``data-confirm`` (escaped once, as HTML attributes are) and hcrm.js hands
``getAttribute`` — the decoded text — to ``confirm()``. The test reads the attribute as a browser
does (entities decoded) and checks that the dialog would show the name, not its entities."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

from core.testing import api_token, make_hospital, make_user
from core.testing import login as sign_in

NAME = "<script>x</script>"


class ConfirmTexts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts = []

    def handle_starttag(self, tag, attrs):
        self.texts += [value for key, value in attrs if key == "data-confirm"]


def confirm_texts(html: str) -> list[str]:
    parser = ConfirmTexts()
    parser.feed(html)
    return parser.texts


def test_the_delete_dialog_shows_the_name_as_typed(app, client):
    with app.app_context():
        make_user(make_hospital("H1", plugins=["patients"]), "chief", roles=("super_admin",))
    created = app.test_client().post("/api/v1/patients", json={"name": NAME, "phone": "13812345678"},
                                     headers=api_token(app.test_client(), "chief"))
    assert created.status_code == 201, created.text
    sign_in(client, "chief")
    for locale, sentence in (("zh_CN", f"确定删除患者“{NAME}”吗？"), ("en", f"Delete the patient “{NAME}”?")):
        client.post("/language", data={"locale": locale})
        page = client.get(f"/patients/{created.json['id']}").text
        assert "<script>x</script>" not in page  # the page itself is escaped …
        texts = [t for t in confirm_texts(page) if NAME in t]
        assert texts and texts[0].startswith(sentence)  # … and the dialog shows the name once decoded
        assert not any("&lt;" in t or "&amp;" in t for t in confirm_texts(page))


def test_dialogs_take_their_text_from_the_attribute_never_from_an_inline_handler():
    script = (Path(__file__).resolve().parent.parent / "core" / "static" / "hcrm.js").read_text()
    assert 'window.confirm(form.getAttribute("data-confirm"))' in script
    assert "innerHTML" not in script
    root = Path(__file__).resolve().parent.parent
    templates = [p for p in root.glob("**/templates/**/*.html") if ".venv" not in p.parts]
    handler = re.compile(r"""\bon[a-z]+\s*=\s*['"][^'"]*confirm\(""")
    offenders = [str(p.relative_to(root)) for p in templates if handler.search(p.read_text())]
    assert not offenders, offenders
