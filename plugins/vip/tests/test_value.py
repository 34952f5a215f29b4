"""Customer value: the set-based re-score, each item's points and the explanation, RFM segments,
churn warnings, value-rule refusals (weights summing to 0, bad scales)."""
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_babel import force_locale

from core.extensions import db
from core.tenancy import hospital_scope
from plugins.vip import value
from plugins.vip.models import Score, ValueItem
from plugins.vip.tests.conftest import add_patient, hospital


def _items():
    return {item.code: item for item in value.items()}


def _rows(**changes):
    rows = {}
    for item in value.items():
        rows[item.id] = {"weight": item.weight, "scale": item.scale, "enabled": item.enabled,
                         **changes.get(item.code, {})}
    return rows


def test_rescore_scores_every_live_patient_with_its_explanation(app, vip):
    with app.app_context():
        loyal = add_patient("A", "甲", phone="13800000001", birth_date=None,
                            visits=[(3, 30000), (60, 20000), (120, 1000), (200, 500)])
        new = add_patient("A", "乙")
        add_patient("B", "丙", visits=[(1, 99999)])
        hid = hospital("A").id
        with hospital_scope(hid):
            assert value.rescore(hid) == 2
            db.session.commit()
            score = value.score_of(loyal)
            assert (score.visits, score.total_visits, score.spending) == (4, 4, Decimal("51500.00"))
            assert score.points_spending == 100 and score.points_recency == 100 and score.points_frequency == 50
            explained = {item.code: item for item in value.explain(score)}
            assert explained["spending"].points == 100 and explained["spending"].weight == 35
            assert float(score.score) == pytest.approx(sum(item.contribution for item in explained.values()), abs=0.05)
            empty = value.score_of(new)
            assert (empty.total_visits, empty.points_recency, empty.segment, empty.churn) == (0, 0, None, False)
            assert float(empty.score) < float(score.score)
        with hospital_scope(hospital("B")):
            assert db.session.execute(sa.select(sa.func.count()).select_from(Score)).scalar_one() == 0


def test_rfm_segments_put_recent_frequent_big_spenders_on_top(app, vip):
    with app.app_context():
        ids = []
        for n in range(10):
            # patient n: n+1 visits, the last one n*40 days ago, spending grows with n inverse
            visits = [(n * 40 + k, 1000 * (10 - n)) for k in range(10 - n)]
            ids.append(add_patient("A", f"病人{n}", visits=visits))
        hid = hospital("A").id
        with hospital_scope(hid):
            value.rescore(hid)
            db.session.commit()
            best, worst = value.score_of(ids[0]), value.score_of(ids[9])
            assert (best.r, best.f, best.m, best.segment) == (5, 5, 5, "champions")
            assert (worst.r, worst.f, worst.m, worst.segment) == (1, 1, 1, "lost")
            assert sum(value.segment_counts().values()) == 10
            assert sum(value.rfm_grid().values()) == 10


def test_churn_compares_the_gap_with_the_patients_own_interval(app, vip):
    with app.app_context():
        regular = add_patient("A", "规律", visits=[(10, 100), (40, 100), (70, 100)])      # every 30 days, seen 10 days ago
        late = add_patient("A", "逾期", visits=[(100, 100), (130, 100), (160, 100)])      # every 30 days, 100 days ago > 2×30
        once_recent = add_patient("A", "一次近", visits=[(30, 100)])
        once_old = add_patient("A", "一次远", visits=[(200, 100)])                          # > 180 days
        hid = hospital("A").id
        with hospital_scope(hid):
            value.rescore(hid)
            db.session.commit()
            flagged = {pid for pid in (regular, late, once_recent, once_old) if value.score_of(pid).churn}
            assert flagged == {late, once_old}
            value.save_settings({"churn_factor": "4", "churn_single_visit_days": 365, "window_months": 12})
            value.rescore(hid)
            assert not value.score_of(late).churn and not value.score_of(once_old).churn


def test_weights_summing_to_zero_are_refused_and_nothing_is_saved(app, vip):
    with app.app_context(), hospital_scope(hospital("A")):
        rows = {item_id: {**row, "weight": 0} for item_id, row in _rows().items()}
        with pytest.raises(value.VipInvalid) as refused:
            value.save_items(rows)
        assert "weight" in refused.value.errors
        db.session.rollback()
        assert sum(db.session.execute(sa.select(ValueItem.weight)).scalars()) == 110
        # Weights on disabled items only: the enabled ones still sum to 0.
        rows = {item_id: {**row, "enabled": False} for item_id, row in _rows().items()}
        with pytest.raises(value.VipInvalid):
            value.save_items(rows)


@pytest.mark.parametrize("scale, message", [
    ("1000", "threshold:points"), ("-5:10", "negative"), ("100:150", "between 0 and 100"), ("", "at least one"),
    ("a:b", "not threshold:points"), ("10:1, 10:2", "once"),
])
def test_bad_scales_and_weights_are_refused(app, vip, scale, message):
    with app.app_context(), hospital_scope(hospital("A")), force_locale("en"):
        with pytest.raises(value.VipInvalid) as refused:
            value.save_items(_rows(spending={"scale": scale}))
        assert message in refused.value.errors["spending.scale"]
        with pytest.raises(value.VipInvalid) as refused:
            value.save_items(_rows(spending={"weight": "-3"}))
        assert "spending.weight" in refused.value.errors


def test_disabled_item_gives_no_points_to_the_score(app, vip):
    with app.app_context():
        patient = add_patient("A", "甲", visits=[(3, 60000)])
        hid = hospital("A").id
        with hospital_scope(hid):
            value.save_items(_rows(spending={"enabled": False}))
            value.rescore(hid)
            score = value.score_of(patient)
            spending = next(item for item in value.explain(score) if item.code == "spending")
            assert spending.points == 100 and spending.contribution == 0
            assert float(score.score) == pytest.approx(sum(i.contribution for i in value.explain(score)), abs=0.05)


def test_survey_satisfaction_counts_only_where_followup_surveys(app, vip):
    from datetime import datetime

    from core.testing import make_hospital
    from plugins.followup.public import Question, Questionnaire, SurveyAnswer, SurveyResponse
    with app.app_context():
        make_hospital("C", "丙医院", plugins=["patients", "followup", "vip"])
        happy = add_patient("C", "满意", visits=[(3, 100)])
        silent = add_patient("C", "未答", visits=[(3, 100)])
        plain = add_patient("A", "无随访", visits=[(3, 100)])
        hid = hospital("C").id
        with hospital_scope(hid):
            question = Question(text="满意吗", kind="scale", scale_min=1, scale_max=5)
            survey = Questionnaire(name="出院满意度")
            db.session.add_all([question, survey])
            db.session.flush()
            response = SurveyResponse(questionnaire_id=survey.id, patient_id=happy, answered_at=datetime(2026, 1, 1))
            db.session.add(response)
            db.session.flush()
            db.session.add(SurveyAnswer(response_id=response.id, question_id=question.id, score=5))
            value.rescore(hid)
            mine, theirs = value.score_of(happy), value.score_of(silent)
            assert (float(mine.satisfaction), mine.points_satisfaction) == (100.0, 100)
            assert (theirs.satisfaction, theirs.points_satisfaction) == (None, 0)
            assert float(mine.score) > float(theirs.score)
            for score in (mine, theirs):  # the explanation adds up to the score either way
                assert float(score.score) == pytest.approx(sum(i.contribution for i in value.explain(score)), abs=0.05)
        with hospital_scope(hospital("A")):
            value.rescore(hospital("A").id)
            assert value.score_of(plain).satisfaction is None  # no follow-up centre there


def test_rescore_rewrites_only_changed_scores_and_drops_merged_patients(app, vip):
    from datetime import datetime

    from plugins.patients.public import Patient
    from plugins.vip.tests.conftest import add_visits
    with app.app_context():
        steady = add_patient("A", "甲", visits=[(30, 500)])
        active = add_patient("A", "乙", visits=[(30, 500)])
        duplicate = add_patient("A", "丙", visits=[(30, 500)])
        hid = hospital("A").id
        with hospital_scope(hid):
            value.rescore(hid)
            db.session.execute(sa.update(Score).values(computed_at=datetime(2020, 1, 1)))
            db.session.commit()
        add_visits("A", active, [(1, 30000)])
        with hospital_scope(hid):
            # Merged while vip did not hear of it (e.g. switched off): the next re-score drops it.
            db.session.execute(sa.update(Patient).where(Patient.id == duplicate).values(merged_into_id=steady))
            assert value.rescore(hid) == 2
            db.session.commit()
            assert value.score_of(steady).computed_at == datetime(2020, 1, 1)  # nothing changed: not rewritten
            changed = value.score_of(active)
            assert changed.computed_at > datetime(2020, 1, 1) and changed.spending == Decimal("30500.00")
            assert value.score_of(duplicate) is None
