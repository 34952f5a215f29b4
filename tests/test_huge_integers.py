"""Integers too large for the database (``OverflowError`` on SQLite, out of range on PostgreSQL)
in a URL, a query string or a body are a 404 or a 400 with a message, never a 500."""
import pytest
import sqlalchemy as sa
from werkzeug.routing import AnyConverter, IntegerConverter

from core.extensions import db
from core.testing import api_token, login, make_department, make_hospital, make_user

HUGE = str(10**30)


@pytest.fixture
def everything(app):
    """Hospital A with every plugin live, its administrator logged in."""
    with app.app_context():
        registry = app.extensions["hcrm"].registry
        hospital = make_hospital("A", "甲医院", plugins=list(registry.names))
        make_department(hospital, "IM", "内科")
        make_user(hospital, "a_admin", ("super_admin",))
    client = app.test_client()
    login(client, "a_admin")
    return client


def _filled(rule) -> str | None:
    """The rule's path with every int argument set to HUGE (others to a plain word)."""
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = HUGE
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        else:
            values[name] = "abc"
    if HUGE not in values.values():
        return None
    return rule.build(values, append_unknown=False)[1]


def test_every_int_route_answers_404_for_a_huge_id(app, everything):
    headers = api_token(everything, "a_admin")
    checked = []
    for rule in app.url_map.iter_rules():
        path = _filled(rule)
        if path is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = everything.open(path, method=method, headers=headers if path.startswith("/api/") else {})
            checked.append((method, path, response.status_code))
    assert len(checked) > 20
    assert [c for c in checked if c[2] != 404] == [], [c for c in checked if c[2] != 404]


@pytest.mark.parametrize("query", ["page=" + HUGE, "per_page=" + HUGE, "department_id=" + HUGE,
                                   "tag_id=" + HUGE, "page=-" + HUGE])
def test_api_query_numbers_beyond_the_database_are_400_with_a_message(app, everything, query):
    response = everything.get(f"/api/v1/patients?{query}", headers=api_token(everything, "a_admin"))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["message"] and error["fields"]


@pytest.mark.parametrize("field", ["region_id", "source_id", "referrer_id", "owner_id", "department_id"])
def test_api_body_ids_beyond_the_database_are_422_naming_the_field(app, everything, field):
    headers = api_token(everything, "a_admin")
    response = everything.post("/api/v1/patients", json={"name": "张三", field: 10**30}, headers=headers)
    assert response.status_code == 422
    assert field in response.get_json()["error"]["fields"]
    created = everything.post("/api/v1/patients", json={"name": "张三"}, headers=headers).get_json()
    visit = {"visit_at": "2024-05-01T09:00:00", "department_id": 10**30, "doctor_id": 10**30}
    response = everything.post(f"/api/v1/patients/{created['id']}/visits", json=visit, headers=headers)
    assert response.status_code == 422
    assert set(response.get_json()["error"]["fields"]) == {"department_id", "doctor_id"}


def test_openapi_documents_the_bounds(app, everything):
    spec = everything.get("/api/v1/openapi.json").get_json()
    parameter = spec["paths"]["/api/v1/patients/{patient_id}"]["parameters"][0]
    assert parameter["schema"]["maximum"] == 2**31 - 1


QUERY_KEYS = ("page", "per_page", "patient_id", "visit_id", "department", "department_id", "role", "source_id",
              "tag_id", "region_id", "owner_id", "doctor_id", "disease_id", "method_id", "template_id",
              "category_id", "questionnaire_id", "plan_id", "rule_id", "user_id", "hospital_id", "connection_id",
              "referrer_id", "task_id", "round_id")


def test_pages_read_huge_numbers_in_the_query_string_as_no_number(app, everything):
    query = "&".join(f"{key}={HUGE}" for key in QUERY_KEYS)
    answered = []
    for rule in app.url_map.iter_rules():
        if rule.arguments or "GET" not in rule.methods or rule.rule.startswith(("/api/", "/static")) \
                or rule.endpoint in ("auth.logout", "logout"):
            continue
        response = everything.get(f"{rule.rule}?{query}")
        answered.append((rule.rule, response.status_code))
    assert len(answered) > 20
    assert [a for a in answered if a[1] >= 500] == []


FORM_KEYS = QUERY_KEYS + ("parent", "roles", "owner", "category", "method", "kind_id", "name", "code")


def test_forms_refuse_huge_numbers_without_a_500(app, everything):
    form = {key: HUGE for key in FORM_KEYS}
    answered = []
    for rule in app.url_map.iter_rules():
        if rule.arguments or "POST" not in rule.methods or rule.rule.startswith(("/api/", "/static")) \
                or "logout" in rule.rule:
            continue
        answered.append((rule.rule, everything.post(rule.rule, data=form).status_code))
    assert len(answered) > 10
    assert [a for a in answered if a[1] >= 500] == []


def test_a_huge_reference_in_the_patient_form_is_a_field_error(app, everything):
    response = everything.post("/patients/new", data={"name": "张三", "gender": "M", "region_id": HUGE})
    assert response.status_code in (200, 400)
    assert "Choose a value from the list" in response.get_data(as_text=True) or \
        "请从列表中选择" in response.get_data(as_text=True)


def test_a_number_read_by_hand_is_a_400_on_every_database(app, everything):
    # The referrer form reads its staff member by hand: SQLite's driver refuses the number (the
    # core's last line of defence answers), PostgreSQL finds no such user.
    response = everything.post("/patients/settings/referrers", data={"name": "李四", "user_id": HUGE})
    assert response.status_code == 400


@pytest.mark.fresh_app  # adds a route to its app
def test_a_number_the_database_refuses_is_a_400_naming_the_limit(app):
    def store_a_huge_number():  # what a plugin's view does when it trusts int(request.form[...])
        db.session.execute(sa.select(sa.cast(sa.bindparam("n", 10**30), sa.Integer))).all()
        return "stored"

    def divide_by_nothing():
        raise OverflowError("math range error")  # not the database: still a bug, still a 500

    app.add_url_rule("/huge-number", view_func=store_a_huge_number)
    app.add_url_rule("/overflow", view_func=divide_by_nothing)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    response = client.get("/huge-number")
    assert response.status_code == 400
    assert "2147483647" in response.get_data(as_text=True)
    assert client.get("/overflow").status_code == 500
