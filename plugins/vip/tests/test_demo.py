"""Demo data: members in several tiers, scores, a manual change; loading twice moves no one."""
import sqlalchemy as sa

from core.demo import load_demo
from core.extensions import db
from core.tenancy import hospital_scope
from core.testing import make_hospital
from plugins.vip.models import Member, Score, TierChange


def test_demo_hospital_has_members_scores_and_a_manual_change(app):
    with app.app_context():
        demo = make_hospital("DEMO1", "示范第一医院", plugins=["patients", "vip"])
        load_demo(demo)
        with hospital_scope(demo):
            members = db.session.execute(sa.select(sa.func.count()).select_from(Member)).scalar_one()
            tiers = db.session.execute(sa.select(sa.func.count(sa.distinct(Member.tier_id)))).scalar_one()
            changes = db.session.execute(sa.select(sa.func.count()).select_from(TierChange)).scalar_one()
            assert members > 0 and tiers >= 2
            assert db.session.execute(sa.select(sa.func.count()).select_from(Score)).scalar_one() > 0
            assert db.session.execute(sa.select(TierChange.reason).where(TierChange.kind == "manual")).scalar_one()
        load_demo(demo)
        with hospital_scope(demo):
            assert db.session.execute(sa.select(sa.func.count()).select_from(TierChange)).scalar_one() == changes
