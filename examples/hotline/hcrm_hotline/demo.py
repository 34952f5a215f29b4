"""Demo calls for ``hcrm init --demo`` (only where the hotline is enabled)."""
import sqlalchemy as sa

from core.extensions import db
from hcrm_hotline.models import Call

DEMO_CALLS = (("13800001111", "Where do I collect my results?"),
              ("0731-84567890", "Visiting hours of the orthopaedic ward"))


def load(hospital):
    if db.session.execute(sa.select(Call.id).limit(1)).first() is None:
        db.session.add_all(Call(phone=phone, topic=topic) for phone, topic in DEMO_CALLS)
