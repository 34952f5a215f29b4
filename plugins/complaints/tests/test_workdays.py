"""Working days on the real 2026 Chinese calendar, the hospital's own days, and the fallback
beyond the package's last known year."""
from datetime import date

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.complaints import settings_services, workdays
from plugins.complaints.tests.conftest import hospital


def test_national_day_week_is_skipped(app, centre):
    with app.app_context(), hospital_scope(hospital("A")):
        # Received Wed 30 Sep 2026: 1–7 Oct are the National Day holiday, Sat 10 Oct is an
        # adjusted working day, Sun 11 Oct is not.
        assert not workdays.is_working_day(date(2026, 10, 1))
        assert workdays.is_working_day(date(2026, 10, 10))  # a Saturday worked in exchange
        assert workdays.add_working_days(date(2026, 9, 30), 1) == date(2026, 10, 8)
        assert workdays.add_working_days(date(2026, 9, 30), 3) == date(2026, 10, 10)
        assert workdays.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)


def test_adjusted_working_sunday_counts_and_weekend_does_not(app, centre):
    with app.app_context(), hospital_scope(hospital("A")):
        assert workdays.is_working_day(date(2026, 9, 20))  # a Sunday worked before National Day
        # Fri 18 Sep + 1 working day: Sun 20 Sep is worked, Sat 19 is not.
        assert workdays.add_working_days(date(2026, 9, 18), 1) == date(2026, 9, 20)
        # An ordinary week: Fri 6 Nov + 5 = Fri 13 Nov.
        assert workdays.add_working_days(date(2026, 11, 6), 5) == date(2026, 11, 13)


def test_hospital_closure_and_extra_working_day(app, centre):
    with app.app_context(), hospital_scope(hospital("A")):
        settings_services.save_calendar_day(date(2026, 11, 9), False, "停电检修")
        settings_services.save_calendar_day(date(2026, 11, 7), True, "补班")
        db.session.commit()
        # Fri 6 Nov + 1: Sat 7 is worked here.
        assert workdays.add_working_days(date(2026, 11, 6), 1) == date(2026, 11, 7)
        # Fri 6 + 2: Mon 9 closed → Tue 10.
        assert workdays.add_working_days(date(2026, 11, 6), 2) == date(2026, 11, 10)
    with app.app_context(), hospital_scope(hospital("B")):  # another hospital's days are not B's
        assert workdays.add_working_days(date(2026, 11, 6), 1) == date(2026, 11, 9)


def test_beyond_the_known_years_weekends_and_own_days_never_crash(app, centre):
    assert not workdays.official_year(2031)
    assert 2031 in workdays.uncovered_years(date(2031, 3, 1))
    with app.app_context(), hospital_scope(hospital("A")):
        # Fri 31 Dec 2027 + 1 → Mon 3 Jan 2028 (no official data: weekends only) …
        assert workdays.add_working_days(date(2027, 12, 31), 1) == date(2028, 1, 3)
        # … unless the hospital entered the holiday itself.
        settings_services.save_calendar_day(date(2028, 1, 3), False, "元旦")
        db.session.commit()
        assert workdays.add_working_days(date(2027, 12, 31), 1) == date(2028, 1, 4)


def test_zero_or_negative_count_refused():
    import pytest
    for bad in (0, -3):
        with pytest.raises(ValueError):
            workdays.add_working_days(date(2026, 1, 5), bad)
