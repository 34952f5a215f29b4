"""The settings pages: the disease catalogue and its CSV import, sources, regions, referrers."""
import io

import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import login
from plugins.patients import services
from plugins.patients.models import Disease, Patient, Referrer, Region, Source


def browser(app, username):
    client = app.test_client()
    login(client, username)
    client.post("/language", data={"locale": "en"})
    return client


def text(response) -> str:
    return response.get_data(as_text=True)


def rows(app, hospital_id, stmt):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(stmt).all()


def disease(app, hospital_id, code):
    with app.app_context(), hospital_scope(hospital_id):
        return db.session.execute(sa.select(Disease).where(Disease.code == code)).scalar_one_or_none()


def upload(client, content: bytes, name="diseases.csv"):
    return client.post("/patients/diseases/import", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


# -- the disease catalogue ----------------------------------------------------------------------
def test_catalogue_lists_searches_and_staff_may_only_read(app, clinic):
    staff = browser(app, "a_staff")
    page = text(staff.get("/patients/diseases", query_string={"q": "M51"}))
    assert "M51.2" in page and "腰椎间盘突出" in page and "I10" not in page
    assert "高血压" in text(staff.get("/patients/diseases", query_string={"q": "高血压"}))
    assert "Add a hospital entry" not in page
    assert staff.post("/patients/diseases/new", data={"code": "H-001", "name": "x"}).status_code == 403
    assert staff.get("/patients/diseases/import").status_code == 403
    assert staff.get("/patients/diseases", query_string={"page": "-1"}).status_code == 400


def test_add_edit_and_deactivate_a_hospital_entry(app, clinic):
    client = browser(app, "a_admin")
    response = client.post("/patients/diseases/new", data={"code": "h-001", "name": "颈肩综合征"})
    assert response.status_code == 302
    entry = disease(app, clinic["a"], "H-001")
    assert entry.custom and entry.active and entry.name == "颈肩综合征"
    assert disease(app, clinic["b"], "H-001") is None

    for data, message in (({"code": "H-001", "name": "again"}, "already in the catalogue"),
                          ({"code": "bad code!", "name": "x"}, "is not a disease code"),
                          ({"code": "X", "name": "x"}, "is not a disease code"),
                          ({"code": "H-002", "name": ""}, "Enter a name")):
        response = client.post("/patients/diseases/new", data=data)
        assert response.status_code == 400 and message in text(response), data

    assert client.post(f"/patients/diseases/{entry.id}/edit", data={"name": "颈肩综合征(院内)"}).status_code == 302
    assert disease(app, clinic["a"], "H-001").name == "颈肩综合征(院内)"
    shipped = disease(app, clinic["a"], "I10")
    response = client.post(f"/patients/diseases/{shipped.id}/edit", data={"name": "renamed"})
    assert response.status_code == 400 and "keep their name" in text(response)

    assert client.post(f"/patients/diseases/{entry.id}/active", data={"active": "0"}).status_code == 302
    assert not disease(app, clinic["a"], "H-001").active
    cell = '<td class="font-monospace text-nowrap">H-001</td>'
    assert cell not in text(client.get("/patients/diseases", query_string={"q": "H-"}))
    assert cell in text(client.get("/patients/diseases", query_string={"q": "H-", "show": "all"}))


def test_csv_import_adds_codes_usable_for_visits(app, clinic):
    client = browser(app, "a_admin")
    content = "\ufeffcode,name\nH-101,颈肩综合征\nh-102 , 产后康复\n\nI10,高血压病\n".encode()
    response = upload(client, content)
    assert response.status_code == 302
    assert "2 added, 1 updated, 0 unchanged" in text(client.get(response.headers["Location"]))
    assert disease(app, clinic["a"], "H-102").name == "产后康复"
    assert disease(app, clinic["a"], "I10").name == "高血压病"
    with app.test_request_context(), hospital_scope(clinic["a"]):
        patient = services.create_patient({"name": "张三"})
        visit = services.record_visit(patient, {"visit_at": "2026-01-02T09:00", "diagnoses": ["H-101"]})
        assert visit.diagnoses[0].name == "颈肩综合征"


def test_csv_with_bad_rows_writes_nothing_and_lists_every_problem(app, clinic):
    client = browser(app, "a_admin")
    before = rows(app, clinic["a"], sa.select(sa.func.count()).select_from(Disease))
    content = "code,name\nH-201,好的\n不是编码,坏的\nH-202,\nH-201,重复\nH-203,也好\n".encode()
    response = upload(client, content)
    assert response.status_code == 400
    page = text(response)
    assert "nothing was written" in page
    assert "Line 3" in page and "is not a disease code" in page
    assert "Line 4" in page and "the name is empty" in page
    assert "Line 5" in page and "appears twice in the file (line 2)" in page
    assert "Line 2:" not in page and "Line 6" not in page
    assert rows(app, clinic["a"], sa.select(sa.func.count()).select_from(Disease)) == before
    assert disease(app, clinic["a"], "H-201") is None


def test_gbk_csv_from_excel_is_understood(app, clinic):
    client = browser(app, "a_admin")
    response = upload(client, "编码,名称\r\nH-301,颈椎病(院内)\r\n".encode("gbk"))
    assert response.status_code == 302
    assert disease(app, clinic["a"], "H-301").name == "颈椎病(院内)"


def test_garbage_missing_header_and_too_large_files_are_refused_clearly(app, clinic):
    client = browser(app, "a_admin")
    cases = [
        (bytes(range(256)) * 40, 400, "not a text (CSV) file"),
        (b"\xff\xfe\x80\x81garbage\x80", 400, "neither UTF-8 nor GBK"),
        ("H-401,没有表头\n".encode(), 400, "must be a header"),
        (b"", 400, "The file is empty"),
        (b"code,name\n", 400, "no diseases"),
        (b"code,name\n" + b"H-999,x\n" * 300_000, 413, "larger than 2 MB"),
    ]
    for content, status, message in cases:
        response = upload(client, content)
        assert response.status_code == status, message
        assert message in text(response)
    response = client.post("/patients/diseases/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a CSV file" in text(response)
    assert disease(app, clinic["a"], "H-401") is None and disease(app, clinic["a"], "H-999") is None


# -- sources, regions, referrers ----------------------------------------------------------------
def test_sources_add_rename_order_and_deactivate(app, clinic):
    client = browser(app, "a_admin")
    assert client.post("/patients/settings/sources", data={"name": "抖音", "code": ""}).status_code == 302
    douyin = rows(app, clinic["a"], sa.select(Source.id, Source.code).where(Source.name == "抖音"))[0]
    assert douyin.code == "douyin"
    for data, message in (({"name": "抖音"}, "exists already"), ({"name": ""}, "Enter a name"),
                          ({"name": "微信", "code": "Bad Code"}, "lowercase letters")):
        response = client.post("/patients/settings/sources", data=data)
        assert response.status_code == 400 and message in text(response), data

    assert client.post(f"/patients/settings/sources/{douyin.id}", data={"name": "抖音直播"}).status_code == 302
    response = client.post(f"/patients/settings/sources/{douyin.id}", data={"name": "网络"})
    assert response.status_code == 400 and "exists already" in text(response)

    def order():
        return [r.name for r in rows(app, clinic["a"], sa.select(Source.name).order_by(Source.position, Source.id))]

    assert order()[-1] == "抖音直播"
    client.post(f"/patients/settings/sources/{douyin.id}/move", data={"step": "up"})
    assert order()[-2] == "抖音直播"
    client.post(f"/patients/settings/sources/{douyin.id}/active", data={"active": "0"})
    assert rows(app, clinic["a"], sa.select(Source.active).where(Source.id == douyin.id))[0].active is False
    assert ">抖音直播</option>" not in text(client.get("/patients/new"))


def test_regions_are_counties_and_their_streets(app, clinic):
    client = browser(app, "a_admin")
    assert client.post("/patients/settings/regions", data={"name": "芙蓉区", "parent_id": ""}).status_code == 302
    county = rows(app, clinic["a"], sa.select(Region.id).where(Region.name == "芙蓉区"))[0].id
    assert client.post("/patients/settings/regions", data={"name": "五里牌街道", "parent_id": str(county)}).status_code == 302
    street = rows(app, clinic["a"], sa.select(Region.id).where(Region.name == "五里牌街道"))[0].id
    response = client.post("/patients/settings/regions", data={"name": "小区", "parent_id": str(street)})
    assert response.status_code == 400 and "under a county" in text(response)
    response = client.post("/patients/settings/regions", data={"name": "五里牌街道", "parent_id": str(county)})
    assert response.status_code == 400 and "exists already" in text(response)
    assert ">芙蓉区 / 五里牌街道</option>" in text(client.get("/patients/new"))
    assert client.post(f"/patients/settings/regions/{street}", data={"name": "定王台街道"}).status_code == 302
    assert client.post(f"/patients/settings/regions/{street}/active", data={"active": "0"}).status_code == 302
    assert ">芙蓉区 / 定王台街道</option>" not in text(client.get("/patients/new"))
    assert "定王台街道" in text(client.get("/patients/settings/regions"))


def test_referrers_with_validated_phone_and_staff_link(app, clinic):
    client = browser(app, "a_admin")
    response = client.post("/patients/settings/referrers", data={"name": "李经理", "phone": "12345"})
    assert response.status_code == 400 and "is not a mobile number" in text(response)
    response = client.post("/patients/settings/referrers", data={"name": "", "user_id": "999999"})
    assert response.status_code == 400 and "Enter a name" in text(response) and "Unknown staff member" in text(response)
    assert rows(app, clinic["a"], sa.select(sa.func.count()).select_from(Referrer))[0][0] == 0
    assert client.post("/patients/settings/referrers", data={"name": "李经理", "phone": "139 0000 1111"}).status_code == 302
    referrer = rows(app, clinic["a"], sa.select(Referrer.id, Referrer.phone))[0]
    assert referrer.phone == "13900001111"
    assert client.get(f"/patients/settings/referrers/{referrer.id}").status_code == 200
    assert client.post(f"/patients/settings/referrers/{referrer.id}",
                       data={"name": "李经理(外联)", "phone": "", "notes": "社区合作"}).status_code == 302
    assert ">李经理(外联)</option>" in text(client.get("/patients/new"))
    client.post(f"/patients/settings/referrers/{referrer.id}/active", data={"active": "0"})
    assert ">李经理(外联)</option>" not in text(client.get("/patients/new"))


def test_settings_of_another_hospital_are_404_and_staff_get_403(app, clinic):
    b = browser(app, "b_admin")
    b.post("/patients/settings/referrers", data={"name": "乙院介绍人"})
    b.post("/patients/diseases/new", data={"code": "B-001", "name": "乙院病种"})
    b.post("/patients/settings/regions", data={"name": "乙县"})
    referrer = rows(app, clinic["b"], sa.select(Referrer.id))[0].id
    entry = disease(app, clinic["b"], "B-001").id
    region = rows(app, clinic["b"], sa.select(Region.id))[0].id
    source = rows(app, clinic["b"], sa.select(Source.id))[0].id
    client = browser(app, "a_admin")
    assert client.get(f"/patients/settings/referrers/{referrer}").status_code == 404
    assert client.get(f"/patients/diseases/{entry}/edit").status_code == 404
    for url in (f"/patients/settings/referrers/{referrer}/active", f"/patients/diseases/{entry}/active",
                f"/patients/settings/regions/{region}", f"/patients/settings/sources/{source}/move"):
        assert client.post(url, data={"name": "x", "active": "0"}).status_code == 404, url
    assert "乙院" not in text(client.get("/patients/settings/referrers"))
    staff = browser(app, "a_staff")
    for url in ("/patients/settings/sources", "/patients/settings/regions", "/patients/settings/referrers"):
        assert staff.get(url).status_code == 403
        assert staff.post(url, data={"name": "x"}).status_code == 403
    assert rows(app, clinic["a"], sa.select(sa.func.count()).select_from(Patient))[0][0] == 0
