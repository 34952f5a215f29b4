"""Default follow-up data a hospital gets when it enables the plugin (idempotent).

Names are hospital data in the UI's default language, like the patients plugin's sources;
hospitals rename them in the settings pages.
"""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from plugins.followup.models import Category, Method, Settings

DEFAULT_METHODS = (  # code, name, sends_sms
    ("phone", "电话", False),
    ("sms", "短信", True),
    ("wechat", "微信", False),
    ("home_visit", "上门", False),
)
DEFAULT_CATEGORIES = (
    ("post_discharge", "出院随访"),
    ("chronic", "慢病随访"),
    ("post_operative", "术后随访"),
    ("birthday", "生日关怀"),
    ("satisfaction", "满意度调查"),
    ("revisit", "复诊提醒"),
)


def seed_defaults(hospital) -> None:
    """Methods, categories and the settings row; rows the hospital already has are kept as
    they are (it runs again after a disable/enable cycle)."""
    have = set(db.session.execute(sa.select(Method.code)).scalars())
    db.session.add_all(Method(hospital_id=hospital.id, code=code, name=name, sends_sms=sms, shared=True,
                              position=i)
                       for i, (code, name, sms) in enumerate(DEFAULT_METHODS) if code not in have)
    have = set(db.session.execute(sa.select(Category.code)).scalars())
    db.session.add_all(Category(hospital_id=hospital.id, code=code, name=name, position=i)
                       for i, (code, name) in enumerate(DEFAULT_CATEGORIES) if code not in have)
    if db.session.execute(sa.select(Settings.id)).first() is None:
        db.session.add(Settings(hospital_id=hospital.id, escalate_after_hours=24))
    db.session.flush()
