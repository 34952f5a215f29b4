"""What a hospital gets when it enables the plugin (idempotent): its channels and categories
(with the common reply limits: 5 working days, 15 when several departments are involved), its
settings row and the complaint office role (投诉办). Names are hospital data in the UI's
default language; hospitals edit them in the settings pages.
"""
from __future__ import annotations

import sqlalchemy as sa

from core.extensions import db
from core.models import Role

from .models import ComplaintCategory, ComplaintChannel, ComplaintSettings

DEFAULT_CHANNELS = (("phone", "电话"), ("on_site", "现场"), ("letter", "信件"), ("web", "网上表单"), ("sms", "短信"),
                    ("wechat", "微信"), ("hotline_12345", "12345政务热线"), ("survey", "满意度调查"), ("other", "其他"))
DEFAULT_CATEGORIES = (  # code, name, positive (praise / suggestion)
    ("medical_quality", "医疗质量", False), ("nursing", "护理质量", False), ("attitude", "服务态度", False),
    ("fees", "收费问题", False), ("waiting", "等候时间", False), ("environment", "就医环境", False),
    ("ethics", "医德医风", False), ("suggestion", "意见建议", True), ("praise", "表扬", True), ("other", "其他", False))
DEFAULT_REPLY_DAYS, DEFAULT_MULTI_REPLY_DAYS = 5, 15

OFFICE_ROLE = "complaint_office"
OFFICE_ROLE_NAME = "投诉办"
OFFICE_PERMISSIONS = ("complaints.read", "complaints.create", "complaints.handle", "complaints.close",
                      "complaints.reopen", "complaints.supervise", "complaints.manage_settings", "complaints.decide_rewards",
                      "complaints.view_about_me", "complaints.export", "patients.read", "core.reports.read")


def seed_defaults(hospital) -> None:
    channels = set(db.session.execute(sa.select(ComplaintChannel.code)).scalars())
    for position, (code, name) in enumerate(DEFAULT_CHANNELS):
        if code not in channels:
            db.session.add(ComplaintChannel(code=code, name=name, position=position, active=True))
    categories = set(db.session.execute(sa.select(ComplaintCategory.code)).scalars())
    for position, (code, name, positive) in enumerate(DEFAULT_CATEGORIES):
        if code not in categories:
            db.session.add(ComplaintCategory(code=code, name=name, position=position, active=True, positive=positive,
                                             reply_days=DEFAULT_REPLY_DAYS, multi_reply_days=DEFAULT_MULTI_REPLY_DAYS))
    if db.session.execute(sa.select(ComplaintSettings.id)).first() is None:
        db.session.add(ComplaintSettings())
    if db.session.execute(sa.select(Role.id).where(Role.code == OFFICE_ROLE)).first() is None:
        role = Role(code=OFFICE_ROLE, name=OFFICE_ROLE_NAME, data_scope="hospital", is_default=False)
        role.set_permissions(OFFICE_PERMISSIONS)
        db.session.add(role)
