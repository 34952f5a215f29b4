"""Content sources (followup_content_sources): without a live plugin offering one, the forms show
no "insert from…" picker and the picker's search finds nothing; another hospital's patient is a 404.
(The knowledge_base plugin's tests cover a live source.)"""
from core.testing import login


def test_no_picker_without_a_live_source(app, client, outreach):
    login(client, "a_manager")
    page = client.get(f"/followup/sms/compose/{outreach['zhang']}")
    assert page.status_code == 200
    assert "data-content-picker" not in page.get_data(as_text=True)
    found = client.get(f"/followup/sms/content?q=骨折&patient_id={outreach['zhang']}")
    assert found.status_code == 200 and found.get_json() == {"items": []}
    assert client.get(f"/followup/sms/content?patient_id={outreach['other']}").status_code == 404
    assert client.post("/followup/sms/content/nothing/1").status_code in (400, 404)  # CSRF or unknown source
