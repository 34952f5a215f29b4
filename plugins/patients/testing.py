"""Factories for the tests of any plugin that depends on patients (``make_patient``,
``make_visit``): rows made through the archive's own services, so they carry what real ones do
(the name index, the events other plugins listen to), in the hospital's scope.

    from plugins.patients.testing import make_patient, make_visit

    with app.test_request_context():
        patient = make_patient(hospital, name="张三", phone="13812345678")
        make_visit(patient, kind="inpatient", discharge_at="2026-12-01 10:00", diagnoses=["S72"])
"""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from core.clock import local_now
from core.tenancy import hospital_scope
from plugins.patients import services
from plugins.patients.models import Patient, Visit

_numbers = itertools.count(1)


def make_patient(hospital, name: str | None = None, **fields) -> Patient:
    """A registered patient of ``hospital`` (a row or an id); ``fields`` as the patient form
    takes them (``phone``, ``id_number``, ``department_id``, ``tags`` …). Committed."""
    number = next(_numbers)
    data = {"name": name or f"测试患者{number}", **fields}
    with hospital_scope(hospital):
        return services.create_patient(data, allow_duplicate=True)


def make_visit(patient: Patient, visit_at: datetime | str | None = None, **fields) -> Visit:
    """A visit of ``patient`` (default: an outpatient visit an hour ago, in the hospital's zone);
    ``fields`` as the visit form takes them (``kind``, ``discharge_at``, ``department_id``,
    ``diagnoses`` as ICD-10 codes of the hospital's catalogue, ``spending`` …). Committed, and
    announced to the hospital's plugins like any recorded visit."""
    when = visit_at or (local_now() - timedelta(hours=1)).replace(microsecond=0)
    with hospital_scope(patient.hospital_id):
        return services.record_visit(patient, {"visit_at": when, **fields})


def pad_patients(hospital_id: int, count: int = 5000) -> None:
    """``count`` plain (not key) patients of ``hospital_id`` written in one statement, then the
    table analyzed: enough rows for the planner's choice of index to be the one it makes at
    scale. PostgreSQL only (its ``generate_series``); the rows are the test's, rolled back."""
    from core.extensions import db
    connection = db.session.connection()
    connection.exec_driver_sql(
        "INSERT INTO patients_patient (hospital_id, name, gender, key_patient, created_at, updated_at) "
        "SELECT %(h)s, 'pad' || n, 'U', false, now() - n * interval '1 minute', now() "
        "FROM generate_series(1, %(n)s) AS n", {"h": hospital_id, "n": count})
    connection.exec_driver_sql("ANALYZE patients_patient")
