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
    def patients_visits_recorded(self, hospital_id, visit_ids):
        """Visits of hospital ``hospital_id`` were recorded or changed (a discharge, a HIS
        re-sync): ``visit_ids`` is a list of ``patients_visit`` ids, already flushed in the current
        transaction. One call may carry one visit (the UI, the API) or a whole HIS batch, so react
        with set-based statements rather than a query per visit. The same visit may arrive again
        (edited, discharged later, replayed by a sync): the reaction must be idempotent per
        visit. The follow-up plugin plans calls from it. Return None."""

    @hookspec
    def patients_visit_deleted(self, hospital_id, visit_id, patient_id):
        """Visit ``visit_id`` of patient ``patient_id`` (hospital ``hospital_id``) is about to be
        deleted, in the current transaction: delete or detach your rows that reference it
        (``patients_visit.id`` foreign keys would refuse the delete). The follow-up plugin cancels
        the visit's open plans and keeps the history of the others. Return None."""

    @hookspec
    def patients_list_filters(self):
        """Offer filters for the patient list: return a list of
        ``plugins.patients.list_filters.ListFilter`` (or None). Called on each list page and export
        of a hospital where your plugin is live; the chosen value narrows the list (see
        plugins/patients/list_filters.py and docs/plugins.md)."""

    @hookspec
    def patients_visits_backfill(self, hospital_id, since, report):
        """An importer loaded past visits (e.g. a HIS's first sync of years of history) and the
        hospital's administrator asks every plugin to apply to the visits since ``since`` (a
        date) what it applies to newly recorded ones (the follow-up plugin: its active rules).
        Append a short text saying what was done to ``report`` (a list). Idempotent: asking twice
        does nothing more. Return None."""
