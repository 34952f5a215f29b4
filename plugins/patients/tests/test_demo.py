"""Demo data: realistic, valid, findable, reproducible, idempotent and quick to load."""
from datetime import timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from core import clock
from core.demo import load_demo
from core.extensions import db
from core.models import Department, Hospital
from core.tenancy import hospital_scope
from core.testing import make_hospital
from plugins.patients import demo, services
from plugins.patients.identity import MOBILE_RE, parse_id_number, pypinyin
from plugins.patients.models import Diagnosis, Disease, HealthRecord, Patient, Region, SearchKey, Tag, Visit


def count(model, *where):
    return db.session.execute(sa.select(sa.func.count()).select_from(model).where(*where)).scalar_one()


@pytest.fixture
def loaded(app):
    """Two demo hospitals, loaded the way `hcrm init --demo` does."""
    with app.app_context():
        one = make_hospital("DEMO1", "示范第一医院", plugins=["patients"])
        two = make_hospital("DEMO2", "示范第二医院", plugins=["patients"])
        load_demo(one)
        load_demo(two)
        yield {"one": one.id, "two": two.id}


def test_loads_a_few_hundred_patients_only_once(app, loaded):
    # How fast is a benchmark's question (the brief: no timed unit tests); a slow load shows there.
    with hospital_scope(loaded["one"]):
        before = {m.__name__: count(m) for m in (Patient, Visit, Diagnosis, SearchKey, HealthRecord, Region, Tag)}
        hospital = db.session.get(Hospital, loaded["one"])
    assert before["Patient"] == demo.PATIENTS
    assert demo.PATIENTS <= before["Visit"] <= 5 * demo.PATIENTS
    assert before["HealthRecord"] > 50 and before["Region"] == 20
    with hospital_scope(hospital):
        demo.load(hospital)  # idempotent: the hospital has its patients already
    load_demo(hospital)
    with hospital_scope(loaded["one"]):
        assert {m.__name__: count(m) for m in (Patient, Visit, Diagnosis, SearchKey, HealthRecord, Region, Tag)} == before


def test_patients_are_valid_and_findable_by_pinyin_initials(app, loaded):
    with app.test_request_context(), hospital_scope(loaded["one"]):
        patients = db.session.execute(sa.select(Patient)).scalars().all()
        phones = [p.phone for p in patients]
        assert len(set(phones)) == len(phones) and all(MOBILE_RE.match(p) for p in phones)
        with_id = [p for p in patients if p.id_number]
        assert len(with_id) > 0.8 * len(patients)
        assert len({p.id_number for p in with_id}) == len(with_id)
        for p in with_id:
            number, birth, gender = parse_id_number(p.id_number)
            assert (number, birth, gender) == (p.id_number, p.birth_date, p.gender)
            assert number[:6] in {code for code, _towns in demo.COUNTIES.values()}
        for p in patients:
            assert services.clean_patient({f: getattr(p, f) for f in services.PATIENT_FIELDS})  # passes validation
            initials = "".join(s[0] for s in pypinyin().lazy_pinyin(p.name))
            found = db.session.execute(services.search(services.PatientQuery(q=initials))
                                       .where(Patient.id == p.id)).scalar_one_or_none()
            assert found is not None, (p.name, initials)
        assert {p.region.parent.name for p in patients} == set(demo.COUNTIES)
        assert count(Patient, Patient.key_patient.is_(True)) > 0
        assert count(Patient, Patient.referrer_id.is_not(None)) > 0
        assert {t.name for t in db.session.execute(sa.select(Tag)).scalars()} >= set(demo.TAGS) - {"VIP候选"}


def test_visits_are_plausible(app, loaded):
    now = clock.local_now() + timedelta(minutes=1)
    with app.app_context(), hospital_scope(loaded["one"]):
        visits = db.session.execute(sa.select(Visit)).scalars().all()
        departments = {d.id: d.code for d in db.session.execute(sa.select(Department)).scalars()}
        catalogue = {d.code for d in db.session.execute(sa.select(Disease)).scalars()}
        per_patient = db.session.execute(sa.select(Visit.patient_id, sa.func.count()).group_by(Visit.patient_id)).all()
        assert len(per_patient) == demo.PATIENTS and all(1 <= n <= 5 for _p, n in per_patient)
        kinds = {k: n for k, n in db.session.execute(sa.select(Visit.kind, sa.func.count()).group_by(Visit.kind))}
        assert kinds["outpatient"] > kinds["inpatient"] > 0 and kinds["emergency"] > 0
        oldest = now - timedelta(days=demo.HISTORY_DAYS + 2)
        for v in visits:
            assert oldest <= v.visit_at <= now
            assert departments[v.department_id] in demo.PROFILES
            assert v.diagnoses and all(d.code in catalogue for d in v.diagnoses)
            if v.kind == "outpatient":
                assert v.spending == 0 or Decimal(50) <= v.spending <= Decimal(800)
            if v.kind == "inpatient":
                assert Decimal(3000) <= v.spending <= Decimal(60000)
                assert (v.discharge_at is None) == (v.status == "admitted")
                assert v.discharge_at is None or v.discharge_at > v.visit_at
        pregnant = db.session.execute(sa.select(Patient.gender).join(Visit, Visit.patient_id == Patient.id)
                                      .join(Diagnosis, Diagnosis.visit_id == Visit.id)
                                      .where(Diagnosis.code.in_(("O80.9", "Z34.9")))).scalars().all()
        assert pregnant and set(pregnant) == {"F"}
        assert count(Visit, Visit.spending == 0) > 0


def test_each_hospital_gets_its_own_reproducible_patients(app, loaded):
    from core.models import Hospital
    from plugins.patients.models import patient_tags
    query = sa.select(Patient.name, Patient.id_number, Patient.phone).order_by(Patient.id)
    with app.app_context():
        with hospital_scope(loaded["two"]):
            second = db.session.execute(query).all()
        with hospital_scope(loaded["one"]):
            first = db.session.execute(query).all()
            ids = sa.select(Patient.id).scalar_subquery()
            db.session.execute(sa.delete(patient_tags).where(patient_tags.c.patient_id.in_(ids)))
            for model in (Diagnosis, Visit, HealthRecord, SearchKey, Patient):
                db.session.execute(sa.delete(model))
            db.session.commit()
            demo.load(db.session.get(Hospital, loaded["one"]))
            again = db.session.execute(query).all()
    assert first != second and again == first
