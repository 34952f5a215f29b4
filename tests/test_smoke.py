import re

from core.testing import login, make_hospital, make_user


def test_admin_signs_in_and_sees_dashboard_and_menu(app, client):
    with app.app_context():
        hospital = make_hospital("A", "示范医院")
        make_user(hospital, "admin", ("super_admin",))
    assert client.get("/").status_code == 302
    login(client, "admin")
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "示范医院" in html
    assert "/admin/users" in html and "/admin/apps" in html


def test_pages_carry_security_headers_and_assets_are_local(app, client):
    with app.app_context():
        make_user(make_hospital("A"), "admin", ("super_admin",))
    login(client, "admin")
    page = client.get("/")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    # No asset from elsewhere (a random CSRF token may well contain the letters "cdn").
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html) and "https://" not in html
    css = client.get("/static/core/vendor/bootstrap/bootstrap.min.css")
    assert css.status_code == 200 and "no-store" not in css.headers.get("Cache-Control", "")
