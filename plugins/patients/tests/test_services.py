"""Patient services: validation, duplicates, search by pinyin and phone, visits and their event."""
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from flask import session

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.patients import services
from plugins.patients.identity import mask_id_number, mask_phone, pinyin_keys
from plugins.patients.models import Patient, SearchKey
from plugins.patients.tests.conftest import id_number


def in_hospital(app, hospital_id):
    ctx = app.test_request_context()
    ctx.push()
    session["locale"] = "en"  # the assertions read the English messages (the default language is Chinese)
    scope = hospital_scope(hospital_id)
    scope.__enter__()
    return ctx, scope


@pytest.fixture
def a(app, clinic):
    ctx, scope = in_hospital(app, clinic["a"])
    yield clinic
    db.session.rollback()
    scope.__exit__(None, None, None)
    ctx.pop()


def names(stmt):
    return [p.name for p in db.session.execute(stmt).scalars()]


def test_id_number_fills_birth_date_and_gender(a):
    patient = services.create_patient({"name": "张三", "id_number": id_number("19900307", "123").lower()})
    assert patient.id_number.endswith(patient.id_number[-1].upper())
    assert (patient.birth_date, patient.gender) == (date(1990, 3, 7), "M")


@pytest.mark.parametrize("data, field, message", [
    ({"name": "张三", "id_number": id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")}, "id_number",
     "check digit"),
    ({"name": "张三", "id_number": "43062119900307"}, "id_number", "18 characters"),
    ({"name": "张三", "id_number": id_number("19900307", "123"), "birth_date": "1991-01-01"}, "birth_date", "differs"),
    ({"name": "张三", "id_number": id_number("19900307", "123"), "gender": "F"}, "gender", "differs"),
    ({"name": "张三", "birth_date": "2090-01-01"}, "birth_date", "future"),
    ({"name": "张三", "birth_date": "1990-02-30"}, "birth_date", "real date"),
    ({"name": "张三", "phone": "12345"}, "phone", "not a mobile number"),
    ({"name": ""}, "name", "Enter the patient's name"),
    ({"name": "张三", "department_id": 999999}, "department_id", "does not exist"),
    ({"name": "张三", "gender": "X"}, "gender", "Gender is"),
])
def test_bad_input_is_refused_field_by_field_and_nothing_written(a, data, field, message):
    with pytest.raises(services.PatientInvalid) as caught:
        services.create_patient(data)
    assert message in caught.value.errors[field]
    db.session.rollback()
    assert db.session.execute(sa.select(sa.func.count()).select_from(Patient)).scalar_one() == 0


def test_impossible_birth_date_inside_a_valid_checksum(a):
    first17 = "43062119900230123"  # 30 February
    from plugins.patients.tests.conftest import check_digit
    with pytest.raises(services.PatientInvalid) as caught:
        services.create_patient({"name": "张三", "id_number": first17 + check_digit(first17)})
    assert "impossible birth date" in caught.value.errors["id_number"]


def test_department_of_another_hospital_is_unknown(app, clinic):
    from core.models import Department
    with app.app_context(), hospital_scope(clinic["b"]):
        b_ortho = db.session.execute(sa.select(Department.id)).scalar_one()
    ctx, scope = in_hospital(app, clinic["a"])
    try:
        with pytest.raises(services.PatientInvalid) as caught:
            services.create_patient({"name": "张三", "department_id": b_ortho})
        assert "does not exist" in caught.value.errors["department_id"]
    finally:
        db.session.rollback()
        scope.__exit__(None, None, None)
        ctx.pop()


def test_duplicates_warn_on_id_number_or_name_and_phone(a):
    first = services.create_patient({"name": "李四", "phone": "13812345678", "id_number": id_number("19800101", "222")})
    with pytest.raises(services.PossibleDuplicate) as same_id:
        services.create_patient({"name": "李四四", "id_number": id_number("19800101", "222")})
    assert [p.id for p in same_id.value.matches] == [first.id]
    with pytest.raises(services.PossibleDuplicate):
        services.create_patient({"name": "李四", "phone": "138 1234 5678"})
    db.session.rollback()
    again = services.create_patient({"name": "李四", "phone": "13812345678"}, allow_duplicate=True)
    assert again.id != first.id


def test_one_search_box_finds_by_pinyin_phone_and_numbers(a):
    services.create_patient({"name": "张三", "phone": "13812345678", "insurance_no": "HN0001"})
    services.create_patient({"name": "曾乐", "phone": "0730-8765432", "id_number": id_number("19700101", "333")})
    services.create_patient({"name": "王五", "phone": "13900005678"})
    query = services.PatientQuery
    assert names(services.search(query(q="zs"))) == ["张三"]
    assert names(services.search(query(q="ZhangS"))) == ["张三"]
    assert names(services.search(query(q="zl"))) == ["曾乐"]    # 曾 read zeng
    assert names(services.search(query(q="cengle"))) == ["曾乐"]  # and ceng
    assert sorted(names(services.search(query(q="5678")))) == ["张三", "王五"]
    assert names(services.search(query(q="138 1234 5678"))) == ["张三"]
    assert names(services.search(query(q=id_number("19700101", "333")))) == ["曾乐"]
    assert names(services.search(query(q="0730-8765432"))) == ["曾乐"]
    assert names(services.search(query(q="HN0001"))) == ["张三"]
    assert names(services.search(query(q="张"))) == ["张三"]
    assert names(services.search(query(q="%"))) == []
    assert names(services.search(query(q="zs_"))) == []


def test_search_never_crosses_hospitals(app, clinic):
    ctx, scope = in_hospital(app, clinic["b"])
    try:
        services.create_patient({"name": "张三", "phone": "13812345678"})
    finally:
        scope.__exit__(None, None, None)
        ctx.pop()
    ctx, scope = in_hospital(app, clinic["a"])
    try:
        assert names(services.search(services.PatientQuery(q="zs"))) == []
        assert names(services.search(services.PatientQuery(q="5678"))) == []
        assert services.by_phone("13812345678") == []
        assert db.session.execute(sa.select(sa.func.count()).select_from(SearchKey)).scalar_one() == 0
    finally:
        scope.__exit__(None, None, None)
        ctx.pop()


def test_renaming_reindexes_pinyin(a):
    patient = services.create_patient({"name": "张三"})
    services.update_patient(patient, {"name": "李四"})
    assert names(services.search(services.PatientQuery(q="zs"))) == []
    assert names(services.search(services.PatientQuery(q="ls"))) == ["李四"]


LISTENER = """
import sqlalchemy as sa
from core import hookimpl
from core.extensions import db
from plugins.patients.models import Visit

RECEIVED = []


@hookimpl
def patients_visits_recorded(hospital_id, visit_ids):
    for visit in db.session.execute(sa.select(Visit).where(Visit.id.in_(visit_ids))).scalars():
        RECEIVED.append((hospital_id, visit.patient.name, [d.code for d in visit.diagnoses]))
"""


def test_visit_event_reaches_live_listeners_of_that_hospital_only(app, clinic, tmp_path, monkeypatch):
    from core import activation
    from core.models import Hospital
    from core.tenancy import system_scope
    from core.testing import finder_with, make_app, write_plugin
    pkg = write_plugin(tmp_path, "listener", LISTENER, depends=["patients"],
                       package=f"visit_listener_{tmp_path.name[-10:].replace('-', '_')}")
    monkeypatch.syspath_prepend(str(tmp_path))
    listening = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))
    module = listening.extensions["hcrm"].registry.pm.get_plugin("listener")
    with listening.app_context(), system_scope():
        activation.switch(db.session.get(Hospital, clinic["a"]), "listener", True)
    for hospital_id in (clinic["a"], clinic["b"]):
        with listening.test_request_context(), hospital_scope(hospital_id):
            patient = services.create_patient({"name": "赵六"})
            visit = services.record_visit(patient, {
                "kind": "inpatient", "visit_at": "2026-05-01T08:00", "discharge_at": "2026-05-08T10:00",
                "diagnoses": ["m51.2", "I10"], "spending": "12345.60"})
            assert [d.name for d in visit.diagnoses] == ["腰椎间盘突出", "特发性(原发性)高血压"]
            assert str(visit.spending) == "12345.60"
    assert [(clinic["a"], "赵六", ["M51.2", "I10"])] == module.RECEIVED


@pytest.mark.parametrize("data, field", [
    ({"visit_at": "2026-05-01T08:00", "discharge_at": "2026-04-30T08:00"}, "discharge_at"),
    ({"visit_at": "not a date"}, "visit_at"),
    ({}, "visit_at"),
    ({"visit_at": "2026-05-01T08:00", "kind": "dental"}, "kind"),
    ({"visit_at": "2026-05-01T08:00", "diagnoses": ["ZZZ.9"]}, "diagnoses"),
    ({"visit_at": "2026-05-01T08:00", "spending": "-3"}, "spending"),
    ({"visit_at": "2026-05-01T08:00", "spending": "lots"}, "spending"),
])
def test_bad_visits_are_refused(a, data, field):
    patient = services.create_patient({"name": "钱七"})
    with pytest.raises(services.PatientInvalid) as caught:
        services.record_visit(patient, data)
    assert field in caught.value.errors


def test_masks_and_keys():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_id_number("420102199001011234") == "4201**********1234"
    assert {"zhangsan", "zs"} <= pinyin_keys("张 三")
    assert pinyin_keys("") == set()


@pytest.mark.parametrize(("name", "keys"), [
    ("曾乐", {"cengle", "cengyue", "zengle", "zengyue", "cl", "cy", "zl", "zy"}),  # every reading of each
    ("重庆", {"zhongqing", "chongqing", "tongqing", "zq", "cq", "tq"}),  # a place-like name: no phrase picks one
    ("阿依古丽·买买提", {"ayigulimaimaiti", "ayglmmt"}),
    ("Tom张三", {"tomzhangsan", "tzs"}),  # a Latin run is one part: its initial is its first letter
    ("张3丰", {"zhang3feng", "z3f"}),
])
def test_pinyin_keys_of_polyphonic_and_mixed_names(name, keys):
    assert keys <= pinyin_keys(name)


def test_delete_refused_when_visits_exist(a):
    patient = services.create_patient({"name": "孙八"})
    services.record_visit(patient, {"visit_at": datetime(2026, 1, 2, 9, 0)})
    with pytest.raises(services.PatientInvalid, match="clinical records are kept"):
        services.delete_patient(patient)


def test_phones_are_stored_in_one_form_and_found_however_typed(a):
    services.create_patient({"name": "周九", "phone": "0730 876 5432", "phone2": "138-1234-5678"})
    assert names(services.search(services.PatientQuery(q="07308765432"))) == ["周九"]
    assert names(services.search(services.PatientQuery(q="0730-8765432"))) == ["周九"]
    assert [p.name for p in services.by_phone("+86 138 1234 5678")] == ["周九"]
    assert [p.name for p in services.by_phone("(0730)8765432")] == ["周九"]


def test_visits_belong_to_the_patients_owner_so_own_scope_staff_see_them(app, clinic):
    from core.models import User
    from core.tenancy import Scope, system_scope, use_scope
    from plugins.patients.models import Visit
    with app.app_context(), system_scope():
        staff_id = db.session.execute(sa.select(User.id).where(User.username == "a_staff")).scalar_one()
        director_id = db.session.execute(sa.select(User.id).where(User.username == "a_director")).scalar_one()
    with app.test_request_context(), use_scope(Scope(hospital_id=clinic["a"], hospital_ids=frozenset({clinic["a"]}),
                                                     level="hospital", user_id=director_id)):
        patient = services.create_patient({"name": "吴十", "owner_id": staff_id})
        services.record_visit(patient, {"visit_at": "2026-03-01T09:00"})  # recorded by the director
    own = Scope(hospital_id=clinic["a"], hospital_ids=frozenset({clinic["a"]}), level="own", user_id=staff_id)
    with app.test_request_context(), use_scope(own):
        assert len(db.session.execute(sa.select(Visit)).scalars().all()) == 1


def test_deactivated_codes_are_refused_for_new_visits(a):
    from plugins.patients.models import Disease
    db.session.execute(sa.update(Disease).where(Disease.code == "I10").values(active=False))
    patient = services.create_patient({"name": "冯十一"})
    with pytest.raises(services.PatientInvalid) as caught:
        services.record_visit(patient, {"visit_at": "2026-03-01T09:00", "diagnoses": ["I10"]})
    assert "deactivated" in caught.value.errors["diagnoses"]
