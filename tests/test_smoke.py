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
