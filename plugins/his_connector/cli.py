"""``hcrm his sync|test|runs|preview|sources|connect --hospital CODE``: the HIS connector from the
command line.

Thin: every command resolves the hospital and its connections, then calls services.
"""
from __future__ import annotations

import contextlib
import signal
import threading

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from core import clock
from core.extensions import db
from core.tenancy import hospital_scope
from plugins.his_connector.models import ENTITIES

his_cli = AppGroup("his", help="HIS connector: sync patients, visits and charges from the hospital's HIS.")


def register(cli) -> None:
    cli.add_command(his_cli)


def _hospital(code: str):
    from core.cli import hospital_for_cli
    return hospital_for_cli(code, "his_connector")


def _all_connections():
    from plugins.his_connector.models import Connection
    return db.session.execute(sa.select(Connection).order_by(Connection.name)).scalars().all()


def _connections(name: str | None, *, enabled_only: bool):
    every = _all_connections()
    if name:
        chosen = [c for c in every if c.name == name]
        if not chosen:
            known = ", ".join(c.name for c in every) or "none"
            raise click.ClickException(f"no HIS connection named '{name}' (connections: {known})")
        return chosen
    chosen = [c for c in every if c.enabled or not enabled_only]
    if not chosen:
        raise click.ClickException("this hospital has no enabled HIS connection (configure one in the web UI)")
    return chosen


def _counts(run) -> str:
    skipped = (f", {run.skipped} not read (empty cursor {run.mapping.cursor_column} or key {run.mapping.key_column})"
               if run.skipped else "")
    return (f"{run.rows_read} read, {run.inserted} inserted, {run.updated} updated, {run.unchanged} unchanged, "
            f"{run.quarantined} quarantined{skipped}")


@his_cli.command("sync")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--connection", "name", help="Connection name (default: every enabled connection).")
@click.option("--entity", "entities", multiple=True, type=click.Choice(list(ENTITIES)),
              help="Only this entity (repeatable; default: every enabled mapping).")
@click.option("--full", is_flag=True, help="Read everything from the start (idempotent: unchanged rows are not written).")
@click.option("--no-progress", is_flag=True, help="No progress bar (for cron logs).")
@click.option("--queue", "queued", is_flag=True, help="Queue the sync for `hcrm worker` instead of running it here.")
def sync_command(code, name, entities, full, no_progress, queued):
    """Sync patients, visits and charges from the HIS: incremental, resumable, idempotent.
    Runs in the foreground (with a progress bar) unless --queue."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    if queued:
        return _queue_syncs(hospital, name, entities, full)
    failed = False
    with hospital_scope(hospital), _stop_on_interrupt() as stop:
        for connection in _connections(name, enabled_only=not name):
            if stop.is_set():
                break
            bars = {}

            def progress(run, rows, total, bars=bars):
                if no_progress:
                    return
                bar = bars.get(run.id)
                if bar is None:
                    bar = bars[run.id] = click.progressbar(length=max(total or 0, 1), label=f"{run.connection.name}/"
                                                           f"{run.entity}", show_pos=True, show_eta=True)
                    bar.__enter__()
                bar.update(rows)
            try:
                runs = services.sync(connection, entities=list(entities) or None, full=full, progress=progress,
                                     count=not no_progress, stop=stop)
            except services.HisError as exc:
                raise click.ClickException(f"{connection.name}: {exc}") from None
            finally:
                for bar in bars.values():
                    bar.__exit__(None, None, None)
            for run in runs:
                line = f"{connection.name}/{run.entity}: {run.status} — {_counts(run)}; cursor {run.cursor_after or '-'}"
                if run.status == "ok":
                    click.echo(line)
                elif run.status == "cancelled":
                    click.echo(f"{line}\n  cancelled at a batch boundary: the next run goes on from this cursor",
                               err=True)
                else:
                    failed = True
                    click.echo(f"{line}\n  error: {run.error}", err=True)
    if stop.is_set():
        raise click.exceptions.Exit(130)
    if failed:
        raise click.ClickException("the sync failed; the next run resumes after the last committed batch")


@contextlib.contextmanager
def _stop_on_interrupt():
    """Ctrl-C (SIGINT) asks the sync to stop at the next batch boundary (the run is marked
    cancelled and the lock released); a second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals reach the main thread only
        return

    def interrupted(_signum, _frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo("\nstopping at the next batch boundary (Ctrl-C again to interrupt at once)…", err=True)
    previous = signal.signal(signal.SIGINT, interrupted)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _queue_syncs(hospital, name, entities, full) -> None:
    from core import queue
    from plugins.his_connector.jobs import SYNC
    with hospital_scope(hospital):
        connections = [(c.id, c.name) for c in _connections(name, enabled_only=not name)]
    for entity in list(entities) or [None]:
        for connection_id, connection_name in connections:
            try:
                record = queue.enqueue(SYNC, hospital, summary=connection_name, connection_id=connection_id,
                                       entity=entity, full=full, trigger="cli")
            except queue.QueueError as exc:
                raise click.ClickException(str(exc.message)) from None
            click.echo(f"{connection_name}: queued as task #{record.id} (hcrm jobs list)")


@his_cli.command("test")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--connection", "name", help="Connection name (default: every connection).")
def test_command(code, name):
    """Connect to the HIS read-only and report the server and its clock."""
    from plugins.his_connector import services, source
    hospital = _hospital(code)
    failed = False
    with hospital_scope(hospital):
        for connection in _connections(name, enabled_only=False):
            result = services.test_connection(connection)
            click.echo(f"{connection.name} ({source.display_url(connection)}): {'OK' if result.ok else 'FAILED'} — "
                       f"{result.message}", err=not result.ok)
            for warning in result.warnings:
                click.echo(f"  warning: {warning}", err=True)
            failed = failed or not result.ok
    if failed:
        raise click.ClickException("a connection test failed")


@his_cli.command("runs")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--connection", "name", help="Only this connection.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def runs_command(code, name, limit):
    """The run log, newest first (times in the hospitals' zone)."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    with hospital_scope(hospital):
        connection = _connections(name, enabled_only=False)[0] if name else None
        runs = services.list_runs(connection, limit=limit)
        if not runs:
            click.echo("no runs yet")
        for run in runs:
            took = f"{(run.finished_at - run.started_at).total_seconds():.1f}s" if run.finished_at else "-"
            click.echo(f"#{run.id} {clock.utc_to_local(run.started_at):%Y-%m-%d %H:%M:%S} {run.connection.name}/{run.entity} "
                       f"{run.trigger}{' full' if run.full else ''} {run.status} {took}: {_counts(run)}; "
                       f"cursor {run.cursor_before or '-'} → {run.cursor_after or '-'}"
                       + (f"\n    error: {run.error}" if run.error else ""))


@his_cli.command("preview")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--connection", "name", required=True, help="Connection name.")
@click.option("--entity", required=True, type=click.Choice(list(ENTITIES)))
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 200))
def preview_command(code, name, entity, limit):
    """Map the first rows of a saved mapping and show them with every mapping error; writes nothing."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    with hospital_scope(hospital):
        connection = _connections(name, enabled_only=False)[0]
        try:
            result = services.preview(connection, entity, limit=limit)
        except services.HisError as exc:
            raise click.ClickException(str(exc)) from None
        for row in result.rows:
            shown = ", ".join(f"{k}={v}" for k, v in row.values.items()) if row.values else ""
            click.echo(f"{row.key}: {shown}" + (f"\n    errors: {'; '.join(row.errors)}" if row.errors else ""))
        click.echo(f"{len(result.rows)} rows, {sum(1 for r in result.rows if r.errors)} with errors")
        if result.skipped:
            click.echo(f"{result.skipped} rows of the query have an empty cursor or key column: a sync never reads "
                       "them (it cannot position them)")


@his_cli.command("sources")
@click.option("--hospital", "code", required=True, help="Hospital code.")
def sources_command(code):
    """The HIS sources config.yaml allows to this hospital (what a connection may pick)."""
    from plugins.his_connector import services
    from plugins.his_connector import settings as his_settings
    hospital = _hospital(code)
    with hospital_scope(hospital):
        listed = services.allowed_sources()
    if not listed:
        click.echo("no HIS source is configured for this hospital (config.yaml: plugins_settings.his_connector)")
    sqlite_dir = his_settings.current().sqlite_dir
    for found in listed:
        fixed = f" (user {found.username})" if found.username else ""
        click.echo(f"{found.name}: {found.describe(sqlite_dir)}{fixed}" + (f" — {found.title}" if found.title else ""))


@his_cli.command("connect")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--name", required=True, help="Connection name (created, or updated when it exists).")
@click.option("--source", help="A HIS source of config.yaml (see `hcrm his sources`).")
@click.option("--username", help="The HIS account's user name.")
@click.option("--password-env", help="The environment variable holding its password: HCRM_HIS_PASSWORD_….")
@click.option("--encoding", type=click.Choice(["utf8", "gbk", "gb18030"]))
@click.option("--timezone", help="The HIS's time zone (IANA name).")
@click.option("--schedule-minutes", help="Sync every N minutes ('' for by hand only).")
@click.option("--unknown-diagnoses", type=click.Choice(["quarantine", "add"]),
              help="A visit's diagnosis code missing from the disease catalogue: quarantine the visit, or add the code.")
@click.option("--enabled/--disabled", default=None)
def connect_command(code, name, **options):
    """Create or change a connection: pick a configured source and set the account. Where the
    HIS is comes only from config.yaml; no URL is taken here."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    data = {key: value for key, value in options.items() if value is not None}
    with hospital_scope(hospital):
        existing = [c for c in _all_connections() if c.name == name]
        try:
            if existing:
                connection = services.update_connection(existing[0], data)
            else:
                connection = services.create_connection({"name": name, **data})
        except services.HisError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        click.echo(f"connection '{connection.name}' {'updated' if existing else 'created'}: source "
                   f"{connection.source}, user {connection.username or '-'}, password variable "
                   f"{connection.password_env or '-'}")


@his_cli.command("departments")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--connection", "name", required=True, help="Connection name.")
@click.option("--query", help="The HIS's department code table, e.g. \"SELECT KSDM, KSMC FROM GY_KSDM\" (code, name).")
@click.option("--from-mapping", "entity", type=click.Choice(["patients", "visits"]), default="visits", show_default=True,
              help="Without --query: the distinct department codes of this mapping's rows.")
@click.option("--apply", "apply_", is_flag=True, help="Create the missing departments and map the codes (else: preview).")
def departments_command(code, name, query, entity, apply_):
    """Import the HIS's departments: preview (default), then --apply to create the missing ones and
    write the HIS code → our code table into the patients and visits mappings."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    with hospital_scope(hospital):
        connection = _connections(name, enabled_only=False)[0]
        try:
            found = services.department_preview(connection, query=query, entity=entity)
        except services.HisError as exc:
            raise click.ClickException(str(exc)) from None
        words = {"mapped": "already in the code table", "exists": "same code here", "name": "same name here", "create": "to create", "invalid":
                 "skipped: a CRM code is 1-32 letters, digits, '_' or '-'"}
        for candidate in found:
            click.echo(f"{candidate.his_code}\t{candidate.his_name}\t→ {candidate.ours or '-'} ({words[candidate.action]})")
        if not apply_:
            click.echo(f"{len(found)} HIS departments; nothing written (add --apply)")
            return
        done = services.import_departments(connection, query=query, entity=entity)
        click.echo(f"{done['created']} departments created, {done['mapped']} HIS codes mapped")


@his_cli.command("doctors")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--connection", "name", required=True, help="Connection name.")
@click.option("--query", required=True, help="The HIS's staff table, e.g. \"SELECT YSDM, YSXM FROM GY_YGDM\" (code, name).")
@click.option("--apply", "apply_", is_flag=True, help="Write the code → name table into the visits mapping (else: preview).")
def doctors_command(code, name, query, apply_):
    """Import the HIS's doctors: visits that name their doctor by code then carry the name. Preview
    (default), then --apply. Doctors do not become user accounts."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    with hospital_scope(hospital):
        connection = _connections(name, enabled_only=False)[0]
        try:
            found = services.doctor_preview(connection, query)
        except services.HisError as exc:
            raise click.ClickException(str(exc)) from None
        words = {"add": "to add", "same": "already in the code table", "changed": "name changed",
                 "invalid": "skipped: no name, or longer than 64 characters"}
        for candidate in found:
            click.echo(f"{candidate.his_code}\t{candidate.name}\t({words[candidate.action]})")
        if not apply_:
            click.echo(f"{len(found)} HIS doctors; nothing written (add --apply)")
            return
        done = services.import_doctors(connection, query)
        click.echo(f"{done['added']} doctors added, {done['changed']} renamed in the visits mapping's doctor code table")


@his_cli.command("export")
@click.option("--hospital", "code", required=True, help="Hospital code.")
@click.option("--connection", "name", required=True, help="Connection name.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file (default: stdout).")
def export_command(code, name, output):
    """A connection and its mappings as YAML (no secrets: the password variable's name only, the
    source by its name), to review, keep in version control, or import for another hospital."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    with hospital_scope(hospital):
        text = services.export_connection(_connections(name, enabled_only=False)[0])
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"connection '{name}' written to {output}", err=True)
    else:
        click.echo(text, nl=False)


@his_cli.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--hospital", "code", required=True, help="Hospital code (the connection is created or updated there).")
@click.option("--name", help="Connection name (default: the file's).")
@click.option("--source", help="A HIS source of config.yaml for this hospital (default: the file's).")
@click.option("--username", help="The HIS account's user name.")
@click.option("--password-env", help="The environment variable holding its password: HCRM_HIS_PASSWORD_….")
def import_command(file, code, name, source, username, password_env):
    """Create (or update) a connection and its mappings from `hcrm his export`. Everything is
    checked first — the source, the settings, each mapping's query on the HIS — and nothing is
    written unless all of it is valid."""
    from plugins.his_connector import services
    hospital = _hospital(code)
    overrides = {"name": name, "source": source, "username": username, "password_env": password_env}
    with hospital_scope(hospital):
        try:
            connection = services.import_connection(file.read(), overrides=overrides)
        except services.HisError as exc:
            details = "; ".join(f"{field}: {message}" for field, message in exc.errors.items())
            raise click.ClickException(f"{exc}{' — ' + details if details else ''} (nothing was written)") from None
        click.echo(f"connection '{connection.name}' imported with mappings "
                   f"{', '.join(m.entity for m in connection.mappings) or '-'} (source {connection.source})")
