"""Set-based upserts of patients and visits (plugins.patients.bulk), on SQLite and PostgreSQL."""
from datetime import date, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.patients import bulk, services
from plugins.patients.models import Patient, SearchKey, Visit

P_COLS = ["external_id", "name", "gender", "birth_date", "phone", "phone_last4"]
V_COLS = ["external_id", "patient_key", "kind", "status", "visit_at", "discharge_at", "spending"]


def _patients(*rows):
    return [(key, name, gender, date(1980, 1, 2), "13800001111", "1111") for key, name, gender in rows]


def _keys(patient_id):
    return set(db.session.execute(sa.select(SearchKey.key).where(SearchKey.patient_id == patient_id)).scalars())


def test_patients_insert_update_unchanged_counts_are_exact(app, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        first = bulk.upsert_patients(clinic["a"], P_COLS, _patients(("P1", "张三", "M"), ("P2", "李四", "F")))
        db.session.commit()
        assert (len(first.inserted), len(first.updated), first.unchanged) == (2, 0, 0)
        again = bulk.upsert_patients(clinic["a"], P_COLS, _patients(("P1", "张三", "M"), ("P2", "李四", "F")))
        db.session.commit()
        assert (again.inserted, again.updated, again.unchanged) == ([], [], 2)
        renamed = bulk.upsert_patients(clinic["a"], P_COLS,
                                       _patients(("P1", "张三", "M"), ("P2", "王五", "F"), ("P3", "曾七", "U")))
        db.session.commit()
        assert (len(renamed.inserted), len(renamed.updated), renamed.unchanged) == (1, 1, 1)
        p2 = db.session.execute(sa.select(Patient).where(Patient.external_id == "P2")).scalar_one()
        assert p2.name == "王五" and p2.gender == "F" and p2.phone_last4 == "1111" and p2.key_patient is False
        assert "ww" in _keys(p2.id) and "ls" not in _keys(p2.id)  # renamed: keys rebuilt
        p3 = db.session.execute(sa.select(Patient).where(Patient.external_id == "P3")).scalar_one()
        assert {"zq", "cq", "zengqi"} <= _keys(p3.id)  # polyphonic 曾 gets both readings


def test_columns_not_given_are_left_alone_and_gender_defaults(app, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        bulk.upsert_patients(clinic["a"], ["external_id", "name"], [("P1", "张三")])
        db.session.commit()
        patient = db.session.execute(sa.select(Patient)).scalar_one()
        assert patient.gender == "U"
        services.update_patient(patient, {"notes": "VIP 客户", "phone": "13900002222"})
        result = bulk.upsert_patients(clinic["a"], ["external_id", "name"], [("P1", "张三")])
        db.session.commit()
        db.session.refresh(patient)
        assert result.unchanged == 1 and patient.notes == "VIP 客户" and patient.phone == "13900002222"


def test_duplicate_keys_in_one_batch_keep_the_last_row(app, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        result = bulk.upsert_patients(clinic["a"], P_COLS, _patients(("P1", "张三", "M"), ("P1", "张三丰", "M")))
        db.session.commit()
        assert len(result.inserted) == 1
        assert db.session.execute(sa.select(Patient.name)).scalar_one() == "张三丰"


def test_visits_join_patients_follow_merges_and_report_missing(app, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        bulk.upsert_patients(clinic["a"], P_COLS, _patients(("P1", "张三", "M"), ("P2", "张三", "M")))
        db.session.commit()
        p1, p2 = db.session.execute(sa.select(Patient).order_by(Patient.external_id)).scalars().all()
        p1.owner_id = None
        p2.merged_into_id = p1.id  # P2 is a duplicate merged into P1
        db.session.commit()
        rows = [("V1", "P1", "inpatient", "admitted", datetime(2026, 3, 1, 8, 30, 0, 123456), None, Decimal("10.50")),
                ("V2", "P2", "outpatient", "completed", datetime(2026, 3, 2, 9), None, Decimal("0")),
                ("V3", "NOPE", "outpatient", "completed", datetime(2026, 3, 2, 9), None, Decimal("1"))]
        result = bulk.upsert_visits(clinic["a"], V_COLS, rows)
        db.session.commit()
        assert (len(result.inserted), len(result.updated), result.unchanged, result.missing) == (2, 0, 0, ["V3"])
        visits = {v.external_id: v for v in db.session.execute(sa.select(Visit)).scalars()}
        assert visits["V2"].patient_id == p1.id  # follows the merge
        assert visits["V1"].visit_at == datetime(2026, 3, 1, 8, 30, 0, 123456)
        assert visits["V1"].spending == Decimal("10.50")
        again = bulk.upsert_visits(clinic["a"], V_COLS, rows[:2])
        db.session.commit()
        assert (again.inserted, again.updated, again.unchanged) == ([], [], 2)
        discharged = [("V1", "P1", "inpatient", "discharged", datetime(2026, 3, 1, 8, 30, 0, 123456),
                       datetime(2026, 3, 5, 10), Decimal("10.50"))]
        changed = bulk.upsert_visits(clinic["a"], V_COLS, discharged)
        db.session.commit()
        assert changed.updated == [visits["V1"].id]
        assert bulk.set_visit_spending(clinic["a"], {"V1": Decimal("99.90"), "V2": Decimal("0.00")}) == [visits["V1"].id]
        db.session.commit()
        db.session.refresh(visits["V1"])
        assert visits["V1"].spending == Decimal("99.90") and visits["V1"].status == "discharged"


def test_text_with_tabs_and_backslashes_survives_staging(app, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        bulk.upsert_patients(clinic["a"], ["external_id", "name", "address"], [("P\\1", "张三", "a\tb\\c\nd")])
        db.session.commit()
        patient = db.session.execute(sa.select(Patient)).scalar_one()
        assert (patient.external_id, patient.address) == ("P\\1", "a\tb\\c\nd")


def test_hospitals_do_not_share_external_ids(app, clinic):
    with app.app_context():
        with hospital_scope(clinic["a"]):
            bulk.upsert_patients(clinic["a"], ["external_id", "name"], [("P1", "甲")])
            db.session.commit()
        with hospital_scope(clinic["b"]):
            result = bulk.upsert_patients(clinic["b"], ["external_id", "name"], [("P1", "乙")])
            db.session.commit()
            assert len(result.inserted) == 1
            visits = bulk.upsert_visits(clinic["b"], ["external_id", "patient_key", "visit_at", "kind", "status"],
                                        [("V1", "P1", datetime(2026, 1, 1), "outpatient", "completed")])
            db.session.commit()
            visit = db.session.execute(sa.select(Visit)).scalar_one()
            assert visits.inserted == [visit.id] and visit.patient.name == "乙"


def test_bad_columns_are_refused(app, clinic):
    with app.app_context(), hospital_scope(clinic["a"]):
        with pytest.raises(ValueError, match="external_id.*name"):
            bulk.upsert_patients(clinic["a"], ["external_id", "password"], [("P1", "x")])
        with pytest.raises(ValueError, match="patient_key"):
            bulk.upsert_visits(clinic["a"], ["external_id", "visit_at"], [("V1", datetime(2026, 1, 1))])
