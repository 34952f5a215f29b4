"""``hcrm patients import FILE --hospital CODE``: the web importer's checks and all-or-nothing
commit, from the command line (for the first load of a hospital's archive)."""
from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext

SHOWN_ERRORS = 20


def register(cli) -> None:
    """Add the command under an ``hcrm patients`` group (created if no other part made it)."""
    group = cli.commands.get("patients") if hasattr(cli, "commands") else None
    if not isinstance(group, click.Group):
        group = click.Group("patients", help="Patient archive commands.")
        cli.add_command(group)
    group.add_command(import_command)


def _mapping(meta: dict, text: str | None) -> list[str]:
    """The suggested mapping, overridden by --mapping: {"column header": "field"} or a list of
    fields, one per column."""
    mapping = list(meta["mapping"])
    if not text:
        return mapping
    try:
        given = json.loads(text)
    except ValueError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--mapping") from None
    if isinstance(given, list):
        return [str(f) for f in given]
    if not isinstance(given, dict):
        raise click.BadParameter('use {"column header": "field", …} or a list of fields', param_hint="--mapping")
    for header, field in given.items():
        if header not in meta["headers"]:
            raise click.BadParameter(f"no column '{header}' (columns: {', '.join(meta['headers'])})",
                                     param_hint="--mapping")
        mapping[meta["headers"].index(header)] = str(field)
    return mapping


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--hospital", "hospital_code", required=True, help="Code of the hospital the patients belong to.")
@click.option("--mapping", "mapping_json", help='JSON {"column header": "field"} overriding the suggested columns '
                                                '(fields: name, gender, birth_date, id_number, phone, …, ignore).')
@click.option("--allow-duplicates", is_flag=True, help="Import rows that duplicate registered patients or each other.")
@click.option("--check-only", is_flag=True, help="Check every row and report; import nothing.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True),
              help="Write the refused rows with their reasons to this .xlsx or .csv file.")
@with_appcontext
def import_command(file, hospital_code, mapping_json, allow_duplicates, check_only, report_path):
    """Import patients from an .xlsx or .csv FILE: every row is checked, then all are imported or none."""
    from core.cli import hospital_for_cli
    from plugins.patients import transfer_services as ts

    hospital = hospital_for_cli(hospital_code, "patients")
    app = current_app._get_current_object()
    with open(file, "rb") as stream:
        try:
            token = ts.save_upload(stream, file, hospital_id=hospital.id, user_id=None, locale="en")
        except ts.UploadRefused as exc:
            raise click.ClickException(str(exc)) from None
    try:
        meta = ts.load_upload(token, hospital_id=hospital.id, user_id=None)
        mapping = _mapping(meta, mapping_json)
        try:
            meta = ts.set_mapping(meta, mapping, allow_duplicates, "en")
        except ts.UploadRefused as exc:
            raise click.ClickException(str(exc)) from None
        click.echo("columns: " + ", ".join(f"{h} → {f}" for h, f in zip(meta["headers"], mapping, strict=True)))
        ts.queue_job(token, "validate")
        progress = ts.run_job(app, token, "validate")
        if progress["state"] == "failed":
            raise click.ClickException(progress["message"])
        click.echo(f"{progress['done']} rows checked: {progress['ok']} OK, {progress['errors']} with errors")
        if progress["errors"]:
            errors = ts.row_errors(meta)
            for number, reasons in sorted(errors.items())[:SHOWN_ERRORS]:
                click.echo(f"  row {number}: {'; '.join(reasons)}", err=True)
            if report_path:
                fmt = "csv" if report_path.lower().endswith(".csv") else "xlsx"
                with open(report_path, "wb") as out:
                    out.write(ts.error_report(meta, fmt))
                click.echo(f"error report written to {report_path}")
            raise click.ClickException("nothing was imported: correct the rows with errors and run again")
        if check_only:
            click.echo("check only: nothing was imported")
            return
        ts.queue_job(token, "commit")
        progress = ts.run_job(app, token, "commit")
        if progress["state"] != "done":
            raise click.ClickException(progress["message"] or "the import failed: nothing was imported")
        click.echo(f"{progress['imported']} patients imported into {hospital.code}")
    finally:
        ts.discard(token)
