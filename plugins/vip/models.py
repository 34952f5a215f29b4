"""The vip plugin's tables (营销管理: VIP管理, 客户价值管理).

Every table is hospital-owned. Tiers are ordered by ``position`` (higher = better); a tier's
rule (one per tier) qualifies patients automatically. A patient is a *member* when a row of
``vip_member`` names their tier; ``vip_tier_change`` is the full history.
``vip_score`` holds each live patient's value score, its points per item, RFM quintiles and
segment, and the churn flag, rewritten by the (set-based) re-score job.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import relationship

from core.extensions import db
from core.models import utcnow
from core.tenancy import DataScoped, HospitalOwned, ScopedThrough

COMBINES = ("or", "and")
REASON_KINDS = ("rule", "manual")
DIRECTIONS = ("join", "up", "down", "leave")
MOVES = ("join", "up", "down", "leave", "hold", "clear")  # hold: starts a grace period; clear: ends one
VALUE_ITEMS = ("profile", "spending", "frequency", "recency", "referrals", "referral_spending", "satisfaction")
SEGMENTS = ("champions", "loyal", "potential", "need_attention", "at_risk", "hibernating", "lost")


class Tier(HospitalOwned, db.Model):
    """A VIP tier (普通/银卡/金卡/钻石…): its order, colour, benefits and service norms (服务规范)."""

    __tablename__ = "vip_tier"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"), sa.UniqueConstraint("hospital_id", "name"))
    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(32), nullable=False)
    name = sa.Column(sa.String(64), nullable=False)
    position = sa.Column(sa.Integer, nullable=False, default=0)  # higher is a better tier
    colour = sa.Column(sa.String(7), nullable=False, default="#6c757d")
    benefits = sa.Column(sa.Text, nullable=True)
    service_norms = sa.Column(sa.Text, nullable=True)  # what staff owe a member: greetings, response times…
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    rule = relationship("TierRule", uselist=False, back_populates="tier")

    def __str__(self) -> str:
        return self.name


class TierRule(HospitalOwned, db.Model):
    """Automatic tiering: spending and/or visits over the last ``window_months``, combined by
    ``combine`` (or/and); a member who falls below keeps the tier ``grace_days`` more."""

    __tablename__ = "vip_tier_rule"
    __table_args__ = (sa.UniqueConstraint("tier_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    tier_id = sa.Column(sa.Integer, sa.ForeignKey("vip_tier.id", ondelete="CASCADE"), nullable=False)
    window_months = sa.Column(sa.Integer, nullable=False, default=12)
    min_spending = sa.Column(sa.Numeric(12, 2), nullable=True)
    min_visits = sa.Column(sa.Integer, nullable=True)
    combine = sa.Column(sa.String(3), nullable=False, default="or")
    grace_days = sa.Column(sa.Integer, nullable=False, default=0)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    updated_at = sa.Column(sa.DateTime, nullable=False, default=utcnow, onupdate=utcnow)

    tier = relationship("Tier", back_populates="rule")


class Member(ScopedThrough, db.Model):
    """A patient's current tier: since when and why (a rule, or a manual change with its reason).
    ``below_since`` is the day the patient first fell below the tier's rule (grace period)."""

    __tablename__ = "vip_member"
    __hcrm_scope_through__ = "patient_id"
    __table_args__ = (sa.UniqueConstraint("patient_id"), sa.Index("ix_vip_member_hospital_tier", "hospital_id", "tier_id"))
    id = sa.Column(sa.Integer, primary_key=True)
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id", ondelete="CASCADE"), nullable=False)
    tier_id = sa.Column(sa.Integer, sa.ForeignKey("vip_tier.id"), nullable=False)
    since = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    reason_kind = sa.Column(sa.String(8), nullable=False, default="rule")
    reason = sa.Column(sa.String(255), nullable=True)
    below_since = sa.Column(sa.Date, nullable=True)
    changed_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)

    patient = relationship("Patient")
    tier = relationship("Tier")
    changed_by = relationship("User")


class TierChange(ScopedThrough, db.Model):
    """One entry of a patient's tier history (the audit of every move, by rule or by hand)."""

    __tablename__ = "vip_tier_change"
    __hcrm_scope_through__ = "patient_id"
    __table_args__ = (sa.Index("ix_vip_tier_change_patient", "patient_id", "changed_at"),
                      sa.Index("ix_vip_tier_change_hospital_time", "hospital_id", "changed_at"))
    __hcrm_audit__ = False  # the history is itself the record of each change
    id = sa.Column(sa.Integer, primary_key=True)
    # Written by the hundred thousand in a re-tier run: no foreign key to the hospital (never
    # deleted; the run's statements name it), as patients' visits do.
    hospital_id = sa.Column(sa.Integer, nullable=False)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id", ondelete="CASCADE"), nullable=False)
    from_tier_id = sa.Column(sa.Integer, sa.ForeignKey("vip_tier.id"), nullable=True)
    to_tier_id = sa.Column(sa.Integer, sa.ForeignKey("vip_tier.id"), nullable=True)
    direction = sa.Column(sa.String(8), nullable=False)
    kind = sa.Column(sa.String(8), nullable=False, default="rule")
    reason = sa.Column(sa.String(255), nullable=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    run_id = sa.Column(sa.Integer, nullable=True)  # the RetierRun that wrote it (set by that run only)
    changed_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    from_tier = relationship("Tier", foreign_keys=[from_tier_id])
    to_tier = relationship("Tier", foreign_keys=[to_tier_id])
    user = relationship("User")


class RetierRun(HospitalOwned, db.Model):
    """One application of the tier rules to the whole hospital, with what it moved."""

    __tablename__ = "vip_retier_run"
    id = sa.Column(sa.Integer, primary_key=True)
    started_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    finished_at = sa.Column(sa.DateTime, nullable=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    joined = sa.Column(sa.Integer, nullable=False, default=0)
    moved_up = sa.Column(sa.Integer, nullable=False, default=0)
    moved_down = sa.Column(sa.Integer, nullable=False, default=0)
    left = sa.Column(sa.Integer, nullable=False, default=0)
    held = sa.Column(sa.Integer, nullable=False, default=0)


class ValueItem(HospitalOwned, db.Model):
    """An item of the customer value rule (客户价值规则): what is judged, its weight, its scale
    (``threshold:points`` pairs; recency's thresholds are days, met when at most that many) and
    whether it counts."""

    __tablename__ = "vip_value_item"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)
    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(32), nullable=False)
    name = sa.Column(sa.String(64), nullable=False)
    weight = sa.Column(sa.Integer, nullable=False, default=0)
    scale = sa.Column(sa.String(500), nullable=False, default="")
    enabled = sa.Column(sa.Boolean, nullable=False, default=True)
    position = sa.Column(sa.Integer, nullable=False, default=0)


class Settings(HospitalOwned, db.Model):
    """One row per hospital: churn warning factor and days, re-score window."""

    __tablename__ = "vip_settings"
    __table_args__ = (sa.UniqueConstraint("hospital_id"),)
    id = sa.Column(sa.Integer, primary_key=True)
    churn_factor = sa.Column(sa.Numeric(5, 2), nullable=False, default=2)
    churn_single_visit_days = sa.Column(sa.Integer, nullable=False, default=180)
    window_months = sa.Column(sa.Integer, nullable=False, default=12)  # spending and frequency window
    scored_at = sa.Column(sa.DateTime, nullable=True)


class Score(DataScoped, db.Model):
    """A live patient's value: the measures, points per item (0–100), the weighted score, RFM
    quintiles (5 best) and segment, and the churn warning. Rewritten by each re-score."""

    __tablename__ = "vip_score"
    __table_args__ = (sa.UniqueConstraint("patient_id"),
                      sa.Index("ix_vip_score_hospital_score", "hospital_id", "score"),
                      # The churn lists (all, per department, per owner), oldest last visit first:
                      # partial indexes of the flagged patients, read in order.
                      sa.Index("ix_vip_score_churn", "hospital_id", "last_visit_at", "patient_id",
                               postgresql_where=sa.text("churn"), sqlite_where=sa.text("churn")),
                      sa.Index("ix_vip_score_churn_department", "hospital_id", "department_id", "last_visit_at",
                               "patient_id", postgresql_where=sa.text("churn"), sqlite_where=sa.text("churn")),
                      sa.Index("ix_vip_score_churn_owner", "hospital_id", "owner_id", "last_visit_at", "patient_id",
                               postgresql_where=sa.text("churn"), sqlite_where=sa.text("churn")))
    __hcrm_audit__ = False  # derived data
    id = sa.Column(sa.Integer, primary_key=True)
    hospital_id = sa.Column(sa.Integer, nullable=False)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id", ondelete="CASCADE"), nullable=False)
    # The patient's owner and department, copied (no foreign keys: the patient's row holds the
    # references) so the data scopes and the churn lists per owner and department apply here.
    owner_id = sa.Column(sa.Integer, nullable=True)
    department_id = sa.Column(sa.Integer, nullable=True)
    completeness = sa.Column(sa.Integer, nullable=False, default=0)  # percent of the profile filled
    spending = sa.Column(sa.Numeric(14, 2), nullable=False, default=0)  # within the window
    visits = sa.Column(sa.Integer, nullable=False, default=0)  # within the window
    total_visits = sa.Column(sa.Integer, nullable=False, default=0)
    first_visit_at = sa.Column(sa.DateTime, nullable=True)
    last_visit_at = sa.Column(sa.DateTime, nullable=True)
    referrals = sa.Column(sa.Integer, nullable=False, default=0)
    referral_spending = sa.Column(sa.Numeric(14, 2), nullable=False, default=0)
    satisfaction = sa.Column(sa.Numeric(5, 2), nullable=True)  # from followup's surveys; None: unknown
    points_profile = sa.Column(sa.Integer, nullable=False, default=0)
    points_spending = sa.Column(sa.Integer, nullable=False, default=0)
    points_frequency = sa.Column(sa.Integer, nullable=False, default=0)
    points_recency = sa.Column(sa.Integer, nullable=False, default=0)
    points_referrals = sa.Column(sa.Integer, nullable=False, default=0)
    points_referral_spending = sa.Column(sa.Integer, nullable=False, default=0)
    points_satisfaction = sa.Column(sa.Integer, nullable=False, default=0)
    score = sa.Column(sa.Numeric(6, 2), nullable=False, default=0)
    r = sa.Column(sa.Integer, nullable=True)
    f = sa.Column(sa.Integer, nullable=True)
    m = sa.Column(sa.Integer, nullable=True)
    segment = sa.Column(sa.String(16), nullable=True)
    churn = sa.Column(sa.Boolean, nullable=False, default=False)
    computed_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)  # when the row last changed

    patient = relationship("Patient")


class ReferrerGrade(HospitalOwned, db.Model):
    """Referrer grading (铁牌/铜牌/银牌/金牌): a referrer holds the best grade whose thresholds
    (patients brought, what they spent) it reaches."""

    __tablename__ = "vip_referrer_grade"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "name"),)
    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(32), nullable=False)
    position = sa.Column(sa.Integer, nullable=False, default=0)
    min_patients = sa.Column(sa.Integer, nullable=False, default=0)
    min_spending = sa.Column(sa.Numeric(14, 2), nullable=False, default=0)


PLAN_KINDS = ("birthday", "quarterly", "festival", "after_visit")
TASK_STATUSES = ("pending", "in_progress", "done")  # 未执行 / 执行中 / 执行完毕


class ServicePlan(HospitalOwned, db.Model):
    """A VIP service plan of a tier (VIP服务计划): birthday care, a quarterly check-up reminder,
    festival greetings (``festival_dates``: MM-DD, comma separated), a staff call ``days_after``
    days after each visit. Each member of the tier gets a task at each due date."""

    __tablename__ = "vip_service_plan"
    id = sa.Column(sa.Integer, primary_key=True)
    tier_id = sa.Column(sa.Integer, sa.ForeignKey("vip_tier.id"), nullable=False, index=True)
    name = sa.Column(sa.String(100), nullable=False)
    kind = sa.Column(sa.String(16), nullable=False)
    days_after = sa.Column(sa.Integer, nullable=True)
    festival_dates = sa.Column(sa.String(200), nullable=True)
    method = sa.Column(sa.String(16), nullable=False, default="phone")  # phone, sms, wechat, home_visit
    content = sa.Column(sa.Text, nullable=True)
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    tier = relationship("Tier")


class ServiceTask(ScopedThrough, db.Model):
    """One due service for one member. Where the followup plugin is live the task is handed to
    it as a follow-up plan (``channel`` followup) and worked there; otherwise it is worked here."""

    __tablename__ = "vip_service_task"
    __hcrm_scope_through__ = "patient_id"
    __table_args__ = (sa.UniqueConstraint("plan_id", "patient_id", "due_date"),
                      sa.Index("ix_vip_service_task_hospital_due", "hospital_id", "status", "due_date"))
    __hcrm_audit__ = False  # generated in bulk; status changes are recorded on the row (done_by, done_at)
    id = sa.Column(sa.Integer, primary_key=True)
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False)
    plan_id = sa.Column(sa.Integer, sa.ForeignKey("vip_service_plan.id", ondelete="CASCADE"), nullable=False)
    tier_id = sa.Column(sa.Integer, sa.ForeignKey("vip_tier.id"), nullable=False)
    patient_id = sa.Column(sa.Integer, sa.ForeignKey("patients_patient.id", ondelete="CASCADE"), nullable=False)
    due_date = sa.Column(sa.Date, nullable=False)
    channel = sa.Column(sa.String(8), nullable=False, default="vip")
    status = sa.Column(sa.String(16), nullable=False, default="pending")
    note = sa.Column(sa.String(255), nullable=True)
    done_at = sa.Column(sa.DateTime, nullable=True)
    done_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)

    plan = relationship("ServicePlan")
    tier = relationship("Tier")
    patient = relationship("Patient")
    done_by = relationship("User")


MODELS = [Tier, TierRule, Member, TierChange, RetierRun, ValueItem, Settings, Score, ReferrerGrade,
          ServicePlan, ServiceTask]
