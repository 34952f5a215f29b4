"""patients_visit carries no index that another one already covers: each costs every insert."""
import sqlalchemy as sa

from core.extensions import db


def test_visits_have_no_redundant_hospital_index(app):
    with app.app_context():
        inspector = sa.inspect(db.engine)
        indexes = [i["column_names"] for i in inspector.get_indexes("patients_visit")]
        uniques = [u["column_names"] for u in inspector.get_unique_constraints("patients_visit")]
    assert ["hospital_id"] not in indexes
    # what a lookup by hospital alone (the tenancy filter) uses instead
    assert ["hospital_id", "visit_at"] in indexes and ["hospital_id", "external_id"] in uniques + indexes
