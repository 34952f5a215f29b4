"""``hcrm followup …``: planning commands that an administrator runs by hand."""
from __future__ import annotations

import click
import sqlalchemy as sa
from flask.cli import AppGroup

from core.cli import hospital_for_cli
from core.extensions import db
from core.models import Hospital
from core.tenancy import hospital_scope
from plugins.followup.models import Rule
from plugins.followup.planning import escalation, rules
from plugins.followup.planning.errors import FollowupInvalid, PlanStateError

followup_cli = AppGroup("followup", help="Follow-up centre.")


def _hospital(code: str) -> Hospital:
    return hospital_for_cli(code, "followup")


@followup_cli.command("apply-rule")
@click.argument("rule_id", type=int)
@click.option("--since", required=True, help="Plan the visits since this date (YYYY-MM-DD).")
@click.option("--hospital", "code", required=True, help="Hospital code.")
def apply_rule(rule_id, since, code):
    """Apply a rule to earlier visits (each visit is planned once, whatever you run)."""
    hospital = _hospital(code)
    with hospital_scope(hospital):
        rule = db.session.execute(sa.select(Rule).where(Rule.id == rule_id)).scalar_one_or_none()
        if rule is None:
            raise click.ClickException(f"no rule {rule_id} in hospital {code}")
        try:
            made = rules.apply_since(rule, since)
        except FollowupInvalid as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        except PlanStateError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from None
        db.session.commit()
    click.echo(f"rule {rule_id}: {made} plan(s) made for visits since {since}")


@followup_cli.command("escalate")
@click.option("--hospital", "code", required=True, help="Hospital code.")
def escalate(code):
    """Escalate overdue plans now (the followup.escalate job does it on schedule)."""
    hospital = _hospital(code)
    with hospital_scope(hospital):
        counts = escalation.run_escalation(hospital)
        db.session.commit()
    click.echo(f"{code}: {counts['overdue']} overdue, {counts['escalated']} newly escalated")


def register(cli) -> None:
    cli.add_command(followup_cli)
