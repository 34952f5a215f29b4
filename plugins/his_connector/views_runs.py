"""The run log (list, one run, "sync now") and the quarantine (rows the sync could not write:
mark resolved, retry). Routes register on the blueprint of views.py. Thin: services.py decides.

Raw HIS rows in the quarantine show phones and ID numbers masked unless the user holds
patients.view_sensitive; an unmasked view is written to the audit log, as on the patient pages.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from core import audit
from core.extensions import db
from core.i18n import gettext as _
from core.permissions import can, require
from core.tenancy import current_scope, get_or_404
from plugins.his_connector import RUN, services
from plugins.his_connector.forms import ENTITY_LABELS, RunForm
from plugins.his_connector.models import ENTITIES, RUN_STATUSES, Connection, Mapping, Quarantine, Run
from plugins.his_connector.views import SENSITIVE_PERMISSION, bp
from plugins.his_connector.views_sync import SyncRefused, start_retry, start_sync, waiting

PAGE_SIZE = 50
REFRESH_SECONDS = 5


def _connections() -> list[Connection]:
    return db.session.execute(sa.select(Connection).order_by(Connection.name)).scalars().all()


def _int_arg(name: str) -> int | None:
    value = (request.args.get(name) or "").strip()
    if not value:
        return None
    if not value.isdigit():
        abort(400, description=_("“%(name)s” must be a whole number.", name=name))
    return int(value)


def _runs_page(form, status=200):
    chosen_status = request.args.get("status") or None
    if chosen_status is not None and chosen_status not in RUN_STATUSES:
        abort(400, description=_("Unknown run status “%(status)s”.", status=chosen_status))
    connection_id, before_id = _int_arg("connection"), _int_arg("before")
    connection = get_or_404(Connection, connection_id) if connection_id else None
    runs = services.list_runs(connection, status=chosen_status, limit=PAGE_SIZE + 1, before_id=before_id)
    more = len(runs) > PAGE_SIZE
    runs = runs[:PAGE_SIZE]
    tasks = waiting(current_scope().hospital_id)
    going = bool(tasks) or any(services.run_state(r) == "running" for r in runs)
    return render_template("his_connector/runs.html", runs=runs, more=more, form=form, connections=_connections(),
                           tasks=tasks,
                           chosen_status=chosen_status, chosen_connection=connection, statuses=RUN_STATUSES,
                           refresh=REFRESH_SECONDS if going else None), status


@bp.route("/runs")
@require(RUN)
def runs():
    form = RunForm(_connections())
    if request.args.get("connection"):
        form.connection_id.data = request.args["connection"]
    return _runs_page(form)


@bp.route("/runs/start", methods=["POST"])
@require(RUN)
def run_start():
    form = RunForm(_connections())
    if not form.validate_on_submit():
        return _runs_page(form, status=400)
    entity = form.entity.data or None
    if entity is not None and entity not in ENTITIES:
        form.entity.errors = [_("Choose what to sync.")]
        return _runs_page(form, status=400)
    connection = db.session.execute(sa.select(Connection).where(
        Connection.id == (int(form.connection_id.data) if (form.connection_id.data or "").isdigit() else -1))
    ).scalar_one_or_none()
    if connection is None:
        form.connection_id.errors = [_("Choose a connection of this hospital.")]
        return _runs_page(form, status=400)
    try:
        start_sync(connection, entity=entity, full=bool(form.full.data))
    except SyncRefused as exc:
        form.form_errors.append(str(exc))
        return _runs_page(form, status=409)
    flash(_("The sync of “%(name)s” is queued and runs in the background; this page refreshes while it runs.",
            name=connection.name), "success")
    return redirect(url_for("his_connector.runs", connection=connection.id))


@bp.route("/runs/<int:run_id>")
@require(RUN)
def run(run_id):
    record = get_or_404(Run, run_id)
    quarantined = db.session.execute(sa.select(Quarantine).where(Quarantine.run_id == record.id)
                                     .order_by(Quarantine.id).limit(PAGE_SIZE)).scalars().all()
    rows = _shown_rows(quarantined, f"HIS run {record.id}")
    return render_template("his_connector/run.html", run=record, entries=quarantined, rows=rows,
                           refresh=REFRESH_SECONDS if services.run_state(record) == "running" else None)


# -- quarantine ---------------------------------------------------------------------------------
def _shown_rows(entries, where: str) -> dict[int, dict]:
    """Each entry's raw row as this user may see it; an unmasked view is audited."""
    unmasked = can(SENSITIVE_PERMISSION)
    rows = {entry.id: services.quarantine_row(entry, unmasked=unmasked) for entry in entries}
    if unmasked and entries:
        audit.log_event("view", "his_connector.Quarantine", None,
                        note=f"{where}: unmasked HIS rows {', '.join(str(e.id) for e in entries)}"[:255])
        db.session.commit()
    return rows


def _mappings() -> list[Mapping]:
    return db.session.execute(sa.select(Mapping).join(Connection).order_by(Connection.name, Mapping.id)
                              ).scalars().all()


@bp.route("/quarantine")
@require(RUN)
def quarantine():
    show = request.args.get("show", "open")
    if show not in ("open", "resolved", "all"):
        abort(400, description=_("Unknown filter “%(show)s”.", show=show))
    mapping_id, before_id = _int_arg("mapping"), _int_arg("before")
    mapping = get_or_404(Mapping, mapping_id) if mapping_id else None
    resolved = {"open": False, "resolved": True, "all": None}[show]
    entries = services.list_quarantine(mapping=mapping, resolved=resolved, limit=PAGE_SIZE + 1, before_id=before_id)
    more = len(entries) > PAGE_SIZE
    entries = entries[:PAGE_SIZE]
    open_counts = dict(db.session.execute(sa.select(Quarantine.mapping_id, sa.func.count(Quarantine.id))
                                          .where(Quarantine.resolved.is_(False))
                                          .group_by(Quarantine.mapping_id)).all())
    return render_template("his_connector/quarantine.html", entries=entries, rows=_shown_rows(entries, "HIS quarantine"),
                           more=more, show=show, chosen_mapping=mapping, mappings=_mappings(),
                           open_counts=open_counts, reveal=can(SENSITIVE_PERMISSION))


@bp.route("/quarantine/resolve", methods=["POST"])
@require(RUN)
def quarantine_resolve():
    raw_ids = request.form.getlist("entry")
    if not raw_ids or not all(i.isdigit() for i in raw_ids):
        flash(_("Tick the rows to mark as resolved."), "warning")
        return redirect(url_for("his_connector.quarantine"))
    changed = services.resolve_quarantine(raw_ids, user=current_user)
    flash(_("%(n)d row(s) marked as resolved.", n=changed), "success")
    return redirect(url_for("his_connector.quarantine"))


@bp.route("/quarantine/retry/<int:mapping_id>", methods=["POST"])
@require(RUN)
def quarantine_retry(mapping_id):
    mapping = get_or_404(Mapping, mapping_id)
    try:
        start_retry(mapping)
    except SyncRefused as exc:
        flash(str(exc), "danger")
        return redirect(url_for("his_connector.quarantine", mapping=mapping.id))
    flash(_("Retrying the open %(entity)s rows of “%(name)s” in the background: rows that map now are written "
            "and leave the quarantine.", entity=ENTITY_LABELS[mapping.entity], name=mapping.connection.name), "success")
    return redirect(url_for("his_connector.runs", connection=mapping.connection_id))

