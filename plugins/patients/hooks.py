"""Hooks the patients plugin publishes: domain events other plugins react to.

A plugin implementing one of these must list ``patients`` in its manifest's ``depends``.
Each is called only on plugins live for the patient's hospital, inside the transaction of the
change (raise to abort it).
"""
from core import hookspec


class PatientsHooks:
    @hookspec
    def patients_patient_created(self, patient):
        """A patient was registered (UI, API, import or HIS sync). Return None."""

    @hookspec
    def patients_patient_updated(self, patient, fields):
        """A patient's ``fields`` (list of names) changed. Return None."""

    @hookspec
    def patients_patient_merged(self, source, target):
        """``source`` (a duplicate) is being merged into ``target``: move your rows that point at
        ``source.id`` to ``target.id`` (one UPDATE is enough). ``source`` is kept, marked merged.
        Return None."""

    @hookspec
    def patients_visit_recorded(self, visit):
        """A visit was recorded (UI, API or HIS sync); ``visit.patient``, ``visit.kind``,
        ``visit.department_id``, ``visit.diagnoses``, ``visit.discharge_at`` are set. The
        follow-up plugin plans from it. Must be idempotent per visit id. Return None."""
