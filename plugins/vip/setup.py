"""Defaults seeded when the plugin is enabled for a hospital (idempotent: an enable after a
disable finds its rows and adds only what is missing), and moving rows on a patient merge."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from core.extensions import db
from plugins.vip.models import (
    Member,
    ReferrerGrade,
    Score,
    ServicePlan,
    ServiceTask,
    Settings,
    Tier,
    TierChange,
    TierRule,
    ValueItem,
)

# code, name, position, colour, benefits, service norms, rule (window, spending, visits, combine, grace)
DEFAULT_TIERS = (
    ("normal", "普通", 0, "#6c757d", "建立会员档案；就诊提醒。", "短信问候：生日、节日。",
     (12, None, 1, "or", 0)),
    ("silver", "银卡", 1, "#8a9299", "挂号优先；体检九五折。", "每季度电话回访一次；节日短信问候；48小时内回复咨询。",
     (12, Decimal("5000"), 4, "or", 90)),
    ("gold", "金卡", 2, "#c9a227", "专家号优先；体检九折；专属客服。",
     "专属客服；就诊后3天内电话关怀；生日电话及短信问候；24小时内回复咨询。", (12, Decimal("20000"), 10, "or", 90)),
    ("diamond", "钻石", 3, "#1c9fc4", "专家预约绿色通道；年度免费体检；专属健康管家。",
     "健康管家嘘寒问暖；就诊后次日电话关怀；生日上门或电话问候；节日礼品；2小时内回复咨询。",
     (12, Decimal("50000"), 12, "and", 180)),
)
# code, name, weight, scale
DEFAULT_ITEMS = (
    ("profile", "资料完整度", 10, "50:50, 75:80, 100:100"),
    ("spending", "消费金额", 35, "1000:20, 5000:50, 20000:80, 50000:100"),
    ("frequency", "就诊频次", 20, "1:20, 3:50, 6:80, 10:100"),
    ("recency", "最近就诊", 20, "30:100, 90:70, 180:40, 365:20"),
    ("referrals", "介绍病人数", 10, "1:40, 3:70, 10:100"),
    ("referral_spending", "介绍病人消费", 5, "1000:30, 10000:70, 50000:100"),
    ("satisfaction", "满意度", 10, "60:40, 80:70, 90:100"),  # counts where the follow-up centre surveys
)
# tier code, name, kind, days after a visit, festival dates, method, content
DEFAULT_PLANS = (
    ("silver", "节日短信问候", "festival", None, "01-01, 05-01, 10-01", "sms", "节日快乐！祝您和家人身体健康。"),
    ("gold", "生日关怀", "birthday", None, None, "phone", "生日电话问候，并发送生日祝福短信。"),
    ("gold", "季度体检提醒", "quarterly", None, None, "phone", "提醒预约本季度健康体检。"),
    ("diamond", "就诊后专属电话", "after_visit", 1, None, "phone", "健康管家于就诊次日电话关怀，了解恢复情况。"),
    ("diamond", "生日关怀", "birthday", None, None, "home_visit", "生日上门或电话问候，赠送生日礼品。"),
)
# name, position, patients brought, what they spent
DEFAULT_GRADES = (
    ("铁牌", 0, 1, Decimal("0")),
    ("铜牌", 1, 3, Decimal("5000")),
    ("银牌", 2, 10, Decimal("30000")),
    ("金牌", 3, 20, Decimal("100000")),
)


def seed_defaults(hospital) -> None:
    tiers = {tier.code: tier for tier in db.session.execute(sa.select(Tier)).scalars()}
    if not tiers:  # a hospital that removed or renamed tiers keeps its own
        for code, name, position, colour, benefits, norms, rule in DEFAULT_TIERS:
            tier = Tier(hospital_id=hospital.id, code=code, name=name, position=position, colour=colour,
                        benefits=benefits, service_norms=norms)
            db.session.add(tier)
            window, spending, visits, combine, grace = rule
            db.session.add(TierRule(hospital_id=hospital.id, tier=tier, window_months=window, min_spending=spending,
                                    min_visits=visits, combine=combine, grace_days=grace))
            tiers[code] = tier
        for code, name, kind, days, festival, method, content in DEFAULT_PLANS:
            db.session.add(ServicePlan(hospital_id=hospital.id, tier=tiers[code], name=name, kind=kind, days_after=days,
                                       festival_dates=festival, method=method, content=content))
    have = set(db.session.execute(sa.select(ValueItem.code)).scalars())
    for position, (code, name, weight, scale) in enumerate(DEFAULT_ITEMS):
        if code not in have:
            db.session.add(ValueItem(hospital_id=hospital.id, code=code, name=name, weight=weight, scale=scale,
                                     enabled=True, position=position))
    if db.session.execute(sa.select(ReferrerGrade.id).limit(1)).first() is None:
        for name, position, patients, spending in DEFAULT_GRADES:
            db.session.add(ReferrerGrade(hospital_id=hospital.id, name=name, position=position,
                                         min_patients=patients, min_spending=spending))
    if db.session.execute(sa.select(Settings.id).limit(1)).first() is None:
        db.session.add(Settings(hospital_id=hospital.id, churn_factor=Decimal(2), churn_single_visit_days=180,
                                window_months=12))
    db.session.flush()


def move_patient_rows(source, target) -> None:
    """A merge: the duplicate's history goes to the kept record; its membership too unless the
    kept record has one (then the duplicate's is dropped); its score is recomputed next run."""
    db.session.execute(sa.update(TierChange).where(TierChange.patient_id == source.id)
                       .values(patient_id=target.id))
    kept = db.session.execute(sa.select(Member.id).where(Member.patient_id == target.id)).first()
    if kept is None:
        db.session.execute(sa.update(Member).where(Member.patient_id == source.id).values(patient_id=target.id))
    else:
        db.session.execute(sa.delete(Member).where(Member.patient_id == source.id))
    db.session.execute(sa.delete(Score).where(Score.patient_id == source.id))
    db.session.execute(sa.update(ServiceTask).where(ServiceTask.patient_id == source.id)
                       .values(patient_id=target.id))
