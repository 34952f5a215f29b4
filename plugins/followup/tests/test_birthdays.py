"""Birthday care: a daily job plans greetings for the coming week's birthdays, by rule, once."""
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.followup.models import Plan
from plugins.followup.planning import birthdays, rules
from plugins.followup.tests.conftest import catalogue_ids, hospital, new_patient, new_rule, new_visit, plans_of, user
from plugins.patients.public import Patient

TODAY = date(2026, 12, 7)


def birthday_rule(code="A", **fields) -> int:
    ids = catalogue_ids(code)
    return new_rule(code, name="生日祝福", trigger="birthday", visit_kind=None, offsets="9h",
                    method_id=ids["method_sms"], category_id=ids["category_birthday"], assign_to="owner",
                    content="生日快乐", **fields)


def plan(code="A", today=TODAY) -> int:
    with hospital_scope(hospital(code)):
        written = birthdays.plan_birthdays(hospital(code).id, today)
        db.session.commit()
        return written


def test_greetings_for_the_coming_week_at_the_rules_time_once(app, centre):
    with app.app_context():
        birthday_rule()
        soon = new_patient("A", "张三", birth_date="1960-12-09", as_user="a_doc")
        today = new_patient("A", "李四", birth_date="1980-12-07")
        later = new_patient("A", "王五", birth_date="1970-12-20")
        new_patient("A", "赵六")  # no birth date
        new_patient("B", "钱七", birth_date="1960-12-09")  # another hospital: its own rules only
        assert plan() == 2
        assert plan() == 0  # the next run (or a retry) plans nothing twice
        assert plan(today=TODAY + timedelta(days=1)) == 0  # nor does tomorrow's overlapping window
        with hospital_scope(hospital("A")):
            rows = db.session.execute(sa.select(Plan.patient_id, Plan.due_at, Plan.owner_id, Plan.content,
                                                Plan.visit_id).order_by(Plan.due_at)).all()
        assert [(r.patient_id, r.due_at) for r in rows] == [(today, datetime(2026, 12, 7, 9, 0)),
                                                             (soon, datetime(2026, 12, 9, 9, 0))]
        assert rows[1].owner_id == centre["a_doc"] and rows[1].content == "生日快乐" and rows[1].visit_id is None
        assert plan(today=date(2026, 12, 14)) == 1 and later  # 王五 enters the window a week later
        assert plans_of("B") == []


def test_opted_out_merged_department_and_disease_filters(app, centre):
    with app.app_context():
        birthday_rule(department_id=centre["ortho"], disease_codes="I10")
        match = new_patient("A", "张三", birth_date="1960-12-08", department_id=centre["ortho"])
        new_visit("A", match, kind="outpatient", diagnoses=["I10"])
        opted_out = new_patient("A", "李四", birth_date="1960-12-08", department_id=centre["ortho"], sms_consent=False)
        new_visit("A", opted_out, kind="outpatient", diagnoses=["I10"])
        other_dept = new_patient("A", "王五", birth_date="1960-12-08", department_id=centre["im"])
        new_visit("A", other_dept, kind="outpatient", diagnoses=["I10"])
        new_patient("A", "赵六", birth_date="1960-12-08", department_id=centre["ortho"])  # no I10
        merged = new_patient("A", "张三丰", birth_date="1960-12-08", department_id=centre["ortho"])
        new_visit("A", merged, kind="outpatient", diagnoses=["I10"])
        with hospital_scope(hospital("A")):
            db.session.get(Patient, merged).merged_into_id = match
            db.session.commit()
        assert plan() == 1
        with hospital_scope(hospital("A")):
            assert db.session.execute(sa.select(Plan.patient_id)).scalars().all() == [match]


def test_29_february_is_greeted_on_28_february_in_other_years(app, centre):
    with app.app_context():
        birthday_rule()
        leap = new_patient("A", "张三", birth_date="1996-02-29")
        assert plan(today=date(2027, 2, 25)) == 1
        with hospital_scope(hospital("A")):
            assert db.session.execute(sa.select(Plan.due_at).where(Plan.patient_id == leap)).scalar_one() \
                == datetime(2027, 2, 28, 9, 0)
        assert plan(today=date(2028, 2, 27)) == 1  # a leap year: on the day itself
        with hospital_scope(hospital("A")):
            assert max(db.session.execute(sa.select(Plan.due_at)).scalars()) == datetime(2028, 2, 29, 9, 0)


def test_a_birthday_rule_never_plans_from_visits(app, centre):
    with app.app_context():
        birthday_rule()
        patient = new_patient("A", "张三")
        discharge = datetime(2026, 12, 6, 10, 0)
        new_visit("A", patient, kind="inpatient", visit_at=discharge - timedelta(days=3), discharge_at=discharge)
        assert plans_of("A") == []


@pytest.mark.parametrize(("fields", "field"), [({"visit_kind": "inpatient"}, "visit_kind"),
                                               ({"offsets": "1d"}, "offsets"),
                                               ({"offsets": "9h, 30d"}, "offsets")])
def test_bad_birthday_rules_are_refused(app, centre, fields, field):
    ids = None
    with app.app_context():
        ids = catalogue_ids("A")
        data = {"name": "生日", "trigger": "birthday", "offsets": "9h", "method_id": ids["method_sms"],
                "category_id": ids["category_birthday"], "assign_to": "owner", **fields}
        with hospital_scope(hospital("A"), user=user("a_admin")), force_locale("en"):
            with pytest.raises(rules.FollowupInvalid) as caught:
                rules.create_rule(data)
            assert field in caught.value.errors
            db.session.rollback()
            assert db.session.execute(sa.select(sa.func.count()).select_from(rules.Rule)).scalar() == 0


def test_the_daily_job_is_declared(app, centre):
    from core.jobs import live_periodic_jobs
    with app.app_context():
        assert "followup.birthdays" in {job.id for job in live_periodic_jobs()}
