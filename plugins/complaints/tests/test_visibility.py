"""Who sees a complaint beyond the data scopes: the handler assigned to it and the departments it
is assigned to see it (and can act on it) even when the event happened in another department;
a complaint naming one of them stays hidden from that person."""
from types import SimpleNamespace

from core.testing import api_token, login, make_user
from plugins.complaints.tests.conftest import hospital


def _take(client, centre, headers, staff):
    body = {"channel_id": centre["channels"]["phone"], "category_id": centre["categories"]["attitude"],
            "complainant_name": "钱女士", "contact_phone": "13800005678", "department_id": centre["surgery"],
            "staff_ids": staff, "description": "外科护士态度差"}
    response = client.post("/api/v1/complaints/", json=body, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _step(client, cid, headers, action, **data):
    response = client.post(f"/api/v1/complaints/{cid}/transitions", json={"action": action, **data}, headers=headers)
    assert response.status_code == 200, response.get_json()


def _listed(client, headers) -> set[int]:
    return {row["id"] for row in client.get("/api/v1/complaints/?per_page=100", headers=headers).get_json()["items"]}


def test_the_handler_and_the_assigned_departments_of_another_departments_complaint_see_it(app, client, centre):
    with app.app_context():
        im = SimpleNamespace(id=centre["im"])
        make_user(hospital("A"), "im_head", ("dept_manager",), department=im)
        nurse = make_user(hospital("A"), "im_nurse", ("supervisor",), department=im).id
        make_user(hospital("A"), "im_staff", ("staff",), department=im)
    office, head, handler, staff = (api_token(client, u) for u in ("a_office", "im_head", "im_nurse", "im_staff"))
    cid = _take(client, centre, office, [centre["a_doc"]])  # happened in surgery
    about_her = _take(client, centre, office, [nurse])      # names the handler herself
    for headers in (head, handler, staff):
        assert _listed(client, headers) == set()
        assert client.get(f"/api/v1/complaints/{cid}", headers=headers).status_code == 404

    for complaint in (cid, about_her):
        _step(client, complaint, office, "accept")
        _step(client, complaint, office, "assign", handler_id=nurse, department_ids=[centre["surgery"]])
    assert _listed(client, handler) == {cid}  # the one about her stays hidden from her
    assert client.get(f"/api/v1/complaints/{about_her}", headers=handler).status_code == 404
    assert client.get(f"/api/v1/complaints/{cid}", headers=handler).get_json()["reference"].startswith("TS")
    _step(client, cid, handler, "investigate")  # she can act on what she sees
    assert _listed(client, head) == set() and _listed(client, staff) == set()  # IM is not assigned yet

    _step(client, about_her, office, "assign", handler_id=centre["a_manager"],
          department_ids=[centre["surgery"], centre["im"]])
    assert _listed(client, head) == {about_her}  # IM's head: an assigned department
    assert _listed(client, handler) == {cid}      # still not the one about her
    assert _listed(client, staff) == set()        # own scope: only what one took in or handles
    pages = {}
    for username in ("im_head", "im_nurse"):  # the pages agree with the API
        pages[username] = app.test_client()
        login(pages[username], username)
    assert pages["im_head"].get(f"/complaints/{about_her}").status_code == 200
    assert pages["im_nurse"].get(f"/complaints/{about_her}").status_code == 404
    listed = pages["im_nurse"].get("/complaints/").get_data(as_text=True)
    assert f'href="/complaints/{cid}"' in listed and f'href="/complaints/{about_her}"' not in listed
