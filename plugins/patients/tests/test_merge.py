"""Merging duplicate patients: what moves, the event other plugins get, refusals, isolation."""
from datetime import datetime

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.models import AuditLog
from core.tenancy import hospital_scope
from core.testing import login, make_department, make_user
from plugins.patients import merge_services, services
from plugins.patients.models import HealthRecord, Patient, Visit
from plugins.patients.tests.conftest import id_number

LISTENER = """
from core import hookimpl

RECEIVED = []


@hookimpl
def patients_patient_merged(source, target):
    RECEIVED.append((source.id, target.id, source.hospital_id))
"""


def create(app, hospital_id, data, visits=(), record=None):
    """A patient (with visits and a health record) created through the services; returns its id."""
    with app.test_request_context(), hospital_scope(hospital_id):
        patient = services.create_patient(data, allow_duplicate=True)
        for visit in visits:
            services.record_visit(patient, visit)
        if record:
            services.save_health_record(patient, record)
        return patient.id


def load(app, hospital_id, patient_id):
    """(patient, visit count, health record or None, tag names) read back from the database."""
    with app.app_context(), hospital_scope(hospital_id):
        patient = db.session.execute(sa.select(Patient).where(Patient.id == patient_id)).scalar_one()
        visits = db.session.execute(sa.select(sa.func.count()).select_from(Visit)
                                    .where(Visit.patient_id == patient_id)).scalar_one()
        record = db.session.execute(sa.select(HealthRecord).where(HealthRecord.patient_id == patient_id)).scalar_one_or_none()
        tags = sorted(t.name for t in patient.tags)
        db.session.expunge_all()
        return patient, visits, record, tags


def merge_audits(app):
    from core.tenancy import system_scope
    with app.app_context(), system_scope():
        rows = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "merge")).scalars().all()
        db.session.expunge_all()
        return rows


def english(client, username):
    login(client, username)
    client.post("/language", data={"locale": "en"})
    return client


@pytest.fixture
def pair(app, clinic):
    """Two records of the same woman in A: a duplicate (source) and the record to keep (target)."""
    source = create(app, clinic["a"], {"name": "王芳", "phone": "13812345678", "gender": "F", "tags": ["高血压", "术后"],
                                       "occupation": "教师", "department_id": clinic["ortho"]},
                    visits=[{"visit_at": "2026-01-05T09:00", "spending": "120"},
                            {"visit_at": "2026-02-05T09:00", "kind": "emergency"}],
                    record={"allergies": "青霉素过敏", "smoking": "不吸烟"})
    target = create(app, clinic["a"], {"name": "王芳", "phone": "13987654321", "gender": "F", "tags": ["高血压", "糖尿病"],
                                       "id_number": id_number("19800101", "222"), "department_id": clinic["ortho"]},
                    visits=[{"visit_at": "2026-03-01T10:00"}])
    return {"source": source, "target": target, **clinic}


def test_merge_moves_visits_tags_record_and_tells_live_plugins(app, pair, tmp_path, monkeypatch):
    from core import activation
    from core.models import Hospital
    from core.tenancy import system_scope
    from core.testing import finder_with, make_app, write_plugin
    pkg = write_plugin(tmp_path, "listener", LISTENER, depends=["patients"],
                       package=f"merge_listener_{tmp_path.name[-10:].replace('-', '_')}")
    monkeypatch.syspath_prepend(str(tmp_path))
    listening = make_app(app.config["SQLALCHEMY_DATABASE_URI"], finder=finder_with(pkg))
    module = listening.extensions["hcrm"].registry.pm.get_plugin("listener")
    with listening.app_context(), system_scope():
        activation.switch(db.session.get(Hospital, pair["a"]), "listener", True)
    client = english(listening.test_client(), "a_admin")

    response = client.post("/patients/merge/", data={
        "source": pair["source"], "target": pair["target"], "keep_phone": "source", "keep_occupation": "source"})

    assert response.status_code == 302
    target, visits, record, tags = load(app, pair["a"], pair["target"])
    source, source_visits, source_record, source_tags = load(app, pair["a"], pair["source"])
    assert (visits, source_visits) == (3, 0)
    assert tags == sorted(["高血压", "术后", "糖尿病"]) and source_tags == []
    assert (record.allergies, record.smoking) == ("青霉素过敏", "不吸烟") and source_record is None
    assert (target.phone, target.occupation, target.department_id) == ("13812345678", "教师", pair["ortho"])
    assert target.id_number == id_number("19800101", "222")  # kept: the source had none
    assert source.merged_into_id == target.id
    assert [(pair["source"], pair["target"], pair["a"])] == module.RECEIVED
    with app.test_request_context(), hospital_scope(pair["a"]):
        found = db.session.execute(services.search(services.PatientQuery(q="wf"))).scalars().all()
        assert [p.id for p in found] == [pair["target"]]
        assert [p.id for p in services.by_phone("13812345678")] == [pair["target"]]
        assert merge_services.resolve_merged(db.session.get(Patient, pair["source"])).id == pair["target"]
    [audit] = merge_audits(app)
    assert audit.record_id == str(pair["target"]) and audit.after["visits"] == 2
    assert sorted(audit.after["fields"]) == ["occupation", "phone"]
    # The patient page of the kept record is shown afterwards, with the confirmation.
    follow = client.get(response.headers["Location"])
    assert "was merged into" in follow.get_data(as_text=True)


def test_both_health_records_keep_the_targets_and_append_the_sources(app, pair):
    with app.test_request_context(), hospital_scope(pair["a"]):
        target = db.session.get(Patient, pair["target"])
        services.save_health_record(target, {"allergies": "海鲜过敏", "smoking": "不吸烟"})
        source = db.session.get(Patient, pair["source"])
        merge_services.merge_patients(source, target)
    record = load(app, pair["a"], pair["target"])[2]
    assert record.allergies.startswith("海鲜过敏\n") and record.allergies.endswith(": 青霉素过敏")
    assert f"#{pair['source']}" in record.allergies
    assert record.smoking == "不吸烟"  # the same text is not repeated
    assert load(app, pair["a"], pair["source"])[2].allergies == "青霉素过敏"  # the source's is kept


def hospital(app, hospital_id):
    from core.models import Hospital
    from core.tenancy import system_scope
    with system_scope():
        return db.session.get(Hospital, hospital_id)


def test_merge_moves_visits_outside_the_users_department(app, clinic):
    """A department manager merges: visits recorded in other departments move too."""
    from core.models import Department
    with app.app_context():
        a = hospital(app, clinic["a"])
        im_id = make_department(a, "IM", "内科").id
        with hospital_scope(a):
            ortho = db.session.get(Department, clinic["ortho"])
        make_user(a, "a_manager", ("dept_manager",), department=ortho)
    source = create(app, clinic["a"], {"name": "李雷", "department_id": clinic["ortho"]},
                    visits=[{"visit_at": "2026-01-05T09:00", "department_id": im_id}])
    target = create(app, clinic["a"], {"name": "李雷", "department_id": clinic["ortho"]})
    client = english(app.test_client(), "a_manager")
    response = client.post("/patients/merge/", data={"source": source, "target": target})
    assert response.status_code == 302
    assert load(app, clinic["a"], target)[1] == 1


def test_merging_into_itself_is_refused_and_nothing_written(app, pair, client):
    english(client, "a_admin")
    response = client.post("/patients/merge/", data={"source": pair["source"], "target": pair["source"]})
    assert response.status_code == 400
    assert "cannot be merged into itself" in response.get_data(as_text=True)
    assert load(app, pair["a"], pair["source"])[0].merged_into_id is None
    assert merge_audits(app) == []


def test_already_merged_patients_are_refused(app, pair, client):
    third = create(app, pair["a"], {"name": "王芳"})
    with app.test_request_context(), hospital_scope(pair["a"]):
        merge_services.merge_patients(db.session.get(Patient, pair["source"]), db.session.get(Patient, pair["target"]))
    english(client, "a_admin")
    again = client.post("/patients/merge/", data={"source": pair["source"], "target": third})
    assert again.status_code == 400 and "already merged into patient" in again.get_data(as_text=True)
    into_merged = client.post("/patients/merge/", data={"source": third, "target": pair["source"]})
    assert into_merged.status_code == 400 and "keep that patient instead" in into_merged.get_data(as_text=True)
    assert load(app, pair["a"], third)[0].merged_into_id is None
    assert len(merge_audits(app)) == 1
    # The merged record's page on the merge screen says where it went.
    page = client.get(f"/patients/merge/?source={pair['source']}")
    assert page.status_code == 200 and "was already merged into patient" in page.get_data(as_text=True)


def test_different_id_numbers_need_an_explicit_confirmation(app, pair, client):
    other = create(app, pair["a"], {"name": "王芳", "id_number": id_number("19900307", "124")},
                   visits=[{"visit_at": "2026-01-05T09:00"}])
    english(client, "a_admin")
    page = client.get(f"/patients/merge/?source={other}&target={pair['target']}")
    assert "different ID numbers" in page.get_data(as_text=True)
    refused = client.post("/patients/merge/", data={"source": other, "target": pair["target"]})
    assert refused.status_code == 400 and "different ID numbers" in refused.get_data(as_text=True)
    assert load(app, pair["a"], other)[:2][1] == 1 and load(app, pair["a"], other)[0].merged_into_id is None
    # Confirmed, but taking the source's ID number with the target's birth date: inconsistent, refused.
    clash = client.post("/patients/merge/", data={"source": other, "target": pair["target"], "confirm_different_id": "1",
                                                  "keep_id_number": "source", "keep_birth_date": "target"})
    assert clash.status_code == 400 and "differs from the ID number" in clash.get_data(as_text=True)
    kept, visits, _r, _t = load(app, pair["a"], pair["target"])
    assert (kept.id_number, visits) == (id_number("19800101", "222"), 1)
    assert merge_audits(app) == []
    done = client.post("/patients/merge/", data={"source": other, "target": pair["target"], "confirm_different_id": "1"})
    assert done.status_code == 302
    assert load(app, pair["a"], pair["target"])[1] == 2


def test_bad_choices_are_refused(app, pair):
    # force_locale: the assertion reads the English message (the default language is Chinese).
    with app.test_request_context(), force_locale("en"), hospital_scope(pair["a"]):
        source, target = db.session.get(Patient, pair["source"]), db.session.get(Patient, pair["target"])
        with pytest.raises(merge_services.MergeRefused, match="Unknown choice"):
            merge_services.merge_patients(source, target, {"name": "both", "hospital_id": "source"})
    assert load(app, pair["a"], pair["source"])[0].merged_into_id is None


def test_another_hospitals_patient_is_404_and_nothing_written(app, pair, client):
    b_patient = create(app, pair["b"], {"name": "王芳", "phone": "13812345678"}, visits=[{"visit_at": "2026-01-05T09:00"}])
    login(client, "a_admin")
    assert client.get(f"/patients/merge/?source={b_patient}").status_code == 404
    assert client.get(f"/patients/merge/?source={pair['source']}&target={b_patient}").status_code == 404
    assert client.post("/patients/merge/", data={"source": pair["source"], "target": b_patient}).status_code == 404
    assert client.post("/patients/merge/", data={"source": b_patient, "target": pair["target"]}).status_code == 404
    assert client.post("/patients/merge/", data={"source": "x", "target": pair["target"]}).status_code == 404
    assert load(app, pair["b"], b_patient)[:2][1] == 1
    assert load(app, pair["a"], pair["source"])[0].merged_into_id is None
    # B's duplicate is never offered as a candidate in A.
    page = client.get(f"/patients/merge/?source={pair['source']}&q=13812345678").get_data(as_text=True)
    assert f"target={b_patient}" not in page


def test_permission_is_required(app, pair, client):
    login(client, "a_staff")
    assert client.get(f"/patients/merge/?source={pair['source']}").status_code == 403
    assert client.post("/patients/merge/", data={"source": pair["source"], "target": pair["target"]}).status_code == 403
    other = app.test_client()
    login(other, "a_director")  # a director reads patients but may not merge them by default
    assert other.post("/patients/merge/", data={"source": pair["source"], "target": pair["target"]}).status_code == 403
    assert load(app, pair["a"], pair["source"])[0].merged_into_id is None


def test_comparison_masks_phones_and_id_numbers_without_the_permission(app, pair, client):
    with app.app_context():
        from core.models import Department
        with hospital_scope(pair["a"]):
            ortho = db.session.get(Department, pair["ortho"])
        make_user(hospital(app, pair["a"]), "a_manager", ("dept_manager",), department=ortho)
    english(client, "a_manager")
    page = client.get(f"/patients/merge/?source={pair['source']}&target={pair['target']}").get_data(as_text=True)
    assert "138****5678" in page and "13812345678" not in page
    assert "4306**********" in page and id_number("19800101", "222") not in page
    admin = english(app.test_client(), "a_admin")
    shown = admin.get(f"/patients/merge/?source={pair['source']}&target={pair['target']}").get_data(as_text=True)
    assert "13812345678" in shown and id_number("19800101", "222") in shown
    with app.app_context():
        from core.tenancy import system_scope
        with system_scope():
            views = db.session.execute(sa.select(AuditLog).where(AuditLog.action == "view")).scalars().all()
    assert [v.username for v in views] == ["a_admin"]


def test_pages_list_duplicates_and_search_results_escaped(app, pair, client):
    twin = create(app, pair["a"], {"name": "王芳", "phone": "13812345678"})
    evil = create(app, pair["a"], {"name": "<script>x</script>"})
    english(client, "a_admin")
    start = client.get("/patients/merge/")
    assert start.status_code == 200 and "Find the duplicate patient" in start.get_data(as_text=True)
    page = client.get(f"/patients/merge/?source={pair['source']}").get_data(as_text=True)
    assert f"target={twin}" in page  # same name and phone: offered as a likely duplicate
    assert f"target={pair['target']}" not in page  # same name, other phone: found by searching only
    searched = client.get(f"/patients/merge/?source={pair['source']}&q=%3Cscript").get_data(as_text=True)
    assert f"target={evil}" in searched and "<script>x" not in searched and "&lt;script&gt;x" in searched


def test_chains_resolve_to_the_last_kept_patient(app, pair):
    third = create(app, pair["a"], {"name": "王芳"})
    with app.test_request_context(), hospital_scope(pair["a"]):
        merge_services.merge_patients(db.session.get(Patient, third), db.session.get(Patient, pair["source"]))
        merge_services.merge_patients(db.session.get(Patient, pair["source"]), db.session.get(Patient, pair["target"]))
        assert merge_services.resolve_merged(db.session.get(Patient, third)).id == pair["target"]
        assert db.session.get(Patient, third).merged_into_id == pair["target"]
        assert merge_services.resolve_merged(db.session.get(Patient, pair["target"])).id == pair["target"]


def test_visit_dates_are_kept(app, pair):
    with app.test_request_context(), hospital_scope(pair["a"]):
        merge_services.merge_patients(db.session.get(Patient, pair["source"]), db.session.get(Patient, pair["target"]))
        dates = sorted(v.visit_at for v in db.session.execute(
            sa.select(Visit).where(Visit.patient_id == pair["target"])).scalars())
    assert dates == [datetime(2026, 1, 5, 9), datetime(2026, 2, 5, 9), datetime(2026, 3, 1, 10)]
