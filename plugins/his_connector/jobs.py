"""The scheduled sync: one job, run every minute by ``hcrm jobs run``/the worker, that syncs each
connection of the hospital whose own schedule (``schedule_minutes``) is due."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l

from core.declarations import Job


def sync_due_connections(hospital) -> None:
    """Sync every due connection (one already syncing is skipped until the next minute); a failed connection is recorded in its run log (and logged)
    and does not stop the others. Raises at the end if any failed, so the job shows as failed."""
    from plugins.his_connector import services
    failed = []
    for connection in services.due_connections():
        try:
            runs = services.sync(connection, trigger="schedule")
        except services.SyncBusy as exc:  # e.g. a long first load from the command line: not a failure
            current_app.logger.info("HIS sync of %s skipped: %s", connection.name, exc)
            continue
        except services.HisError as exc:
            failed.append(f"{connection.name}: {exc}")
            continue
        failed += [f"{connection.name}/{run.entity}: {run.error}" for run in runs if run.status != "ok"]
    if failed:
        current_app.logger.warning("HIS sync failures for %s: %s", hospital.code, "; ".join(failed))
        raise RuntimeError("; ".join(failed))


def jobs() -> list[Job]:
    return [Job("his_connector.sync", _l("Sync HIS connections that are due"), every=timedelta(minutes=1),
                run=sync_due_connections)]
