"""HIS connector pages: connections (list, create, edit, delete, test) and their mappings (edit,
preview, save, reset the cursor). Runs and quarantine are in views_runs.py, starting a sync in
views_sync.py. Thin: the rules live in services.py.

The password never reaches a page: connections show the *name* of the environment variable and
whether it is set in this server process; every message from the HIS is scrubbed of the
password's value as well, in case a driver ever echoes it.
"""
from __future__ import annotations

import os
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core import audit, clock
from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import Department
from core.permissions import can, require
from core.tenancy import get_or_404
from plugins.his_connector import MANAGE, RUN, resolve, services, source
from plugins.his_connector import settings as his_settings
from plugins.his_connector.forms import (
    ENTITY_LABELS,
    STATUS_LABELS,
    TRIGGER_LABELS,
    ConnectionForm,
    field_map_from_form,
    fill_mapping_form,
    mapping_data,
    mapping_form_class,
)
from plugins.his_connector.models import ENTITIES, Connection, Mapping, Run
from plugins.his_connector.views_sync import running_run
from plugins.patients.public import GENDER_LABELS, KIND_LABELS, Source, map_errors
from plugins.patients.public import STATUS_LABELS as VISIT_STATUS_LABELS

bp = Blueprint("his_connector", __name__, url_prefix="/his_connector", template_folder="templates")

PREVIEW_ROWS = 20
SENSITIVE_PERMISSION = "patients.view_sensitive"
TIMEZONES = ("Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "UTC")


def scrub(text, connection: Connection | None = None) -> str:
    """``text`` without the password of ``connection`` (or of any connection shown): drivers
    should never echo it, and this keeps a page safe if one ever does."""
    text = "" if text is None else str(text)
    names = [connection.password_env] if connection is not None else []
    for name in names:
        secret = os.environ.get(name or "") if name else None
        if secret and len(secret) >= 4:
            text = text.replace(secret, "******")
    return text


def message_text(message, connection=None) -> str:
    """A service Message (or plain text) in the page's language, scrubbed."""
    translated = message.translated() if hasattr(message, "translated") else str(message)
    return scrub(translated, connection)


# Driver messages differ by database; these fragments (MySQL/MariaDB, PostgreSQL, SQL Server,
# Oracle) say which of three things a hospital's IT person has to check.
FAILURE_HINTS = (
    (("access denied", "password authentication failed", "login failed", "ora-01017", "authentication failed"),
     _l("The HIS refused the user name or password: check the account in the URL and the password in the "
        "environment variable %(env)s (restart the service after changing it).")),
    (("can't connect", "connection refused", "timed out", "could not connect", "unknown mysql server host",
      "could not translate host name", "name or service not known", "ora-12541", "ora-12170", "unable to connect",
      "no route to host"),
     _l("The HIS server did not answer at this address: check the host and port in the URL, and that the "
        "firewall lets this server reach it.")),
    (("unknown database", "does not exist", "ora-12514", "cannot open database"),
     _l("The server answered but has no such database: check the database (or service) name at the end of "
        "the URL.")),
)


def last_test_text(connection: Connection, *, english: bool = False) -> str:
    """The last test's message, scrubbed, in the page's language (or English, which the driver
    fragments of FAILURE_HINTS are matched against)."""
    message = services.last_test_message(connection)
    if message is None:
        return ""
    return scrub(str(message) if english else message.translated(), connection)


def last_test_warning_text(connection: Connection) -> str:
    message = services.last_test_warning(connection)
    return scrub(message.translated(), connection) if message is not None else ""


def failure_hint(connection: Connection) -> str | None:
    """What to check, in plain words, for a failed connection test."""
    lowered = last_test_text(connection, english=True).lower()
    for fragments, hint in FAILURE_HINTS:
        if any(f in lowered for f in fragments):
            return str(hint) % {"env": connection.password_env or "—"}
    return None


@bp.app_template_global("his_scrub")
def his_scrub(text, connection=None) -> str:
    """scrub() for macros: _his.html is imported without the page's context."""
    return scrub(text, connection)


@bp.app_template_global("his_run_state")
def his_run_state(run) -> str:
    """running / ok / failed, or stalled (see services.run_state); a global so macros see it."""
    return services.run_state(run)


@bp.context_processor
def his_helpers():
    return dict(ENTITY_LABELS=ENTITY_LABELS, STATUS_LABELS=STATUS_LABELS, TRIGGER_LABELS=TRIGGER_LABELS,
                ENTITIES=ENTITIES, display_url=source.display_url, password_state=services.connection_password_state,
                scrub=scrub, can=can, MANAGE=MANAGE, RUN=RUN, failure_hint=failure_hint,
                last_test_text=last_test_text, last_test_warning_text=last_test_warning_text, source_problem=source_problem_text)


def source_problem_text(connection) -> str | None:
    """Why the connection cannot be used (its source left config.yaml...), for its pages."""
    problem = services.source_problem(connection)
    return problem.translated() if problem is not None else None


def put_errors(form, error: services.HisError, connection=None, *, fallback: str = "") -> None:
    """The engine's per-field messages on the form's fields; the rest (or the message itself,
    when it names no field) on ``fallback`` or above the form."""
    errors = {field: message_text(msg, connection) for field, msg in error.errors.items()}
    map_errors(form, errors or {fallback or "__form__": message_text(error.message, connection)})


def _last_runs(connections) -> dict[int, Run]:
    """The newest run of each connection, in one query."""
    ids = [c.id for c in connections]
    if not ids:
        return {}
    newest = sa.select(sa.func.max(Run.id)).where(Run.connection_id.in_(ids)).group_by(Run.connection_id)
    runs = db.session.execute(sa.select(Run).where(Run.id.in_(newest))).scalars()
    return {run.connection_id: run for run in runs}


# -- entry point --------------------------------------------------------------------------------
@bp.route("/")
@require(RUN)
def index():
    """The dashboard card's link: administrators without a connection yet start by creating one."""
    if can(MANAGE) and db.session.execute(sa.select(Connection.id).limit(1)).first() is None:
        return redirect(url_for("his_connector.connections"))
    return redirect(url_for("his_connector.runs"))


# -- connections --------------------------------------------------------------------------------
@bp.route("/connections")
@require(MANAGE)
def connections():
    rows = db.session.execute(sa.select(Connection).order_by(Connection.name)).scalars().all()
    return render_template("his_connector/connections.html", connections=rows, last_runs=_last_runs(rows))


def _connection_form(connection=None) -> ConnectionForm:
    """The form, offering only the HIS sources config.yaml allows to this hospital."""
    return ConnectionForm(services.allowed_sources(connection))


def _connection_form_page(form, connection=None, status=200):
    sources = services.allowed_sources(connection)
    return render_template("his_connector/connection_form.html", form=form, connection=connection,
                           timezones=TIMEZONES, sources=sources, sqlite_dir=his_settings.current().sqlite_dir,
                           problem=services.source_problem(connection) if connection is not None else None), status


@bp.route("/connections/new", methods=["GET", "POST"])
@require(MANAGE)
def connection_new():
    form = _connection_form()
    if request.method == "GET":
        form.statement_timeout.data, form.batch_size.data, form.safety_lag.data = "300", "5000", "120"
        return _connection_form_page(form)
    if not form.validate_on_submit():
        return _connection_form_page(form, status=400)
    try:
        connection = services.create_connection(form.data_for_service())
    except services.HisError as exc:
        db.session.rollback()
        put_errors(form, exc)
        return _connection_form_page(form, status=400)
    flash(_("Connection “%(name)s” saved. Test it, then map its tables.", name=connection.name), "success")
    return redirect(url_for("his_connector.connection", connection_id=connection.id))


@bp.route("/connections/<int:connection_id>/edit", methods=["GET", "POST"])
@require(MANAGE)
def connection_edit(connection_id):
    connection = get_or_404(Connection, connection_id)
    form = _connection_form(connection)
    if request.method == "GET":
        form.fill_from(connection)
        if not connection.source:  # an old connection: offer the source its stored URL matches, if one does
            matched = resolve.legacy_source(connection, his_settings.current(),
                                           resolve.hospital_code(connection.hospital_id))
            form.source.data = matched.name if matched else ""
        return _connection_form_page(form, connection)
    if not form.validate_on_submit():
        return _connection_form_page(form, connection, status=400)
    try:
        services.update_connection(connection, form.data_for_service())
    except services.HisError as exc:
        db.session.rollback()
        put_errors(form, exc, connection)
        return _connection_form_page(form, connection, status=400)
    flash(_("Connection “%(name)s” saved.", name=connection.name), "success")
    return redirect(url_for("his_connector.connection", connection_id=connection.id))


@bp.route("/connections/<int:connection_id>/delete", methods=["POST"])
@require(MANAGE)
def connection_delete(connection_id):
    connection = get_or_404(Connection, connection_id)
    if running_run(connection) is not None:
        flash(_("A sync of “%(name)s” is running: wait for it to end before deleting the connection.",
                name=connection.name), "danger")
        return redirect(url_for("his_connector.connection", connection_id=connection.id))
    name = connection.name
    services.delete_connection(connection)
    flash(_("Connection “%(name)s” deleted with its mappings, run log and quarantine. The patients and visits "
            "it brought in stay.", name=name), "success")
    return redirect(url_for("his_connector.connections"))


@bp.route("/connections/<int:connection_id>/test", methods=["POST"])
@require(MANAGE)
def connection_test(connection_id):
    connection = get_or_404(Connection, connection_id)
    result = services.test_connection(connection)
    text = message_text(result.message, connection)
    if result.ok:
        flash(_("Connection test passed: %(message)s", message=text), "success")
        for warning in result.warnings:
            flash(message_text(warning, connection), "warning")
    else:
        hint = failure_hint(connection)
        flash(_("Connection test failed: %(message)s", message=text) + (f" — {hint}" if hint else ""), "danger")
    back = request.form.get("back") == "list"
    return redirect(url_for("his_connector.connections") if back
                    else url_for("his_connector.connection", connection_id=connection.id))


@bp.route("/connections/<int:connection_id>")
@require(MANAGE)
def connection(connection_id):
    connection = get_or_404(Connection, connection_id)
    mappings = {m.entity: m for m in connection.mappings}
    recent = services.list_runs(connection, limit=10)
    return render_template("his_connector/connection.html", connection=connection, mappings=mappings,
                           runs=recent, running=running_run(connection),
                           diseases_from_his=services.diseases_from_his(connection),
                           history_loaded=services.history_loaded(connection),
                           history_since=(clock.local_today() - timedelta(days=365)).isoformat())


# -- mappings -----------------------------------------------------------------------------------
def _entity_or_404(entity: str) -> str:
    if entity not in ENTITIES:
        abort(404)
    return entity


def _mapping_of(connection, entity) -> Mapping | None:
    return next((m for m in connection.mappings if m.entity == entity), None)


def _preview_labels(entity) -> tuple[dict, dict]:
    """Headers of the preview's columns (our fields, and those derived from them) and the
    names behind the ids it shows (departments, sources)."""
    labels = {info.column: info.label for info in services.entity_fields(entity)}
    labels.update(external_id=_("HIS key"), phone_last4=_("Phone (last 4)"))
    names = {"department_id": dict(db.session.execute(sa.select(Department.id, Department.name)).all()),
             "gender": GENDER_LABELS, "kind": KIND_LABELS, "status": VISIT_STATUS_LABELS}
    if entity == "patients":
        names["source_id"] = dict(db.session.execute(sa.select(Source.id, Source.name)).all())
    return labels, names


def _mapping_page(connection, entity, form, *, mapping=None, preview=None, status=200):
    labels, names = _preview_labels(entity) if preview is not None else ({}, {})
    return render_template("his_connector/mapping.html", connection=connection, entity=entity, form=form,
                           mapping=mapping, preview=preview, preview_rows=PREVIEW_ROWS, field_labels=labels,
                           value_names=names, reveal=can(SENSITIVE_PERMISSION),
                           columns=(preview.columns if preview is not None else ())), status


@bp.route("/connections/<int:connection_id>/mappings/<entity>", methods=["GET", "POST"])
@require(MANAGE)
def mapping(connection_id, entity):
    connection = get_or_404(Connection, connection_id)
    entity = _entity_or_404(entity)
    mapping = _mapping_of(connection, entity)
    form = mapping_form_class(entity)()
    if request.method == "GET":
        if mapping is not None:
            fill_mapping_form(form, mapping)
        return _mapping_page(connection, entity, form, mapping=mapping)
    if not form.validate_on_submit():
        return _mapping_page(connection, entity, form, mapping=mapping, status=400)
    fields, row_errors = field_map_from_form(form)
    if row_errors:
        for name, text in row_errors.items():
            form["f_" + name].form.form_errors.append(text)
        form.form_errors.append(_("Correct the field map below."))
        return _mapping_page(connection, entity, form, mapping=mapping, status=400)
    data = mapping_data(form, fields)
    if request.form.get("action") == "preview":
        return _preview(connection, entity, form, data, mapping)
    try:
        saved = services.save_mapping(connection, entity, data)
    except services.HisError as exc:
        db.session.rollback()
        put_errors(form, exc, connection, fallback="query")
        return _mapping_page(connection, entity, form, mapping=mapping, status=400)
    flash(_("The %(entity)s mapping is saved. Preview it, then run a sync.", entity=ENTITY_LABELS[entity]), "success")
    return redirect(url_for("his_connector.mapping", connection_id=connection.id, entity=saved.entity))


def _preview(connection, entity, form, data, mapping):
    """Map the first rows of the unsaved form; nothing is written (the session is rolled back
    whatever the engine did)."""
    unmasked = can(SENSITIVE_PERMISSION)
    try:
        result = services.preview(connection, entity, data, limit=PREVIEW_ROWS, unmasked=unmasked)
    except services.HisError as exc:
        db.session.rollback()
        put_errors(form, exc, connection, fallback="query")
        return _mapping_page(connection, entity, form, mapping=mapping, status=400)
    db.session.rollback()
    if unmasked and result.rows:
        audit.log_event("view", "his_connector.Connection", connection.id,
                        note=f"HIS preview of {entity}: unmasked phones/ID numbers of {len(result.rows)} source rows")
        db.session.commit()
    return _mapping_page(connection, entity, form, mapping=mapping, preview=result)


@bp.route("/connections/<int:connection_id>/mappings/<entity>/reset", methods=["POST"])
@require(MANAGE)
def mapping_reset(connection_id, entity):
    connection = get_or_404(Connection, connection_id)
    mapping = _mapping_of(connection, _entity_or_404(entity))
    if mapping is None:
        abort(404)
    services.reset_cursor(mapping)
    flash(_("The %(entity)s cursor is reset: the next sync reads every row again and writes only what differs.",
            entity=ENTITY_LABELS[entity]), "success")
    return redirect(url_for("his_connector.mapping", connection_id=connection.id, entity=entity))
