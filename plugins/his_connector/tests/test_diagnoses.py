"""Visit diagnoses from the HIS (issue 21, defect 3): ICD code + name columns reach the visit's
diagnoses; a code missing from the catalogue quarantines the visit or is added "from HIS", as the
connection says; follow-up rules filtered by disease then plan from synced visits."""
from datetime import timedelta

import pytest
import sqlalchemy as sa

from core import activation
from core.clock import local_now
from core.extensions import db
from core.models import Hospital
from core.tenancy import hospital_scope, system_scope
from plugins.his_connector import services
from plugins.his_connector.models import Connection, DiseaseOrigin, Quarantine
from plugins.his_connector.testing import DIAGNOSES_SPEC, VISIT_FIELDS, VISITS_WITH_DIAGNOSES_QUERY
from plugins.his_connector.tests.conftest import connect, sync
from plugins.patients.public import Diagnosis, Disease, Visit

FIELDS = {**{k: v for k, v in VISIT_FIELDS.items() if k != "spending"}, "diagnoses": DIAGNOSES_SPEC}


def _diagnoses(hospital_id):
    with hospital_scope(hospital_id):
        rows = db.session.execute(sa.select(Visit.external_id, Diagnosis.code, Diagnosis.name, Diagnosis.position)
                                  .join(Diagnosis, Diagnosis.visit_id == Visit.id)
                                  .order_by(Visit.external_id, Diagnosis.position)).all()
    found = {}
    for key, code, name, _position in rows:
        found.setdefault(key, []).append((code, name))
    return found


def _follow_up_rule(hospital_id, **data):
    """The follow-up plugin live for the hospital, with one rule (its default method and category)."""
    from plugins.followup import public as rules
    from plugins.followup.public import Category, Method
    with system_scope():
        activation.enable(db.session.get(Hospital, hospital_id), "followup")
        db.session.commit()
    with hospital_scope(hospital_id):
        method = db.session.execute(sa.select(Method.id).limit(1)).scalar_one()
        category = db.session.execute(sa.select(Category.id).limit(1)).scalar_one()
        rules.create_rule({**data, "method_id": method, "category_id": category, "assign_to": "owner"})
        db.session.commit()


def _connect(his, hospital_id, **settings):
    return connect(his, hospital_id, visit_fields=FIELDS, visit_query=VISITS_WITH_DIAGNOSES_QUERY, safety_lag=0,
                   **settings)


def test_diagnoses_reach_the_visit_and_a_code_missing_from_the_catalogue_is_quarantined(app, hospital, his):
    his.patient("P1", "张三")
    his.tick()
    his.visit(1001, "P1", ZDDM="i10 ", ZDMC="原发性高血压", ZDDM2="E11.9", ZDMC2="2型糖尿病")
    his.visit(1002, "P1", ZDDM="Z99.999", ZDMC="HIS自编诊断")
    his.visit(1003, "P1")  # no diagnosis
    with app.app_context():
        connection_id = _connect(his, hospital["a"])
        runs = sync(hospital["a"], connection_id)
        assert [(r["entity"], r["inserted"], r["quarantined"]) for r in runs] == [("patients", 1, 0), ("visits", 2, 1)]
        assert _diagnoses(hospital["a"]) == {"1001": [("I10", "原发性高血压"), ("E11.9", "2型糖尿病")]}
        with hospital_scope(hospital["a"]):
            entry = db.session.execute(sa.select(Quarantine).where(Quarantine.resolved.is_(False))).scalar_one()
        assert entry.natural_key == "1002" and "Z99.999" in entry.reason

        # A re-read writes nothing; a changed diagnosis alone makes the visit "updated".
        assert sync(hospital["a"], connection_id, entities=["visits"], full=True)[0]["unchanged"] == 2
        his.update("ZY_JZJL", "JZID", 1001, ZDDM2=None, ZDMC2=None, GXSJ=his.tick())
        again = sync(hospital["a"], connection_id, entities=["visits"])[0]
        assert (again["rows_read"], again["updated"], again["unchanged"]) == (1, 1, 0)
        assert _diagnoses(hospital["a"])["1001"] == [("I10", "原发性高血压")]


def test_the_connection_may_add_missing_codes_from_the_his_flagged(app, hospital, his):
    his.patient("P1", "张三")
    his.tick()
    his.visit(1002, "P1", ZDDM="Z99.999", ZDMC="HIS自编诊断")
    with app.app_context():
        connection_id = _connect(his, hospital["a"], unknown_diagnoses="add")
        runs = sync(hospital["a"], connection_id)
        assert (runs[1]["inserted"], runs[1]["quarantined"]) == (1, 0)
        assert _diagnoses(hospital["a"]) == {"1002": [("Z99.999", "HIS自编诊断")]}
        with hospital_scope(hospital["a"]):
            disease = db.session.execute(sa.select(Disease).where(Disease.code == "Z99.999")).scalar_one()
            origin = db.session.execute(sa.select(DiseaseOrigin)).scalar_one()
            connection = db.session.get(Connection, connection_id)
            assert (disease.name, disease.custom, origin.disease_id) == ("HIS自编诊断", True, disease.id)
            with pytest.raises(services.HisError):
                services.update_connection(connection, {"unknown_diagnoses": "maybe"})


def test_follow_up_rules_filtered_by_disease_plan_synced_visits(app, hospital, his):
    from plugins.followup.public import Plan
    yesterday = (local_now() - timedelta(days=1)).replace(microsecond=0)
    his.patient("P1", "张三")
    his.tick()
    his.visit(1001, "P1", RYSJ=yesterday, ZDDM="I10", ZDMC="高血压")
    his.visit(1002, "P1", RYSJ=yesterday, ZDDM="E11.9", ZDMC="2型糖尿病")
    with app.app_context():
        _follow_up_rule(hospital["a"], name="高血压随访", trigger="recorded", visit_kind="outpatient",
                        disease_codes="I10", offsets="14d")
        connection_id = _connect(his, hospital["a"])
        sync(hospital["a"], connection_id)
        with hospital_scope(hospital["a"]):
            planned = db.session.execute(sa.select(Visit.external_id).join(Plan, Plan.visit_id == Visit.id)).scalars()
            assert list(planned) == ["1001"]


def test_the_his_icd_dictionary_loads_the_disease_catalogue_in_one_sync(app, hospital, his):
    his.insert("GY_ICD", [{"ICD": "I10", "MC": "特发性（原发性）高血压", "PYM": "TFXGXY", "GXSJ": his.tick()},
                          {"ICD": "k35.800", "MC": "急性阑尾炎", "PYM": "JXLWY", "GXSJ": his.time},
                          {"ICD": "M17.100x001", "MC": "单侧原发性膝关节病", "PYM": None, "GXSJ": his.tick()}])
    his.patient("P1", "张三", gxsj=his.tick())
    his.visit(1001, "P1", ZDDM="K35.800", ZDMC="急性阑尾炎", gxsj=his.time)
    with app.app_context():
        connection_id = _connect(his, hospital["a"], entities=("diseases", "patients", "visits"))
        with hospital_scope(hospital["a"]):
            before = db.session.execute(sa.select(Disease.name).where(Disease.code == "I10")).scalar_one()
        runs = sync(hospital["a"], connection_id)
        assert [r["entity"] for r in runs] == ["diseases", "patients", "visits"]
        assert (runs[0]["rows_read"], runs[0]["inserted"], runs[0]["updated"]) == (3, 2, int(before != "特发性（原发性）高血压"))
        assert (runs[2]["inserted"], runs[2]["quarantined"]) == (1, 0)  # its code came with the dictionary
        with hospital_scope(hospital["a"]):
            names = dict(db.session.execute(sa.select(Disease.code, Disease.name)
                                            .where(Disease.code.in_(["I10", "K35.800", "M17.100X001"]))).all())
            pinyin = dict(db.session.execute(sa.select(Disease.code, DiseaseOrigin.pinyin)
                                             .join(DiseaseOrigin, DiseaseOrigin.disease_id == Disease.id)).all())
        assert names == {"I10": "特发性（原发性）高血压", "K35.800": "急性阑尾炎", "M17.100X001": "单侧原发性膝关节病"}
        assert pinyin == {"K35.800": "JXLWY", "M17.100X001": None}
        assert [r["rows_read"] for r in sync(hospital["a"], connection_id)] == [0, 0, 0]
        full = sync(hospital["a"], connection_id, entities=["diseases"], full=True)[0]
        assert (full["rows_read"], full["unchanged"]) == (3, 3)


def test_a_visit_status_the_his_does_not_give_is_derived(app, hospital, his):
    his.patient("P1", "张三")
    his.tick()
    his.visit(1, "P1", JZLX="2", CYSJ=None)
    his.visit(2, "P1", JZLX="2", CYSJ="2025-05-25 10:00:00")
    his.visit(3, "P1", JZLX="1", CYSJ=None)
    fields = {k: v for k, v in FIELDS.items() if k not in ("status", "diagnoses")}
    with app.app_context():
        sync(hospital["a"], connect(his, hospital["a"], visit_fields=fields, safety_lag=0))
        with hospital_scope(hospital["a"]):
            statuses = dict(db.session.execute(sa.select(Visit.external_id, Visit.status)).all())
    assert statuses == {"1": "admitted", "2": "discharged", "3": "completed"}


def test_the_first_syncs_page_applies_follow_up_rules_to_older_visits(app, client, hospital, his):
    from core.testing import login
    from plugins.followup.public import Plan
    old = (local_now() - timedelta(days=60)).replace(microsecond=0)
    his.patient("P1", "张三")
    his.tick()
    his.visit(1001, "P1", JZLX="2", JZZT="2", RYSJ=old - timedelta(days=5), CYSJ=old)
    with app.app_context():
        _follow_up_rule(hospital["a"], name="出院随访", trigger="discharged", visit_kind="inpatient", offsets="1d")
        connection_id = connect(his, hospital["a"], safety_lag=0)
        sync(hospital["a"], connection_id)

        def plans():
            with hospital_scope(hospital["a"]):
                return db.session.execute(sa.select(sa.func.count(Plan.id))).scalar_one()
        assert plans() == 0  # two months old: the rule plans only the last week
    login(client, "a_admin")
    client.post("/language", data={"locale": "en"})
    page = client.get(f"/his_connector/connections/{connection_id}").get_data(as_text=True)
    assert 'id="history"' in page and "Apply follow-up rules to visits discharged since" in page
    future = client.post(f"/his_connector/connections/{connection_id}/history", data={"since": "2999-01-01"})
    assert future.status_code == 303
    with app.app_context():
        assert plans() == 0
    since = (old.date() - timedelta(days=1)).isoformat()
    done = client.post(f"/his_connector/connections/{connection_id}/history", data={"since": since},
                       follow_redirects=True)
    assert "1 plans made" in done.get_data(as_text=True)
    client.post(f"/his_connector/connections/{connection_id}/history", data={"since": since})
    with app.app_context():
        assert plans() == 1  # asked twice, planned once


def test_the_mapping_page_takes_diagnoses_as_code_name_column_pairs(app, client, hospital, his):
    from core.testing import login
    from plugins.his_connector.models import Mapping
    with app.app_context():
        connection_id = connect(his, hospital["a"], entities=("patients",))
    login(client, "a_admin")
    url = f"/his_connector/connections/{connection_id}/mappings/visits"
    form = {"query": VISITS_WITH_DIAGNOSES_QUERY, "key_column": "JZID", "cursor_column": "GXSJ", "enabled": "y",
            "f_patient_key-column": "BRID", "f_visit_at-column": "RYSJ", "f_diagnoses-column": "ZDDM:ZDMC, ZDDM2",
            "action": "save"}
    assert client.post(url, data=form).status_code == 302
    with app.app_context(), hospital_scope(hospital["a"]):
        saved = db.session.execute(sa.select(Mapping).where(Mapping.entity == "visits")).scalar_one()
        assert saved.fields["diagnoses"] == [{"code": "ZDDM", "name": "ZDMC"}, {"code": "ZDDM2"}]
    assert 'value="ZDDM:ZDMC, ZDDM2"' in client.get(url).get_data(as_text=True)
    bad = client.post(url, data={**form, "f_diagnoses-column": "ZDDM:NOPE"})
    assert bad.status_code == 400 and "NOPE" in bad.get_data(as_text=True)
