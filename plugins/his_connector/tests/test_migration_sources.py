"""Upgrading keeps connections made when they stored a URL: the URL becomes ``legacy_url``, its
user name the connection's, and no source is picked for them (see docs/his_connector.md)."""
from datetime import datetime

import pytest
import sqlalchemy as sa
from alembic import command

from core.testing import dispose_engines, fresh_database, make_app

OLD_URL = "mysql+pymysql://his_ro@10.0.0.5:3306/his"


@pytest.mark.real_commits
def test_the_upgrade_keeps_old_connections_url_and_user(tmp_path):
    from core import activation, migrations_support
    from core.extensions import db
    with fresh_database(tmp_path) as url:
        app = make_app(url)
        with app.app_context():
            migrations_support.upgrade()
            hospital_id = activation.create_hospital("OLD", "旧医院").id
            db.session.commit()  # no transaction left open: a downgrade drops tables referencing core_hospital
            config = migrations_support.alembic_config()
            command.downgrade(config, "9b3e41d7c2f0-1")  # back to when connections stored a URL
            now = datetime(2026, 1, 1)
            with db.engine.begin() as conn:
                conn.execute(sa.text(
                    "INSERT INTO his_connector_connection (hospital_id, name, url, password_env, timezone, encoding, "
                    "statement_timeout, batch_size, safety_lag, enabled, created_at, updated_at) VALUES (:h, 'old', "
                    ":url, 'HCRM_HIS_PASSWORD_OLD', 'Asia/Shanghai', 'gbk', 300, 5000, 120, :yes, :now, :now)"),
                    {"h": hospital_id, "url": OLD_URL, "yes": True, "now": now})
            command.upgrade(config, "heads")
            with db.engine.connect() as conn:
                row = conn.execute(sa.text("SELECT source, username, legacy_url, password_env "
                                           "FROM his_connector_connection")).one()
            assert tuple(row) == (None, "his_ro", OLD_URL, "HCRM_HIS_PASSWORD_OLD")
            command.downgrade(config, "9b3e41d7c2f0-1")
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT url FROM his_connector_connection")).scalar() == OLD_URL
            command.upgrade(config, "heads")
            dispose_engines()
