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
