"""Every hook the core calls, with its contract.

Implement a hook in a plugin's ``__init__.py`` with ``@hookimpl`` (``from core import hookimpl``)
and a function of the same name. Hooks that return declarations are *collected once at start-up*
from every loaded plugin and filtered per hospital afterwards: the core only serves a plugin's
declarations to hospitals where the plugin is live. Hooks that react to something (events,
enable/disable) are *called per hospital* and reach only that hospital's live plugins.

The plugin author guide ``docs/plugins.md`` documents each hook below; a test fails when one
is missing there.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("hcrm")


@hookspec
def hcrm_hookspecs():
    """Publish hooks of your own so that plugins depending on you can implement them.

    Called once at start-up, after every plugin is registered and before hook names are checked.
    Return a module or class holding functions decorated with ``core.hookspec`` (or None).
    A plugin that implements a published hook must list the publisher in its ``depends``.
    """


@hookspec
def hcrm_settings(settings, config):
    """Validate your plugin's own section of ``config.yaml``.

    Called once at start-up (every app build), on every loaded plugin that implements it, even
    when the file has no section for it. ``settings`` is a :class:`core.config.PluginSettings`:
    ``group`` (the top-level ``plugins_settings.<plugin>`` mapping, ``{}`` when absent) and
    ``hospitals`` (hospital code -> that hospital's ``plugins_settings.<plugin>``), as plain
    YAML values; ``config`` is the whole :class:`core.config.HcrmConfig`. Raise
    ``settings.error(keys, message, hospital=None)`` (a ``ConfigError`` naming the file and line)
    for a mistake. Return the validated settings in any shape you like: the core keeps it as
    ``app.extensions["hcrm"].plugin_settings[<plugin>]`` for your code to read. None keeps None.
    """


@hookspec
def hcrm_permissions():
    """Declare the permission strings your plugin checks.

    Called once at start-up. Return a list of :class:`core.declarations.Permission`; names must
    start with ``<plugin>.`` and be unique. ``default_roles`` (role codes) says which default roles
    get the permission when the plugin is enabled for a hospital; None lets the core derive it
    from the operation suffix (``read``, ``create``, ``edit``, ``delete``, ``import``, ``export``,
    ``print``; any other suffix goes to ``super_admin`` only). None declares nothing.
    """


@hookspec
def hcrm_menus():
    """Declare menu items.

    Called once at start-up. Return a list of :class:`core.declarations.MenuItem`. ``endpoint``
    must be a route of your plugin and ``permission`` a declared permission (both checked at
    start-up);
    ``parent`` is the id of a group item (yours, or the core's ``crm``, ``reports``, ``admin``).
    Items appear only for hospitals where the plugin is live and users holding the permission;
    a group with no visible child is hidden. None declares nothing.
    """


@hookspec
def hcrm_models():
    """List your SQLAlchemy models.

    Called once at start-up. Return a list of model classes. Each table name must start with
    ``<plugin>_``; each model must be hospital-owned (inherit ``core.tenancy.HospitalOwned``) or
    say why not with ``__hcrm_global__ = "reason"``. Hospital-owned models are filtered by
    hospital and data scope in every query and audited on every create/update/delete.
    """


@hookspec
def hcrm_blueprints():
    """Provide Flask blueprints (pages and API).

    Called once at start-up. Return a list of :class:`flask.Blueprint`. Page blueprints mount
    where you say (convention ``/<plugin>``); API blueprints use ``url_prefix="/api/v1/<plugin>"``
    and ``core.api.api_route``. Every request to a plugin's blueprint needs a logged-in user and is
    answered 404 when the plugin is not live for the user's hospital. Guard each view with
    ``core.permissions.require`` (or ``core.api.api_route(permission=...)``).
    """


@hookspec
def hcrm_reports():
    """Declare reports.

    Called once at start-up. Return a list of :class:`core.declarations.Report`. The core lists
    them under Reports, renders parameters, the table and the chart, and exports CSV and .xlsx;
    ``query(params)`` runs inside the user's tenancy scope, so it needs no hospital filter of its own.
    """


@hookspec
def hcrm_dashboard_widgets():
    """Declare dashboard cards.

    Called once at start-up. Return a list of :class:`core.declarations.Widget`. ``render()`` is
    called per dashboard view for users holding ``permission`` and returns a ``WidgetData`` or
    None to hide the card for this user.
    """


@hookspec
def hcrm_panels():
    """Declare panels (tabs) shown on another plugin's pages.

    Called once at start-up. Return a list of :class:`core.declarations.Panel` (tabs on another
    plugin's page) and :class:`core.declarations.PanelTarget` (your own pages that show such
    tabs). The page owner declares the target and calls ``core.panels.render_panels(target,
    record)``; your ``render(record)`` returns HTML or None to hide the tab for that record. A
    panel whose target is not declared by its plugin or one it depends on fails at start-up
    (with a "did you mean"), like every other declaration mistake.
    """


@hookspec
def hcrm_event(event):
    """React to a domain event of a hospital.

    Called by ``core.events.emit`` for every event, only on plugins live for
    ``event.hospital_id``, inside the emitter's transaction (raise to abort it). ``event`` is a
    :class:`core.events.DomainEvent` with ``name`` (``<plugin>.<what>``, e.g.
    ``patients.visit_recorded``), ``hospital_id``, ``payload`` (dict) and ``user_id``. The return
    value is ignored. Plugins may also publish typed hooks for their events (see ``hcrm_hookspecs``).
    """


@hookspec
def hcrm_notification_created(notification):
    """Deliver a new notification by another channel (SMS, e-mail, WeChat…).

    Called by ``core.notifications.notify`` once for each notification it writes -- never for a
    user skipped because they already had that (kind, key) -- only on plugins live for
    ``notification.hospital_id``, inside the notifying transaction, after the row is flushed (it
    has its ``id``). ``notification`` is a :class:`core.models.Notification`: ``user_id``,
    ``kind`` (``<plugin>.<what>``), ``key``, ``title``, ``body`` (or None), ``link`` (a path in
    the application, or None), ``created_at``. Do not send anything slow here: queue the
    delivery (``core.queue.enqueue``) so the caller's transaction stays short; an exception
    aborts the caller's whole change. The return value is ignored.
    """


@hookspec
def hcrm_cli_commands(cli):
    """Add commands to the ``hcrm`` command line.

    Called once when the CLI starts, with the root :class:`click.Group`. Add your commands or a
    group named after your plugin (``cli.add_command(...)``). Commands that touch hospital data
    should take ``--hospital CODE`` and run inside ``core.tenancy.hospital_scope``. The return
    value is ignored.
    """


@hookspec
def hcrm_jobs():
    """Declare background work: periodic jobs and one-off tasks.

    Called once at start-up. Return a list of :class:`core.declarations.Job` (periodic) and
    :class:`core.declarations.Task` (one-off, with arguments); ids start with your plugin's name.
    A queue consumer (``hcrm worker``) queues each ``Job`` once per ``every`` for each hospital
    where the plugin is live -- once, however many consumers run -- and calls
    ``job.run(hospital)``. A ``Task`` runs when something calls
    ``core.queue.enqueue(task_id, hospital, user=..., **args)``: ``task.run(hospital, **args)``.
    Both run in the hospital's scope, the starting user's language and a transaction of their own
    (committed when ``run`` returns); an exception rolls it back and is recorded on the task,
    the other tasks still run. A task whose plugin was disabled for the hospital meanwhile is
    skipped. Report progress with ``core.queue.progress(done, total)``. Work whose consumer dies
    is run again, so make ``run`` safe to repeat. Return None or [] to declare nothing.
    """


@hookspec
def hcrm_enable(hospital):
    """Prepare a hospital when your plugin is enabled for it.

    Called only on the plugin being enabled (after its dependencies), inside the hospital's scope
    and the enabling transaction. Seed default data (categories, settings) idempotently: it runs
    again after a disable/enable cycle, when the earlier rows are still there. Return None.
    """


@hookspec
def hcrm_disable(hospital):
    """Clean up when your plugin is disabled for a hospital.

    Called only on the plugin being disabled, inside the hospital's scope. Never delete the
    hospital's records: a disabled plugin keeps its data. Cancel pending external work at most.
    Return None.
    """


@hookspec
def hcrm_demo_data(hospital):
    """Load demonstration data for a hospital (``hcrm init --demo``).

    Called on plugins live for the hospital, in dependency order, inside its scope. Must be
    idempotent: skip when the data is already there. Return None.
    """
