"""The names other plugins may rely on (plugins.patients.public) exist and work, and the test
factories make rows as real use does."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from core.extensions import db
from core.panels import render_panels
from core.tenancy import hospital_scope
from plugins.patients import public
from plugins.patients.testing import make_patient, make_visit


def test_every_public_name_is_there(app):
    assert sorted(public.__all__) == sorted(n for n in public.__all__ if hasattr(public, n))
    assert public.PATIENT_PAGE in app.extensions["hcrm"].catalog.panel_targets
    registry = app.extensions["hcrm"].registry
    assert all(hasattr(registry.pm.hook, hook) for hook in public.EVENTS.values())


def test_factories_make_patients_and_visits_that_the_archive_sees(app, clinic):
    with app.test_request_context():
        patient = make_patient(clinic["a"], phone="13812345678")
        visit = make_visit(patient, kind="inpatient", discharge_at=None, department_id=clinic["ortho"])
        with hospital_scope(clinic["a"]):
            assert visit.status == "admitted" and visit.patient_id == patient.id
            found = db.session.execute(sa.select(public.Patient).where(public.Patient.phone == "13812345678"))
            assert found.scalar_one().id == patient.id
        with hospital_scope(clinic["b"]):  # hospital B sees neither
            visits = sa.select(public.Visit).where(public.Visit.id == visit.id)
            assert db.session.execute(visits).scalar_one_or_none() is None
        with pytest.raises(public.PatientInvalid) as refused:
            make_patient(clinic["a"], phone="12")
        assert "phone" in refused.value.errors


def test_an_undeclared_panel_target_is_refused_by_the_page_helper(app, clinic):
    with app.test_request_context(), pytest.raises(LookupError, match="not a declared PanelTarget"):
        render_panels("patients.detail", None)


def test_a_callers_number_finds_its_patient(app, clinic):
    with app.test_request_context():
        patient = make_patient(clinic["a"], phone="13812345678")
        assert public.normalize_phone("+86 138-1234-5678") == "13812345678"
        with pytest.raises(public.IdentityError):
            public.normalize_phone("12ab")
        with hospital_scope(clinic["a"]):
            assert [p.id for p in public.by_phone("138 1234 5678")] == [patient.id]
        with hospital_scope(clinic["b"]):
            assert public.by_phone("13812345678") == []
