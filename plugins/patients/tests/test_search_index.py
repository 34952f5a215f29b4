"""The name index answers name searches (and their counts) alone, so it must follow every patient
it lists: name, owner, department, registration time, merges; through the services, the bulk
upserts and the migration that introduced it."""
from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command

from core import migrations_support
from core.extensions import db
from core.models import Department, Hospital
from core.paging import count_rows
from core.tenancy import Scope, hospital_scope, use_scope
from core.testing import PASSWORD, api_token, fresh_database, make_app, make_department, make_user
from plugins.patients import bulk, merge_services, services
from plugins.patients.models import Patient, SearchKey

PREVIOUS = "3486c3721108"  # patients_0003: before the index carried scope and names


def keys(patient_id) -> dict[str, tuple]:
    rows = db.session.execute(sa.select(SearchKey).where(SearchKey.patient_id == patient_id)).scalars()
    return {k.key: (k.hospital_id, k.owner_id, k.department_id, k.created_at) for k in rows}


def listed(query: services.PatientQuery) -> list[str]:
    return [p.name for p in db.session.execute(services.search(query)).scalars()]


def counted(query: services.PatientQuery) -> int:
    """The count the list shows: of the cheaper statement when there is one, else of the list."""
    cheaper = services.counted(query)
    return count_rows(services.search(query) if cheaper is None else cheaper)[0]


@pytest.fixture
def staff(app, clinic):
    """Hospital A with two staff members of the orthopaedics department and one of surgery."""
    with app.app_context():
        with hospital_scope(clinic["a"]):
            hospital = db.session.get(Hospital, clinic["a"])
            ortho = db.session.get(Department, clinic["ortho"])
        surgery = make_department(hospital, "SURG", "外科")
        users = {name: make_user(hospital, username, ("staff",), department=department).id
                 for name, username, department in (("own", "own_staff", ortho), ("other", "other_staff", ortho),
                                                    ("surgeon", "surgeon", surgery))}
        return {**clinic, "surg": surgery.id, **users}


def test_a_new_patient_is_indexed_by_its_name_and_pinyin_with_its_scope(app, staff):
    with app.test_request_context(), hospital_scope(staff["a"]):
        patient = services.create_patient({"name": "张 三", "owner_id": staff["own"], "department_id": staff["ortho"]})
        found = keys(patient.id)
        assert set(found) == {"张三", "zhangsan", "zs"}
        assert set(found.values()) == {(staff["a"], staff["own"], staff["ortho"], patient.created_at)}


def test_renaming_moving_reassigning_and_merging_rewrite_the_keys(app, staff):
    with app.test_request_context(), hospital_scope(staff["a"]):
        patient = services.create_patient({"name": "张三", "owner_id": staff["own"], "department_id": staff["ortho"]})
        services.update_patient(patient, {"name": "曾乐"})
        assert {"曾乐", "zengle", "cengle", "zl", "cl"} <= set(keys(patient.id))
        assert not {"张三", "zs", "zhangsan"} & set(keys(patient.id))
        services.update_patient(patient, {"owner_id": staff["surgeon"], "department_id": staff["surg"]})
        assert {v[1:3] for v in keys(patient.id).values()} == {(staff["surgeon"], staff["surg"])}
        patient.created_at = datetime(2020, 5, 1, 8, 0)  # a registration date corrected by hand
        db.session.commit()
        assert {v[3] for v in keys(patient.id).values()} == {datetime(2020, 5, 1, 8, 0)}
        twin = services.create_patient({"name": "曾乐"}, allow_duplicate=True)
        merge_services.merge_patients(db.session.get(Patient, twin.id), db.session.get(Patient, patient.id))
        assert keys(twin.id) == {}  # a merged record leaves the search
        assert listed(services.PatientQuery(q="zl")) == ["曾乐"] and counted(services.PatientQuery(q="zl")) == 1


def test_names_and_pinyin_are_found_by_prefix_through_the_index(app, staff):
    with app.test_request_context(), hospital_scope(staff["a"]):
        for name in ("张三", "张三丰", "章伞", "阿依古丽·买买提", "Tom Lee"):
            services.create_patient({"name": name}, allow_duplicate=True)
        query = services.PatientQuery
        assert sorted(listed(query(q="张三"))) == ["张三", "张三丰"]
        assert sorted(listed(query(q="张"))) == ["张三", "张三丰"]
        assert sorted(listed(query(q="zs"))) == ["张三", "张三丰", "章伞"]
        assert listed(query(q="阿依古丽·买")) == ["阿依古丽·买买提"]  # separators typed or not
        assert listed(query(q="阿依古丽买")) == ["阿依古丽·买买提"]
        assert listed(query(q="tom l")) == ["Tom Lee"]
        assert listed(query(q="·")) == [] and listed(query(q="_")) == []


def test_newest_first_order_and_the_count_come_from_the_index(app, staff):
    with app.test_request_context(), hospital_scope(staff["a"]):
        for day, name in ((3, "张一"), (1, "张二"), (2, "张三")):
            patient = services.create_patient({"name": name, "department_id": staff["ortho"]})
            patient.created_at = datetime(2026, 1, day)
        services.create_patient({"name": "张四", "department_id": staff["surg"]}).created_at = datetime(2025, 1, 1)
        db.session.commit()
        query = services.PatientQuery
        assert listed(query(q="zhang")) == ["张一", "张三", "张二", "张四"]
        assert listed(query(q="zhang", descending=False)) == ["张四", "张二", "张三", "张一"]
        assert listed(query(q="zhang", sort="name", descending=False)) == ["张一", "张三", "张二", "张四"]
        assert listed(query(q="zhang", department_id=staff["ortho"])) == ["张一", "张三", "张二"]
        assert counted(query(q="zhang")) == 4 and counted(query(q="zhang", department_id=staff["ortho"])) == 3
        # other filters are counted on the list itself
        assert counted(query(q="zhang", key_patient=True)) == 0


def test_the_data_scope_applies_to_the_index_as_to_the_patients(app, staff):
    with app.test_request_context():
        with hospital_scope(staff["a"]):
            services.create_patient({"name": "张一", "owner_id": staff["own"], "department_id": staff["ortho"]})
            services.create_patient({"name": "张二", "owner_id": staff["other"], "department_id": staff["ortho"]})
            services.create_patient({"name": "张三", "owner_id": staff["surgeon"], "department_id": staff["surg"]})
        with hospital_scope(staff["b"]):
            services.create_patient({"name": "张四"})
        a = frozenset({staff["a"]})
        own = Scope(staff["a"], a, "own", staff["own"])
        department = Scope(staff["a"], a, "department", staff["own"], frozenset({staff["ortho"]}))
        for scope, expected in ((own, ["张一"]), (department, ["张一", "张二"]),
                                (Scope(staff["a"], a, "hospital"), ["张一", "张二", "张三"])):
            with use_scope(scope):
                query = services.PatientQuery(q="zhang")
                assert sorted(listed(query)) == sorted(expected)
                assert counted(query) == len(expected)


def test_the_api_lists_and_counts_a_staff_members_own_patients_only(app, client, staff):
    with app.test_request_context(), hospital_scope(staff["a"]):
        for i in range(25):
            services.create_patient({"name": f"张{i:02d}", "owner_id": staff["own"] if i % 2 else staff["other"]},
                                    allow_duplicate=True)
    headers = api_token(client, "own_staff", PASSWORD)
    page = client.get("/api/v1/patients", query_string={"q": "zhang", "per_page": 5}, headers=headers).get_json()
    assert (page["total"], page["total_exact"], len(page["items"])) == (12, True, 5)
    assert page["items"][0]["name"] == "张23"  # newest first
    last = client.get("/api/v1/patients", query_string={"q": "zhang", "per_page": 5, "page": 3},
                      headers=headers).get_json()
    assert (last["total"], [p["name"] for p in last["items"]]) == (12, ["张03", "张01"])
    other = api_token(client, "b_admin", PASSWORD)
    assert client.get("/api/v1/patients", query_string={"q": "zhang"}, headers=other).get_json()["total"] == 0


def test_bulk_upserts_index_new_patients_and_follow_department_moves(app, staff):
    columns = ["external_id", "name", "department_id"]
    with app.app_context(), hospital_scope(staff["a"]):
        bulk.upsert_patients(staff["a"], columns, [("P1", "张三", staff["ortho"]), ("P2", "李四", None)])
        db.session.commit()
        p1 = db.session.execute(sa.select(Patient).where(Patient.external_id == "P1")).scalar_one()
        assert {v[2] for v in keys(p1.id).values()} == {staff["ortho"]} and "张三" in keys(p1.id)
        bulk.upsert_patients(staff["a"], columns, [("P1", "张三", staff["surg"]), ("P2", "李四", None)])
        db.session.commit()
        assert {v[2] for v in keys(p1.id).values()} == {staff["surg"]}
        assert counted(services.PatientQuery(q="zs", department_id=staff["surg"])) == 1


def test_the_migration_copies_the_scope_adds_names_and_drops_merged_patients(tmp_path):
    with fresh_database(tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            config = migrations_support.alembic_config()
            command.upgrade(config, f"patients@{PREVIOUS}")
            with db.engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO core_hospital (id, code, name, active, created_at) "
                                     "VALUES (1, 'A', '甲', true, '2026-01-01')"))
                conn.execute(sa.text(
                    "INSERT INTO patients_patient (id, hospital_id, name, gender, key_patient, department_id, "
                    "merged_into_id, created_at, updated_at) VALUES "
                    "(1, 1, '张 三', 'U', false, NULL, NULL, '2026-02-03 04:05:06', '2026-02-03'), "
                    "(2, 1, '张三', 'U', false, NULL, 1, '2026-02-04', '2026-02-04'), "
                    "(3, 1, 'Tom', 'U', false, NULL, NULL, '2026-02-05', '2026-02-05')"))
                conn.execute(sa.text("INSERT INTO patients_search_key (hospital_id, patient_id, key) VALUES "
                                     "(1, 1, 'zhangsan'), (1, 1, 'zs'), (1, 2, 'zs'), (1, 3, 'tom'), (1, 3, 't')"))
            migrations_support.upgrade()
            with db.engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT patient_id, key, created_at FROM patients_search_key "
                                            "ORDER BY patient_id, key")).all()
            db.engine.dispose()
    assert [(r[0], r[1]) for r in rows] == [(1, "zhangsan"), (1, "zs"), (1, "张三"), (3, "t"), (3, "tom")]
    assert str(rows[0][2]).startswith("2026-02-03 04:05:06")
