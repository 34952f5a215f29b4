"""The key patients are counted with ``key_patient = true``, which the partial index
``ix_patients_patient_key`` (``WHERE key_patient AND merged_into_id IS NULL``) serves; written
``IS true`` PostgreSQL cannot match it to the index and reads every patient (185 ms instead of
7 ms at a million patients)."""
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import postgres_plan, statements_run
from plugins.patients import reports
from plugins.patients.testing import make_patient, pad_patients


def test_dashboard_key_patient_count_uses_the_partial_index(app, clinic):
    with app.test_request_context():
        make_patient(clinic["a"], "重点", key_patient=True)
        make_patient(clinic["a"], "普通")
        if db.engine.dialect.name == "postgresql":
            pad_patients(clinic["a"])
        with hospital_scope(clinic["a"]), statements_run() as seen:
            card = reports.patients_card()
        assert [n for _label, n, url in card.items if "key_patient" in url] == [1]
        keyed = [(sql, params) for sql, params in seen if "key_patient" in sql and "count" in sql.lower()]
        assert keyed, "the card did not count key patients with SQL"
        for sql, params in keyed:
            assert "key_patient IS" not in sql, sql
            if db.engine.dialect.name == "postgresql":
                with hospital_scope(clinic["a"]):
                    assert "ix_patients_patient_key" in postgres_plan(sql, params)
