"""``hcrm hotline ...``: the hotline on the command line."""
import click
import sqlalchemy as sa
from flask.cli import AppGroup

from core.activation import live_plugins
from core.extensions import db
from core.models import Hospital
from core.tenancy import hospital_scope, system_scope
from hcrm_hotline import services

hotline_cli = AppGroup("hotline", help="Hotline calls.")


@hotline_cli.command("record")
@click.argument("phone")
@click.argument("topic")
@click.option("--hospital", "code", required=True, help="Hospital code.")
def record(phone, topic, code):
    """Record a call for a hospital."""
    with system_scope():
        hospital = db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one_or_none()
        live = hospital is not None and "hotline" in live_plugins(hospital.id)
    if hospital is None:
        raise click.ClickException(f"no hospital with code '{code}'")
    if not live:
        raise click.ClickException(f"the hotline is not enabled for hospital '{code}'")
    with hospital_scope(hospital):
        try:
            call = services.record_call(phone, topic)
        except services.CallError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"recorded call {call.id}")
