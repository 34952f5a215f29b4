"""Moving a merged duplicate patient's follow-up rows to the patient kept, shared by both parts."""
import sqlalchemy as sa

from core.extensions import db


def repoint_patient(models, source, target) -> None:
    """One UPDATE per model: rows of ``source`` now point at ``target``. The hospital is named
    and the ORM's data scope is bypassed on purpose: the merging user's scope must not leave
    someone else's rows behind on the merged-away patient."""
    for model in models:
        table = model.__table__
        db.session.execute(sa.update(table)
                           .where(table.c.hospital_id == source.hospital_id, table.c.patient_id == source.id)
                           .values(patient_id=target.id))
