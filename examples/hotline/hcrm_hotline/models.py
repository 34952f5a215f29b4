"""The hotline's table. Its name starts with ``hotline_`` (checked at start-up).

Change the model, then write the migration with ``hcrm db revision --plugin hotline -m "what changed"``.
"""
import sqlalchemy as sa
from sqlalchemy.orm import relationship

from core.extensions import db
from core.models import utcnow
from core.tenancy import DataScoped
from plugins.patients.public import Patient


class Call(DataScoped, db.Model):
    __tablename__ = "hotline_call"

    id = sa.Column(sa.Integer, primary_key=True)
    phone = sa.Column(sa.String(32), nullable=False, index=True)
    topic = sa.Column(sa.String(200), nullable=False)
    received_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    tag = sa.Column(sa.String(32), nullable=True)
    # The caller, when known: a patient of the call's own hospital (the core refuses any other).
    patient_id = sa.Column(sa.Integer, sa.ForeignKey(Patient.id), nullable=True, index=True)
    patient = relationship(Patient)

    def __str__(self) -> str:
        return f"{self.phone}: {self.topic}"
