"""Tier rules: refusals (overlaps, negative thresholds), the set-based preview and apply, grace
periods, manual members, history, and the other hospital untouched."""
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.clock import local_today
from core.extensions import db
from core.tenancy import hospital_scope
from plugins.vip import retier, tiering
from plugins.vip.models import Member, Tier, TierChange, TierRule
from plugins.vip.tests.conftest import add_patient, add_visits, apply_rules, hospital, members, tier_ids


def _tier(code, tier_code):
    return db.session.execute(sa.select(Tier).where(Tier.code == tier_code)).scalar_one()


def test_enable_seeds_four_tiers_with_rules_that_do_not_overlap(app, vip):
    with app.app_context(), hospital_scope(hospital("A")):
        tiers = tiering.ordered_tiers()
        assert [t.name for t in tiers] == ["钻石", "金卡", "银卡", "普通"]
        assert all(t.rule is not None and t.service_norms for t in tiers)
        tiering.check_overlaps(tiering.active_specs())  # no refusal


def test_overlapping_rule_is_refused_with_both_tiers_named_and_nothing_saved(app, vip):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        gold = _tier("A", "gold")
        with pytest.raises(tiering.VipInvalid) as refused:
            # 金卡 at ≥ ¥3,000: everyone meeting 银卡 (≥ ¥5,000 or ≥ 4 visits) … not all, but
            # every 银卡 spending corner meets it; with "or ≥ 2 visits" every 银卡 patient does.
            tiering.save_rule(gold, {"window_months": 12, "min_spending": "3000", "min_visits": 2, "combine": "or"})
        message = refused.value.errors["rule"]
        assert "银卡" in message and "金卡" in message and "could never be reached" in message
        db.session.rollback()
        assert db.session.execute(sa.select(TierRule.min_spending).where(TierRule.tier_id == gold.id)).scalar_one() == 20000


def test_same_rule_on_two_tiers_is_refused(app, vip):
    with app.app_context(), hospital_scope(hospital("A")):
        gold = _tier("A", "gold")
        with pytest.raises(tiering.VipInvalid, match="银卡"):
            tiering.save_rule(gold, {"window_months": 12, "min_spending": "5000", "min_visits": 4, "combine": "or"})


@pytest.mark.parametrize("data, field", [
    ({"window_months": 12, "min_spending": "-1"}, "min_spending"),
    ({"window_months": 12, "min_visits": "-3"}, "min_visits"),
    ({"window_months": -12, "min_visits": 3}, "window_months"),
    ({"window_months": 12, "min_visits": 3, "grace_days": -1}, "grace_days"),
    ({"window_months": 12}, "min_spending"),
    ({"window_months": 12, "min_spending": "abc"}, "min_spending"),
    ({"window_months": 12, "min_spending": "NaN"}, "min_spending"),
    ({"window_months": 12, "min_visits": 3, "combine": "xor"}, "combine"),
])
def test_bad_rule_input_is_refused_per_field(app, vip, data, field):
    with app.app_context(), hospital_scope(hospital("A")):
        with pytest.raises(tiering.VipInvalid) as refused:
            tiering.save_rule(_tier("A", "diamond"), data)
        assert field in refused.value.errors


def test_preview_counts_and_apply_moves_set_based(app, vip):
    with app.app_context():
        rich = add_patient("A", "甲", visits=[(10, 30000), (40, 25000), (70, 1000)] + [(d, 100) for d in range(80, 170, 10)])
        gold = add_patient("A", "乙", visits=[(5, 21000)])
        normal = add_patient("A", "丙", visits=[(100, 50)])
        old = add_patient("A", "丁", visits=[(500, 90000)])  # outside the 12-month window
        add_patient("B", "戊", visits=[(5, 99000)])
        with hospital_scope(hospital("A")):
            shown = retier.preview(hospital("A").id)
            assert (shown.join, shown.up, shown.down, shown.leave) == (3, 0, 0, 0)
            assert db.session.execute(sa.select(sa.func.count()).select_from(Member)).scalar_one() == 0
            run = retier.apply(hospital("A").id)
            db.session.commit()
            assert (run.joined, run.moved_up) == (3, 0)
        assert members("A") == {rich: "diamond", gold: "gold", normal: "normal"}
        assert old not in members("A") and members("B") == {}
        with hospital_scope(hospital("A")):
            assert retier.preview(hospital("A").id).changes == 0  # applying again changes nothing
            history = tiering.history_of(rich)
            assert [(h.direction, h.kind, h.to_tier.code) for h in history] == [("join", "rule", "diamond")]


def test_upgrade_then_grace_before_downgrade(app, vip):
    with app.app_context():
        patient = add_patient("A", "甲", visits=[(5, 6000)])
        hid = hospital("A").id
        apply_rules("A")
        assert members("A")[patient] == "silver"
        add_visits("A", patient, [(1, 20000)])
        with hospital_scope(hid):
            assert retier.preview(hid).up == 1
        apply_rules("A")
        assert members("A")[patient] == "gold"
        # Gold now asks ≥ ¥30,000: the patient falls below; 90 grace days before the move down.
        with hospital_scope(hid):
            tiering.save_rule(_tier("A", "gold"), {"window_months": 12, "min_spending": "30000", "min_visits": 10,
                                                   "grace_days": 90})
            shown = retier.preview(hid)
            assert (shown.down, shown.hold) == (0, 1)
            retier.apply(hid)
            db.session.commit()
            member = db.session.execute(sa.select(Member).where(Member.patient_id == patient)).scalar_one()
            assert member.below_since == local_today() and member.tier.code == "gold"
            member.below_since = local_today() - timedelta(days=91)  # the grace period has run out
            db.session.commit()
            assert retier.preview(hid).down == 1
        apply_rules("A")
        assert members("A")[patient] == "silver"
        with hospital_scope(hid):
            assert [h.direction for h in tiering.history_of(patient)] == ["down", "up", "join"]


def test_member_without_any_rule_met_leaves_after_grace(app, vip):
    with app.app_context():
        patient = add_patient("A", "甲", visits=[(5, 100)])
        hid = hospital("A").id
        with hospital_scope(hid):
            retier.apply(hid)
            db.session.commit()
            rule = _tier("A", "normal").rule
            rule.min_visits = 2  # the patient no longer qualifies; 普通 has no grace
            db.session.commit()
            assert retier.preview(hid).leave == 1
            retier.apply(hid)
            db.session.commit()
        assert patient not in members("A")


def test_manual_change_needs_a_reason_and_is_never_downgraded_by_rules(app, vip):
    with app.app_context():
        patient = add_patient("A", "甲", visits=[(5, 100)])
        hid = hospital("A").id
        diamond = tier_ids("A")["diamond"]
        with hospital_scope(hid):
            from plugins.patients.public import Patient
            row = db.session.get(Patient, patient)
            for reason in ("", "   ", None):
                with pytest.raises(tiering.VipInvalid) as refused:
                    tiering.change_member_tier(row, diamond, reason, vip["a_admin"])
                assert "reason" in refused.value.errors
            assert db.session.execute(sa.select(sa.func.count()).select_from(TierChange)).scalar_one() == 0
            with pytest.raises(tiering.VipInvalid) as refused:
                tiering.change_member_tier(row, tier_ids("B")["gold"], "院长批准", vip["a_admin"])
            assert "tier_id" in refused.value.errors
            tiering.change_member_tier(row, diamond, "院长批准", vip["a_admin"])
            db.session.commit()
            assert retier.preview(hid).changes == 0
            retier.apply(hid)
            db.session.commit()
        assert members("A")[patient] == "diamond"
        with hospital_scope(hid):
            change = tiering.history_of(patient)[0]
            assert (change.kind, change.reason, change.user_id) == ("manual", "院长批准", vip["a_admin"])


def test_another_hospitals_patient_is_not_found(app, vip):
    with app.app_context():
        theirs = add_patient("B", "乙")
        with hospital_scope(hospital("A")):
            with pytest.raises(tiering.VipInvalid) as refused:
                tiering.find_patient(theirs)
            assert "patient_id" in refused.value.errors


def test_back_above_the_rule_ends_the_grace_period_without_a_move(app, vip):
    """hold then clear: only below_since changes (the tier, since and history stay); a manual
    member the rules move up becomes a rule member; the other hospital's members are untouched."""
    with app.app_context():
        patient = add_patient("A", "甲", visits=[(5, 25000)])
        manual = add_patient("A", "乙", visits=[(5, 100)])
        theirs = add_patient("B", "丙", visits=[(5, 100)])
        hid = hospital("A").id
        apply_rules("A")
        apply_rules("B")
        with hospital_scope(hid):
            from plugins.patients.public import Patient
            tiering.change_member_tier(db.session.get(Patient, manual), tier_ids("A")["silver"], "老客户", vip["a_admin"])
            db.session.commit()
            joined_at = db.session.execute(sa.select(Member.since).where(Member.patient_id == patient)).scalar_one()
            tiering.save_rule(_tier("A", "gold"), {"window_months": 12, "min_spending": "30000", "min_visits": 10,
                                                   "grace_days": 90})
            run = retier.apply(hid)
            db.session.commit()
            assert (run.held, run.moved_down) == (1, 0)
        add_visits("A", patient, [(2, 6000)])
        add_visits("A", manual, [(2, 31000)])
        with hospital_scope(hid):
            shown = retier.preview(hid)
            assert (shown.clear, shown.up, shown.changes) == (1, 1, 1)
            retier.apply(hid)
            db.session.commit()
            held = db.session.execute(sa.select(Member).where(Member.patient_id == patient)).scalar_one()
            assert (held.tier.code, held.below_since, held.since) == ("gold", None, joined_at)
            assert [h.direction for h in tiering.history_of(patient)] == ["join"]
            moved = db.session.execute(sa.select(Member).where(Member.patient_id == manual)).scalar_one()
            assert (moved.tier.code, moved.reason_kind, moved.reason, moved.changed_by_id) == ("gold", "rule", None, None)
            assert [(h.direction, h.kind) for h in tiering.history_of(manual)] == [("up", "rule"), ("up", "manual"),
                                                                                   ("join", "rule")]
            assert retier.preview(hid).changes == 0
        assert members("B") == {theirs: "normal"}
