"""The pages in a browser's shoes: intake form, detail with its workflow forms, escaping of user
text, attachments checked by content and served through the permission, settings."""
import io

import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.complaints.models import Complaint, ComplaintAttachment, ComplaintCategory
from plugins.complaints.tests.conftest import hospital

XSS = "<script>alert(1)</script>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _form(centre, **extra):
    return {"channel_id": centre["channels"]["on_site"], "category_id": centre["categories"]["fees"],
            "complainant_name": XSS, "contact_phone": "0731-88886666", "department_id": centre["surgery"],
            "staff_ids": [centre["a_doc"]], "staff_names": f"{XSS}, 李收费员", "description": f"多收费 {XSS}",
            "severity": "high", **extra}


def _new(client, centre, **extra):
    response = client.post("/complaints/new", data=_form(centre, **extra))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def test_intake_form_and_detail_escape_every_text(app, client, centre):
    login(client, "a_office")
    client.post("/language", data={"locale": "en"})
    assert "Take in a complaint" in client.get("/complaints/new").get_data(as_text=True)
    cid = _new(client, centre)
    page = client.get(f"/complaints/{cid}").get_data(as_text=True)
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "李收费员" in page
    listing = client.get("/complaints/").get_data(as_text=True)
    assert XSS not in listing and "&lt;script&gt;" in listing
    # Workflow through the page, a comment with markup, then the forged close.
    assert client.post(f"/complaints/{cid}/transition", data={"action": "accept"}).status_code == 302
    assert client.post(f"/complaints/{cid}/comment", data={"body": XSS}).status_code == 302
    assert XSS not in client.get(f"/complaints/{cid}").get_data(as_text=True)
    forged = client.post(f"/complaints/{cid}/transition", data={"action": "close", "finding": "justified"})
    assert forged.status_code == 409
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.get(Complaint, cid).status == "accepted"


def test_intake_form_errors_keep_the_input_and_write_nothing(app, client, centre):
    login(client, "a_office")
    response = client.post("/complaints/new", data=_form(centre, description="", staff_ids=[centre["b_doc"]]))
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert "is-invalid" in text and "&lt;script&gt;" in text
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.execute(sa.select(sa.func.count()).select_from(Complaint)).scalar_one() == 0


def test_attachments_checked_by_content_and_size_and_served_with_the_permission(app, client, centre, tmp_path):
    app.config["HCRM_COMPLAINTS_ATTACHMENTS"] = str(tmp_path)
    login(client, "a_office")
    client.post("/language", data={"locale": "en"})
    cid = _new(client, centre)
    fake = client.post(f"/complaints/{cid}/attach", data={"file": (io.BytesIO(b"MZ\x90\x00evil"), "photo.png")},
                       content_type="multipart/form-data")
    assert fake.status_code == 422 and "PDF" in fake.get_data(as_text=True)
    big = client.post(f"/complaints/{cid}/attach",
                      data={"file": (io.BytesIO(PNG + b"\x00" * (10 * 1024 * 1024)), "big.png")},
                      content_type="multipart/form-data")
    assert big.status_code in (413, 422)
    ok = client.post(f"/complaints/{cid}/attach", data={"file": (io.BytesIO(PDF), "收据.pdf")},
                     content_type="multipart/form-data")
    assert ok.status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        rows = db.session.execute(sa.select(ComplaintAttachment)).scalars().all()
        assert len(rows) == 1 and rows[0].content_type == "application/pdf"
        aid, stored = rows[0].id, rows[0].stored_name
    assert list(tmp_path.rglob(stored))  # under the configured folder, not the web root
    served = client.get(f"/complaints/attachments/{aid}")
    assert served.status_code == 200 and served.data == PDF and served.mimetype == "application/pdf"
    other = app.test_client()
    login(other, "b_admin")
    assert other.get(f"/complaints/attachments/{aid}").status_code == 404
    nobody = app.test_client()
    login(nobody, "a_nobody")
    assert nobody.get(f"/complaints/attachments/{aid}").status_code == 403


def test_reply_limits_of_zero_or_negative_are_refused(app, client, centre):
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    cat = centre["categories"]["fees"]
    for reply, multi, message in (("0", "15", "from 1 to 60"), ("-3", "15", "from 1 to 60"),
                                  ("5", "0", "from 1 to 60"), ("abc", "15", "whole number")):
        response = client.post(f"/complaints/settings/categories/{cat}",
                               data={"name": "收费问题", "reply_days": reply, "multi_reply_days": multi, "active": "1"})
        assert response.status_code == 302
        assert message in client.get("/complaints/settings").get_data(as_text=True)
    with app.app_context(), hospital_scope(hospital("A")):
        row = db.session.get(ComplaintCategory, cat)
        assert (row.reply_days, row.multi_reply_days) == (5, 15)
    assert client.post(f"/complaints/settings/categories/{cat}",
                       data={"name": "收费问题", "reply_days": "3", "multi_reply_days": "10", "active": "1"}
                       ).status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.get(ComplaintCategory, cat).reply_days == 3


def test_settings_page_warns_when_next_year_is_not_covered(app, client, centre):
    login(client, "a_admin")
    page = client.get("/complaints/settings").get_data(as_text=True)
    # The package knows 2026 only: 2027 is not covered.
    assert "2027" in page


def test_sanction_proposed_then_approved_and_on_the_staff_record(app, client, centre):
    login(client, "a_office")
    cid = _new(client, centre)
    bad = client.post(f"/complaints/{cid}/sanctions", data={"user_id": centre["b_doc"], "kind": "deduction",
                                                          "reason": "x"})
    assert bad.status_code == 422
    assert client.post(f"/complaints/{cid}/sanctions", data={"user_id": centre["a_doc"], "kind": "deduction",
                                                            "points": "2", "amount": "100",
                                                            "reason": XSS}).status_code == 302
    record = client.get(f"/complaints/sanctions?user_id={centre['a_doc']}").get_data(as_text=True)
    assert XSS not in record and "&lt;script&gt;" in record
    from plugins.complaints.models import Sanction
    with app.app_context(), hospital_scope(hospital("A")):
        sid = db.session.execute(sa.select(Sanction.id)).scalar_one()
    manager = app.test_client()
    login(manager, "a_manager")
    assert manager.post(f"/complaints/sanctions/{sid}/decide", data={"decision": "approve"}).status_code == 403
    assert client.post(f"/complaints/sanctions/{sid}/decide", data={"decision": "approve"}).status_code == 302
    assert client.post(f"/complaints/sanctions/{sid}/decide", data={"decision": "reject"}).status_code == 409
    with app.app_context(), hospital_scope(hospital("A")):
        assert db.session.get(Sanction, sid).state == "approved"


def test_a_penalty_record_does_not_reveal_the_complaint_about_oneself(app, client, centre):
    login(client, "a_office")
    cid = _new(client, centre, staff_ids=[centre["a_manager"]], department_id=centre["surgery"])
    assert client.post(f"/complaints/{cid}/sanctions", data={"user_id": centre["a_manager"], "kind": "warning",
                                                            "reason": "沟通不当"}).status_code == 302
    with app.app_context(), hospital_scope(hospital("A")):
        reference = db.session.get(Complaint, cid).reference
    assert reference in client.get(f"/complaints/sanctions?user_id={centre['a_manager']}").get_data(as_text=True)
    manager = app.test_client()
    login(manager, "a_manager")  # sees surgery's complaints, but not this one: it is about them
    record = manager.get(f"/complaints/sanctions?user_id={centre['a_manager']}")
    assert record.status_code == 200 and "沟通不当" in record.get_data(as_text=True)
    assert reference not in record.get_data(as_text=True)
    assert manager.get(f"/complaints/{cid}").status_code == 404
    assert reference not in manager.get("/complaints/").get_data(as_text=True)
