"""Re-tiering: the tier rules evaluated set-based in SQL over the whole hospital.

One SELECT aggregates the hospital's visits per patient (one pass, one column pair per rule
window) and picks each patient's best tier whose rule they meet (``targets``); ``moves`` compares
that with the members: ``join`` (no tier yet), ``up``, ``down`` (a rule member below their tier's
rule once the grace period has run out, or at once without one), ``leave`` (meets no rule any
more, grace over), ``hold`` (just fell below: the grace period starts) and ``clear`` (back above:
it ends). A manual member is moved up by the rules, never down.

The preview counts the moves without writing. Applying writes each changed member row once: on
PostgreSQL one statement whose data-modifying CTEs upsert the members (INSERT … ON CONFLICT DO
UPDATE … WHERE something changes), delete the leavers and write the history for the rows those two
report back; on SQLite (no data-modifying CTE) the same writes as three statements. Never a row at
a time in Python, no working table. All statements use the tables directly and name the hospital
themselves (Core statements bypass the ORM's scoping).
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from core.clock import local_now, local_today
from core.extensions import db
from core.models import utcnow
from plugins.patients.public import Patient, Visit
from plugins.vip.models import Member, RetierRun, Tier, TierChange, TierRule
from plugins.vip.tiering import RuleSpec, active_specs

VISITS = Visit.__table__
PATIENTS = Patient.__table__
MEMBERS = Member.__table__
TIERS = Tier.__table__
CHANGES = TierChange.__table__
COUNTED = ("join", "up", "down", "leave", "hold", "clear")
ANALYZE_AFTER = 10000  # moves in one run after which the member table's statistics are refreshed


def months_back(moment: datetime, months: int) -> datetime:
    """``moment`` minus whole calendar months (the day clamped to the shorter month)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _rule_met(spec: RuleSpec, agg) -> sa.ColumnElement:
    spending, visits = agg.c[f"s{spec.window_months}"], agg.c[f"v{spec.window_months}"]
    checks = []
    if spec.min_spending is not None:
        checks.append(spending >= spec.min_spending)
    if spec.min_visits is not None:
        checks.append(visits >= spec.min_visits)
    combined = sa.and_(*checks) if spec.combine == "and" else sa.or_(*checks)
    return sa.and_(visits >= 1, combined)  # a tier needs activity within its window


def targets(hospital_id: int, specs: list[RuleSpec], now: datetime):
    """(patient_id, tier_id): each live patient's best tier by the rules (None when no rule)."""
    if not specs:
        return None
    windows = sorted({spec.window_months for spec in specs})
    cutoffs = {months: months_back(now, months) for months in windows}
    columns = [VISITS.c.patient_id]
    for months, cutoff in cutoffs.items():
        recent = VISITS.c.visit_at >= cutoff
        columns.append(sa.func.sum(sa.case((recent, VISITS.c.spending), else_=0)).label(f"s{months}"))
        columns.append(sa.func.sum(sa.case((recent, 1), else_=0)).label(f"v{months}"))
    agg = (sa.select(*columns)
           .where(VISITS.c.hospital_id == hospital_id, VISITS.c.visit_at >= min(cutoffs.values()),
                  VISITS.c.visit_at <= now, VISITS.c.status != "cancelled")
           .group_by(VISITS.c.patient_id).subquery("agg"))
    best = sa.case(*[(_rule_met(spec, agg), spec.tier_id) for spec in specs], else_=None)  # best tier first
    chosen = (sa.select(agg.c.patient_id, best.label("tier_id"))
              .join(PATIENTS, PATIENTS.c.id == agg.c.patient_id)
              .where(PATIENTS.c.hospital_id == hospital_id, PATIENTS.c.merged_into_id.is_(None))
              .subquery("chosen"))
    # A CTE: the visits are aggregated once however often the moves refer to the targets.
    return sa.select(chosen.c.patient_id, chosen.c.tier_id).where(chosen.c.tier_id.is_not(None)).cte("target")


def _grace_cutoffs(hospital_id: int, specs: list[RuleSpec], today: date):
    """SQL: is a member's grace period over (or is there none)? Per the member's current tier."""
    grace = {spec.tier_id: spec.grace_days for spec in specs if spec.grace_days > 0}
    if not grace:
        return lambda member: sa.true()
    cutoff = sa.case(*[(MEMBERS.c.tier_id == tier_id, today - timedelta(days=days))
                       for tier_id, days in grace.items()], else_=None)
    return lambda member: sa.or_(MEMBERS.c.tier_id.not_in(list(grace)),
                                 sa.and_(MEMBERS.c.below_since.is_not(None), MEMBERS.c.below_since <= cutoff))


def moves(hospital_id: int, specs: list[RuleSpec], now: datetime, today: date):
    """(patient_id, from_tier_id, to_tier_id, move) for every membership the rules change."""
    target = targets(hospital_id, specs, now)
    grace_over = _grace_cutoffs(hospital_id, specs, today)(MEMBERS)
    member_tier = TIERS.alias("member_tier")
    lower_rule = MEMBERS.c.reason_kind == "rule"
    parts = []
    if target is not None:
        target_tier = TIERS.alias("target_tier")
        below = target_tier.c.position < member_tier.c.position
        move = sa.case(
            (MEMBERS.c.id.is_(None), "join"),
            (target_tier.c.position > member_tier.c.position, "up"),
            (sa.and_(below, lower_rule, grace_over), "down"),
            (sa.and_(below, lower_rule, MEMBERS.c.below_since.is_(None)), "hold"),
            (sa.and_(target_tier.c.position >= member_tier.c.position, MEMBERS.c.below_since.is_not(None)), "clear"),
            else_=None)
        parts.append(sa.select(target.c.patient_id, MEMBERS.c.tier_id.label("from_tier_id"),
                               target.c.tier_id.label("to_tier_id"), move.label("move"))
                     .select_from(target.join(target_tier, target_tier.c.id == target.c.tier_id)
                                  .outerjoin(MEMBERS, sa.and_(MEMBERS.c.patient_id == target.c.patient_id,
                                                              MEMBERS.c.hospital_id == hospital_id))
                                  .outerjoin(member_tier, member_tier.c.id == MEMBERS.c.tier_id)))
    leave = sa.case((grace_over, "leave"), (MEMBERS.c.below_since.is_(None), "hold"), else_=None)
    without = (sa.select(MEMBERS.c.patient_id, MEMBERS.c.tier_id.label("from_tier_id"),
                         sa.null().label("to_tier_id"), leave.label("move"))
               .where(MEMBERS.c.hospital_id == hospital_id, lower_rule))
    if target is not None:
        # An anti-join (never NOT IN: past work_mem PostgreSQL re-reads the subquery per member).
        without = (without.select_from(MEMBERS.outerjoin(target, target.c.patient_id == MEMBERS.c.patient_id))
                   .where(target.c.patient_id.is_(None)))
    parts.append(without)
    every = sa.union_all(*parts).subquery("every") if len(parts) > 1 else parts[0].subquery("every")
    return sa.select(every).where(every.c.move.is_not(None))


@dataclass
class Preview:
    join: int = 0
    up: int = 0
    down: int = 0
    leave: int = 0
    hold: int = 0
    clear: int = 0

    @property
    def changes(self) -> int:
        return self.join + self.up + self.down + self.leave


def preview(hospital_id: int, specs: list[RuleSpec] | None = None) -> Preview:
    """What applying the rules (the saved ones, or ``specs``) would do now; writes nothing."""
    specs = active_specs() if specs is None else specs
    found = moves(hospital_id, specs, local_now(), local_today()).subquery("moves")
    counts = dict(db.session.execute(sa.select(found.c.move, sa.func.count()).group_by(found.c.move)).all())
    return Preview(**{move: counts.get(move, 0) for move in COUNTED})


def _member_rows(found, hospital_id: int, stamp: datetime, today: date):
    """The members' rows after the moves other than ``leave``: the new tier (hold and clear keep
    theirs) and the grace period's start."""
    keeps = found.c.move.in_(("hold", "clear"))
    return (["hospital_id", "patient_id", "tier_id", "since", "reason_kind", "below_since"],
            sa.select(sa.literal(hospital_id), found.c.patient_id,
                      sa.case((keeps, found.c.from_tier_id), else_=found.c.to_tier_id),
                      sa.literal(stamp, sa.DateTime), sa.literal("rule"),
                      sa.case((found.c.move == "hold", sa.literal(today, sa.Date)), else_=sa.null()))
            .where(found.c.move.in_(("join", "up", "down", "hold", "clear"))))


def _upsert(dialect: str, columns, rows):
    """INSERT … ON CONFLICT (patient) DO UPDATE of the members, only where something changes.
    A member keeping their tier (hold, clear) keeps since, why and who; a new tier is the rule's."""
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(MEMBERS).from_select(columns, rows)
    new = insert.excluded
    same_tier = MEMBERS.c.tier_id == new.tier_id

    def kept_or(column, value):
        return sa.case((same_tier, MEMBERS.c[column]), else_=value)

    return insert.on_conflict_do_update(
        index_elements=[MEMBERS.c.patient_id],
        set_={"tier_id": new.tier_id, "below_since": new.below_since, "since": kept_or("since", new.since),
              "reason_kind": kept_or("reason_kind", new.reason_kind), "reason": kept_or("reason", sa.null()),
              "changed_by_id": kept_or("changed_by_id", sa.null())},
        where=sa.or_(MEMBERS.c.tier_id != new.tier_id, MEMBERS.c.below_since.is_distinct_from(new.below_since)))


def _history(found, hospital_id: int, run_id: int, stamp: datetime, kinds=("join", "up", "down", "leave")):
    return (["hospital_id", "patient_id", "from_tier_id", "to_tier_id", "direction", "kind", "run_id", "changed_at"],
            sa.select(sa.literal(hospital_id), found.c.patient_id, found.c.from_tier_id, found.c.to_tier_id,
                      found.c.move, sa.literal("rule"), sa.literal(run_id), sa.literal(stamp, sa.DateTime))
            .where(found.c.move.in_(kinds)))


def _apply_postgresql(found, hospital_id: int, run_id: int, stamp: datetime, today: date) -> dict[str, int]:
    """One statement: the moves (visits aggregated once) feed a data-modifying CTE per write, so
    each member row is written once and the history only for the rows the upsert and the
    delete report back (RETURNING)."""
    found = found.cte("moves")
    upserted = (_upsert("postgresql", *_member_rows(found, hospital_id, stamp, today))
                .returning(MEMBERS.c.patient_id).cte("upserted"))
    removed = (sa.delete(MEMBERS).where(MEMBERS.c.hospital_id == hospital_id,
                                        MEMBERS.c.patient_id == found.c.patient_id, found.c.move == "leave")
               .returning(MEMBERS.c.patient_id).cte("removed"))
    written = sa.union_all(sa.select(upserted.c.patient_id), sa.select(removed.c.patient_id)).subquery("written")
    changed = (sa.select(found).join(written, written.c.patient_id == found.c.patient_id).subquery("changed"))
    history = sa.insert(CHANGES).from_select(*_history(changed, hospital_id, run_id, stamp)).cte("history")
    counted = sa.select(found.c.move, sa.func.count()).group_by(found.c.move).add_cte(upserted, removed, history)
    return dict(db.session.execute(counted).all())


def _apply_sqlite(found, hospital_id: int, run_id: int, stamp: datetime, today: date) -> dict[str, int]:
    """SQLite has no data-modifying CTE: the moves are evaluated per statement, the history
    first (it reads the members before they change), then the leavers' delete (after which
    they are no longer among the moves) and the upsert."""
    moved = found.subquery("moves")
    counts = dict(db.session.execute(sa.select(moved.c.move, sa.func.count()).group_by(moved.c.move)).all())
    db.session.execute(sa.insert(CHANGES).from_select(*_history(found.subquery("moves"), hospital_id, run_id, stamp)))
    leaving = found.subquery("moves")
    db.session.execute(sa.delete(MEMBERS).where(
        MEMBERS.c.hospital_id == hospital_id,
        MEMBERS.c.patient_id.in_(sa.select(leaving.c.patient_id).where(leaving.c.move == "leave"))))
    db.session.execute(_upsert("sqlite", *_member_rows(found.subquery("moves"), hospital_id, stamp, today)))
    return counts


def apply(hospital_id: int, user_id: int | None = None) -> RetierRun:
    """Apply the saved rules to the whole hospital, in the caller's transaction."""
    specs = active_specs()
    now, today, stamp = local_now(), local_today(), utcnow()
    run = RetierRun(hospital_id=hospital_id, user_id=user_id, started_at=stamp)
    db.session.add(run)
    db.session.flush()
    dialect = db.session.get_bind().dialect.name
    write = _apply_postgresql if dialect == "postgresql" else _apply_sqlite
    counts = write(moves(hospital_id, specs, now, today), hospital_id, run.id, stamp, today)
    if sum(counts.values()) > ANALYZE_AFTER and dialect == "postgresql":
        # Fresh statistics for the next run's plan: with the stale ones of a table that just
        # grew by a million rows, PostgreSQL would compare members and targets in a nested loop.
        db.session.execute(sa.text("ANALYZE vip_member"))
    run.joined, run.moved_up, run.moved_down = counts.get("join", 0), counts.get("up", 0), counts.get("down", 0)
    run.left, run.held, run.finished_at = counts.get("leave", 0), counts.get("hold", 0), utcnow()
    db.session.flush()
    return run


def run_task(hospital, **_args) -> None:
    """The queue's entry (task ``vip.retier`` and the nightly job): apply in the task's transaction."""
    from core.tenancy import current_scope
    scope = current_scope()
    apply(hospital.id, scope.user_id if scope else None)


def last_runs(limit: int = 10) -> list[RetierRun]:
    return list(db.session.execute(sa.select(RetierRun).order_by(RetierRun.id.desc()).limit(limit)).scalars())


def rule_rows() -> list[TierRule]:
    return list(db.session.execute(sa.select(TierRule)).scalars())
