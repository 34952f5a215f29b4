"""``core.choices``: the order of a hospital's choice list, moved and extended within that
hospital only (shown on the patients plugin's sources, which are such a list)."""
import sqlalchemy as sa

from core import choices
from core.extensions import db
from core.tenancy import hospital_scope, system_scope
from core.testing import make_hospital


def test_move_and_append_stay_within_the_hospital(app):
    from plugins.patients.models import Source  # a choice list the patients plugin seeds (the core has none)

    with app.app_context():
        a = make_hospital("A", plugins=["patients"]).id
        b = make_hospital("B", plugins=["patients"]).id
        with hospital_scope(a):
            start = [s.name for s in choices.ordered(Source)]
            assert len(start) >= 3
            rows = choices.ordered(Source)
            first, second, last = rows[0], rows[1], rows[-1]
            choices.move(first, -1)  # already first: nothing moves
            choices.move(last, +1)  # already last: nothing moves
            db.session.commit()
            assert [s.name for s in choices.ordered(Source)] == start
            choices.move(second, -1)
            db.session.commit()
            assert [s.name for s in choices.ordered(Source)][:2] == [start[1], start[0]]
            db.session.add(Source(code="new", name="新渠道", position=choices.next_position(Source)))
            first.active = False
            db.session.commit()
            assert [s.name for s in choices.ordered(Source)][-1] == "新渠道"
            assert first.name not in [s.name for s in choices.ordered(Source, active_only=True)]
        # hospital B's list was neither renumbered nor extended
        with hospital_scope(b):
            assert [s.name for s in choices.ordered(Source)] == start
        with system_scope():
            positions = db.session.execute(sa.select(Source.position).where(Source.hospital_id == b)
                                           .order_by(Source.position)).scalars().all()
        assert positions == sorted(set(positions))
