"""The ``hcrm`` command line. Every command reports problems as a one-line message, not a traceback."""
from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path
from types import SimpleNamespace

import click
import sqlalchemy as sa
from flask.cli import FlaskGroup, ScriptInfo, with_appcontext

from core.config import ConfigError
from core.plugins import PluginError

INSTANCE = Path(__file__).resolve().parent.parent / "instance"


def _create_app():
    from core import create_app
    try:
        return create_app()
    except (ConfigError, PluginError) as exc:
        raise click.ClickException(str(exc)) from None
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:  # e.g. the folder of a sqlite database cannot be created
        where = f": {exc.filename}" if exc.filename else ""
        raise click.ClickException(f"cannot start: {exc.strerror or exc}{where}") from None


def _database_problem(exc: sa.exc.DBAPIError) -> str:
    detail = " ".join(str(exc.orig).split())
    if "no such table" in detail or ('relation "' in detail and "does not exist" in detail):
        return f"the database has no HCRM tables yet ({detail}): run `hcrm init`"
    return f"database error: {detail} (check database.url in the config file or HCRM_DATABASE_URL)"


def hospital_for_cli(code: str, plugin: str | None = None):
    """The hospital with this code, for a CLI command; with ``plugin``, also check that the
    plugin is live there. Raises ``click.ClickException`` (message naming the fix) otherwise.
    Plugin commands use it for their ``--hospital`` option."""
    from core.activation import live_plugins
    from core.extensions import db
    from core.models import Hospital
    from core.tenancy import system_scope
    with system_scope():
        hospital = db.session.execute(sa.select(Hospital).where(Hospital.code == code)).scalar_one_or_none()
        if hospital is None:
            known = ", ".join(db.session.execute(sa.select(Hospital.code).order_by(Hospital.code)).scalars())
            raise click.ClickException(f"no hospital with code '{code}' (known: {known or 'none — run hcrm init'})")
        if plugin and plugin not in live_plugins(hospital.id):
            raise click.ClickException(f"the {plugin} plugin is not enabled for hospital '{code}' "
                                       f"(hcrm plugins enable {plugin} --hospital {code})")
    return hospital



class HcrmGroup(FlaskGroup):
    """Flask's group (so `hcrm shell`, `hcrm routes` work) plus the plugins' own commands."""

    def __init__(self, **kwargs):
        super().__init__(create_app=_create_app, add_version_option=False, load_dotenv=False,
                         set_debug_flag=False, **kwargs)
        self._plugins_added = False

    def _add_plugin_commands(self):
        if self._plugins_added:
            return
        self._plugins_added = True
        from core.plugins import PluginRegistry
        try:
            registry = PluginRegistry().load()
        except PluginError as exc:
            click.echo(f"Error: {exc}", err=True)
            return
        registry.pm.hook.hcrm_cli_commands(cli=self)

    def list_commands(self, ctx):
        self._add_plugin_commands()
        # Flask's group builds the app to list its commands and prints a traceback when it
        # cannot (no secret key, no database before `hcrm init`): list ours, with one line.
        try:
            ctx.ensure_object(ScriptInfo).load_app()
        except click.ClickException as exc:
            click.echo(f"(the app cannot start yet: {exc.format_message()})", err=True)
            return sorted(click.Group.list_commands(self, ctx))
        return super().list_commands(ctx)

    def get_command(self, ctx, name):
        self._add_plugin_commands()
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        # An unreachable server or a database not set up yet is one line too, not a traceback.
        try:
            return super().invoke(ctx)
        except sa.exc.DBAPIError as exc:
            raise click.ClickException(_database_problem(exc)) from None


@click.group(cls=HcrmGroup, help="HCRM hospital CRM administration.")
def main():
    pass


# -- set-up -----------------------------------------------------------------------------------
@main.command(with_appcontext=False)
@click.option("--demo", is_flag=True, help="Load the demo hospital group's users and data.")
def init(demo):
    """Create or upgrade the database, seed hospitals and plugins from config.yaml."""
    from core.app import write_secret_key
    if not os.environ.get("HCRM_SECRET_KEY"):
        try:
            write_secret_key(INSTANCE)
        except OSError as exc:
            raise click.ClickException(f"cannot write the secret key to {INSTANCE}: {exc.strerror or exc} "
                                       "(or set HCRM_SECRET_KEY)") from None
    with _create_app().app_context():
        _init(demo)


def _init(demo: bool) -> None:
    from flask import current_app

    from core import activation, migrations_support
    from core.extensions import db
    from core.models import User
    from core.tenancy import system_scope
    migrations_support.upgrade()
    click.echo("database is at the latest schema")
    for line in activation.sync_from_config(current_app.extensions["hcrm"].config):
        click.echo(line)
    with system_scope():
        has_admin = db.session.execute(sa.select(User.id).where(User.is_group_admin.is_(True))).first()
    if not has_admin:
        _create_first_admin(demo)
    if demo:
        _load_demo()


def _create_first_admin(demo: bool) -> None:
    from core.demo import DEMO_PASSWORD
    from core.extensions import db
    from core.models import Hospital, Role, User
    from core.tenancy import hospital_scope, system_scope
    with system_scope():
        hospital = db.session.execute(sa.select(Hospital).order_by(Hospital.id)).scalars().first()
    if hospital is None:
        click.echo("no hospital in config.yaml: add one, then run `hcrm init` again to create the admin")
        return
    password = DEMO_PASSWORD if demo else secrets.token_urlsafe(12)
    with hospital_scope(hospital):
        role = db.session.execute(sa.select(Role).where(Role.code == "super_admin")).scalar_one()
        admin = User(hospital_id=hospital.id, username="admin", display_name="系统管理员",
                     is_group_admin=True, roles=[role])
        admin.set_password(password)
        db.session.add(admin)
        db.session.commit()
    click.secho(f"group administrator created: username 'admin', password '{password}'", fg="green")
    if not demo:
        click.echo("change it after the first sign-in (Account > Change password)")


def _load_demo() -> None:
    from core.demo import DEMO_PASSWORD, load_demo
    from core.extensions import db
    from core.models import Hospital
    from core.tenancy import system_scope
    with system_scope():
        hospitals = db.session.execute(sa.select(Hospital).order_by(Hospital.code)).scalars().all()
    for hospital in hospitals:
        created = load_demo(hospital)
        if created:
            click.echo(f"{hospital.code}: demo users " + ", ".join(u for u, _r in created))
    click.echo(f"demo users share the password '{DEMO_PASSWORD}'")


@main.command("run", with_appcontext=False)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug/--no-debug", default=False)
def run_server(host, port, debug):
    """Serve the web UI with the development server (use gunicorn in production)."""
    app = _create_app()
    # The development server speaks plain HTTP: secure-only cookies would never come back.
    app.config.update(SESSION_COOKIE_SECURE=False, REMEMBER_COOKIE_SECURE=False)
    with app.app_context():
        from core import migrations_support
        if not migrations_support.heads() <= migrations_support.applied():
            raise click.ClickException("the database is not at the latest schema: run `hcrm init` (or `hcrm db upgrade`)")
    click.echo(f"HCRM on http://{host}:{port}/  (Ctrl+C to stop)")
    from werkzeug.serving import run_simple  # app.run() refuses to start under a Flask CLI group
    run_simple(host, port, app, use_debugger=debug, threaded=True)


# -- database ---------------------------------------------------------------------------------
@main.group()
def db():
    """Schema migrations (Alembic: a core branch plus one branch per plugin)."""


@db.command("upgrade")
@with_appcontext
def db_upgrade():
    """Bring the core and every plugin's tables to their latest revision."""
    from core import activation, migrations_support
    migrations_support.upgrade()
    click.echo("database is at the latest schema: " + ", ".join(sorted(migrations_support.applied())))
    for line in activation.grant_new_permissions():
        click.echo(line)


@db.command("revision")
@click.option("--plugin", required=True, help="Branch to add the revision to ('core' or a plugin name).")
@click.option("-m", "--message", required=True)
@click.option("--empty", is_flag=True, help="Write an empty revision instead of autogenerating.")
@with_appcontext
def db_revision(plugin, message, empty):
    """Create a revision holding the changes of one plugin's tables."""
    from flask import current_app

    from core import migrations_support
    if plugin != "core" and plugin not in current_app.extensions["hcrm"].registry.infos:
        raise click.ClickException(f"no plugin named '{plugin}'")
    migrations_support.new_revision(plugin, message, autogenerate=not empty)


@db.command("check")
@with_appcontext
def db_check():
    """Fail when the database is behind the migrations or the models differ from them."""
    from core import migrations_support
    missing = migrations_support.heads() - migrations_support.applied()
    if missing:
        raise click.ClickException(f"database lacks revision(s) {', '.join(sorted(missing))}: run `hcrm db upgrade`")
    drift = migrations_support.drift(migrations_support.deployment_prefixes())
    if drift:
        raise click.ClickException("models differ from the migrations: " + "; ".join(map(str, drift)))
    click.echo("database, migrations and models agree")


# -- users ------------------------------------------------------------------------------------
@main.group()
def user():
    """User accounts."""


# The command line is run by the deployment's operator, who may do what a group administrator may.
OPERATOR = SimpleNamespace(id=None, is_group_admin=True, username="cli")


@user.command("create")
@click.argument("username")
@click.option("--hospital", "hospital_code", required=True, help="Hospital code.")
@click.option("--role", "roles", multiple=True, help="Role code (repeatable), e.g. staff, super_admin.")
@click.option("--name", "display_name", help="Display name (default: the username).")
@click.option("--group-admin", is_flag=True, help="Administrator of the whole hospital group.")
@click.password_option(help="Password (prompted when omitted).")
def user_create(username, hospital_code, roles, display_name, group_admin, password):
    """Create a user of a hospital."""
    from core.admin.services import AdminError, create_user
    from core.extensions import db
    from core.models import Role
    from core.tenancy import hospital_scope
    hospital = hospital_for_cli(hospital_code)
    with hospital_scope(hospital):
        found = {r.code: r.id for r in db.session.execute(sa.select(Role).where(Role.code.in_(roles))).scalars()}
        unknown = [code for code in roles if code not in found]
        if unknown:
            known = ", ".join(db.session.execute(sa.select(Role.code).order_by(Role.code)).scalars())
            raise click.ClickException(f"unknown role(s) {', '.join(unknown)} in {hospital.code} (roles: {known})")
        try:
            created = create_user(hospital, username=username, display_name=display_name or username,
                                  password=password, role_ids=list(found.values()), actor=OPERATOR,
                                  is_group_admin=group_admin)
        except AdminError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"created user '{created.username}' in {hospital.code}")


@user.command("password")
@click.argument("username")
@click.password_option(help="New password (prompted when omitted).")
def user_password(username, password):
    """Set a user's password."""
    from core.admin.services import AdminError, reset_password
    from core.extensions import db
    from core.models import User
    from core.tenancy import hospital_scope, system_scope
    with system_scope():
        account = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
    if account is None:
        raise click.ClickException(f"no user named '{username}'")
    with hospital_scope(account.hospital_id):
        try:
            reset_password(account, password, actor=OPERATOR)
        except AdminError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"password of '{username}' changed")


# -- plugins ----------------------------------------------------------------------------------
@main.group()
def plugins():
    """Plugins and their state per hospital."""


@plugins.command("list")
@click.option("--hospital", "hospital_code", help="Show the state for this hospital.")
@with_appcontext
def plugins_list(hospital_code):
    """List installed plugins (and, with --hospital, whether each is enabled there)."""
    from flask import current_app

    from core.activation import plugin_rows
    registry = current_app.extensions["hcrm"].registry
    rows = {}
    if hospital_code:
        from core.tenancy import system_scope
        with system_scope():
            rows = plugin_rows(hospital_for_cli(hospital_code).id)
    for info in registry.infos.values():
        state = ""
        if hospital_code:
            row = rows.get(info.name)
            state = "enabled " if row and row.enabled else ("disabled" if row else "never   ")
        deps = f"  (depends: {', '.join(info.depends)})" if info.depends else ""
        click.echo(f"{state} {info.name:16} {info.version:8} {info.title}{deps}".strip())
    for broken in registry.broken:
        click.echo(f"BROKEN   {broken.name} [{broken.source}]: {broken.reason}")


def _switch(name: str, hospital_code: str, enabled: bool) -> None:
    from core import activation
    hospital = hospital_for_cli(hospital_code)
    try:
        report = activation.switch(hospital, name, enabled)
    except activation.ActivationError as exc:
        raise click.ClickException(str(exc)) from None
    for line in report.messages:
        click.echo(str(line))


@plugins.command("enable")
@click.argument("name")
@click.option("--hospital", "hospital_code", required=True)
@with_appcontext
def plugins_enable(name, hospital_code):
    """Enable a plugin (and what it depends on) for a hospital."""
    _switch(name, hospital_code, True)


@plugins.command("disable")
@click.argument("name")
@click.option("--hospital", "hospital_code", required=True)
@with_appcontext
def plugins_disable(name, hospital_code):
    """Disable a plugin for a hospital (refused while enabled plugins depend on it; data is kept)."""
    _switch(name, hospital_code, False)


# -- jobs -------------------------------------------------------------------------------------
@main.command("worker")
@click.option("--workers", type=int, help="Worker threads (default: config jobs.workers).")
@with_appcontext
def worker(workers):
    """Run a task queue consumer until stopped (run one or more per machine, e.g. under systemd)."""
    import logging

    from flask import current_app

    from core import queue
    from core.queue_worker import consume
    app = current_app._get_current_object()
    configured = queue.settings(app)
    try:
        queue.state(app)
    except queue.QueueUnavailable as exc:
        raise click.ClickException(str(exc.message)) from None
    click.echo(f"consumer on the {configured['backend']} queue: {workers or configured['workers']} workers, "
               f"periodic jobs checked every {configured['tick_seconds']} s (Ctrl+C to stop)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    consume(app, workers=workers)


@main.group()
def jobs():
    """Background tasks and periodic jobs (they run in `hcrm worker`)."""


@jobs.command("list")
@click.option("--hospital", "hospital_code", help="Only this hospital's tasks.")
@click.option("--state", type=click.Choice(["queued", "running", "ok", "failed", "skipped"]))
@click.option("--limit", type=int, default=30, show_default=True)
@with_appcontext
def jobs_list(hospital_code, state, limit):
    """The newest tasks: id, state, task, hospital, progress, error."""
    from core.clock import show_stamp
    from core.jobs import task_rows
    hospital = hospital_for_cli(hospital_code) if hospital_code else None
    rows = task_rows(hospital_id=hospital.id if hospital else None, state=state, limit=limit)
    for row in rows:
        done = f" {row.done}/{row.total}" if row.total else ""
        error = f"  {row.error.splitlines()[0]}" if row.error else ""
        click.echo(f"#{row.id} {row.state:<8} {row.task} {row.hospital_code} {show_stamp(row.created_at, 'second')}"
                   f"{done}{error}")
    if not rows:
        click.echo("no tasks")


@jobs.command("retry")
@click.argument("task_id", type=int)
@with_appcontext
def jobs_retry(task_id):
    """Queue a failed or skipped task again."""
    from core import queue
    from core.tenancy import system_scope
    with system_scope():
        try:
            record = queue.retry(task_id)
        except LookupError:
            raise click.ClickException(f"no task #{task_id} (see hcrm jobs list)") from None
        except queue.QueueError as exc:
            raise click.ClickException(str(exc.message)) from None
    click.echo(f"#{record.id} {record.task}: queued again")


@jobs.command("run")
@click.argument("name", required=False)
@click.option("--hospital", "hospital_code", help="With NAME: the hospital to run it for (required for a task).")
@click.option("--arg", "args", multiple=True, metavar="KEY=VALUE", help="A task argument (JSON or text).")
@click.option("--wait", is_flag=True, help="Wait for the task to finish; exit 1 when it failed.")
@with_appcontext
def jobs_run(name, hospital_code, args, wait):
    """Without NAME: queue the periodic jobs that are due (for cron, when no consumer schedules
    them). With NAME: queue that task or job now for --hospital (every live hospital for a job)."""
    from core.jobs import run_now
    from core.queue import QueueError
    try:
        records = run_now(name, hospital_code=hospital_code, args=args, wait=wait)
    except (LookupError, ValueError, QueueError) as exc:
        raise click.ClickException(str(getattr(exc, "message", None) or exc.args[0])) from None
    for record in records:
        detail = f" ({record.error.splitlines()[0]})" if record.error else ""
        click.echo(f"#{record.id} {record.task}: {record.state}{detail}")
    if not records:
        from core.jobs import live_periodic_jobs
        click.echo("nothing is due" if live_periodic_jobs() else "no jobs are declared by the enabled plugins")
    if any(r.state == "failed" for r in records):
        sys.exit(1)


@main.command("secret-key", with_appcontext=False)
def secret_key():
    """Print a new random secret key (for HCRM_SECRET_KEY)."""
    click.echo(secrets.token_hex(32))



# -- plugin scaffolding -------------------------------------------------------------------------
@main.group("plugin")
def plugin_group():
    """Write plugins (see docs/plugins.md)."""


@plugin_group.command("new", with_appcontext=False)
@click.argument("name")
@click.option("--path", "path", type=click.Path(file_okay=False, path_type=Path),
              help="Write a standalone distribution DIR/hcrm-NAME/ instead of the built-in plugins/NAME.")
@click.option("--title", help="Title shown in the Apps screen and the menu (default: from NAME).")
def plugin_new(name, path, title):
    """Generate a working plugin NAME: model, migration, pages, permissions, menu and tests."""
    from core.scaffold import ScaffoldError, create_plugin
    try:
        package = create_plugin(name, path, title)
    except ScaffoldError as exc:
        raise click.ClickException(str(exc)) from None
    if path is None:
        click.echo(f"created the built-in plugin {package}")
        steps = [f"pytest {package}", "hcrm db upgrade", f"hcrm plugins enable {name} --hospital CODE"]
    else:
        click.echo(f"created the distribution {package.parent} (package {package.name})")
        steps = [f"pip install -e {package.parent}", "hcrm db upgrade",
                 f"hcrm plugins enable {name} --hospital CODE", f"pytest {package.parent / 'tests'}"]
    click.echo("next: " + "; ".join(steps))
