"""The hospitals' wall clock: times people see are in the configured zone, not the server's."""
from datetime import datetime, timedelta

import sqlalchemy as sa

from core import clock
from core.extensions import db
from core.models import utcnow
from core.testing import make_app


def test_local_time_follows_the_configured_zone_not_the_server(database_url, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    for zone, hours in (("Asia/Shanghai", 8), ("America/Bogota", -5)):
        app = make_app(database_url, config_overrides={"timezone": zone})
        with app.app_context():
            utc = datetime(2026, 5, 31, 20, 30)
            assert clock.utc_to_local(utc) == utc + timedelta(hours=hours)
            assert clock.local_to_utc(clock.utc_to_local(utc)) == utc
            drift = clock.local_now() - clock.utc_to_local(utcnow().replace(microsecond=0))
            assert abs(drift.total_seconds()) < 5


def test_a_late_evening_registration_belongs_to_the_local_day_in_sql(app):
    """23:30 on 31 May in Beijing is 15:30 UTC: a report grouping by local month must say May,
    and 00:30 on 1 June (16:30 UTC on 31 May) must say June."""
    with app.app_context():
        dialect = db.engine.dialect.name
        for utc, expected in ((datetime(2026, 5, 31, 15, 30), "2026-05-31 23:30"),
                              (datetime(2026, 5, 31, 16, 30), "2026-06-01 00:30")):
            local = db.session.execute(sa.select(sa.cast(clock.local_sql(sa.literal(utc, sa.DateTime), dialect),
                                                         sa.String))).scalar_one()
            assert str(local).startswith(expected)


def test_stamps_and_wall_times_are_shown_on_the_hospitals_clock(app):
    from datetime import date, datetime

    from flask import render_template_string

    from core.clock import show_stamp, show_wall
    with app.test_request_context():
        assert show_stamp(datetime(2026, 12, 6, 23, 24)) == "2026-12-07 07:24"  # UTC stamp -> Asia/Shanghai
        assert show_stamp(datetime(2026, 12, 6, 23, 24, 5), "second") == "2026-12-07 07:24:05"
        assert show_stamp(datetime(2026, 12, 6, 23, 24), "date") == "2026-12-07"  # the local day
        assert show_wall(datetime(2026, 12, 7, 7, 24)) == "2026-12-07 07:24"  # already local: as is
        assert show_wall(date(2026, 12, 7)) == "2026-12-07" and show_stamp(None) == show_wall(None) == ""
        assert render_template_string("{{ t | stamp }} / {{ t | wall('short') }}", t=datetime(2026, 12, 6, 23, 24)) \
            == "2026-12-07 07:24 / 12-06 23:24"
