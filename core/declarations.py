"""Small frozen records that plugins return from hooks; the core validates and serves them.

Plugins *declare* (a menu item, a permission, a report...) and the core decides, per hospital,
which declarations are live. ``plugin`` is filled in by the core when it collects a hook's
results, so a plugin never has to repeat its own name.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

#: Operation levels a permission string may end with (seed 000: 查看/新增/修改/删除/导入/导出/打印).
OPERATIONS = ("read", "create", "edit", "delete", "import", "export", "print")

#: Default roles every hospital gets, in seniority order (seed 000).
DEFAULT_ROLES = ("super_admin", "director", "dept_manager", "supervisor", "staff", "analyst")


@dataclass(frozen=True)
class Permission:
    """A permission string such as ``patients.export`` with a human title.

    ``default_roles`` lists the default role codes granted this permission when the plugin is
    enabled for a hospital; ``None`` derives them from the operation (see ``core.permissions``).
    """

    name: str
    title: str
    default_roles: Sequence[str] | None = None
    plugin: str = ""


@dataclass(frozen=True)
class MenuItem:
    """An entry of the menu tree. ``endpoint`` None makes a pure group; ``parent`` is another id."""

    id: str
    title: str
    endpoint: str | None = None
    permission: str | None = None
    parent: str | None = None
    order: int = 100
    icon: str | None = None
    plugin: str = ""


@dataclass(frozen=True)
class ReportParam:
    """A report parameter shown as a form field; ``type`` is one of date, int, choice, text.

    ``default`` is a value or a callable returning one (called per request, e.g. ``core.clock.local_today``);
    ``choices`` are (value, label) pairs for ``choice``. Use ``core.reports.parse_params`` to read it.
    """

    name: str
    label: str
    type: str = "text"
    default: Any = None
    choices: Sequence[tuple[str, str]] = ()
    required: bool = False


@dataclass(frozen=True)
class Chart:
    """How to chart a report's rows: ``kind`` bar/line/pie, x column, one or more y columns.
    ``y_prefix``: every column whose key starts with it is a series too (columns a report makes
    per row of a table, e.g. one per source channel); ``stack``: bars (or areas) stacked, so
    the parts add up to the whole; ``total_row``: the last row sums the others and is left out
    of the chart (it is in the table)."""

    kind: str
    x: str
    y: Sequence[str]
    y_prefix: str = ""
    stack: bool = False
    total_row: bool = False


@dataclass(frozen=True)
class ReportResult:
    """What a report query returns: ordered (key, label) columns and row dicts."""

    columns: Sequence[tuple[str, str]]
    rows: Sequence[dict]


@dataclass(frozen=True)
class Report:
    """A report: ``query(params)`` runs inside the caller's tenancy scope and returns a ReportResult."""

    id: str
    title: str
    permission: str
    query: Callable[[dict], ReportResult]
    params: Sequence[ReportParam] = ()
    chart: Chart | None = None
    description: str = ""
    plugin: str = ""
    #: Its CSV/.xlsx take more than a moment: made by a background task (core.exports), not the request.
    background_export: bool = False


@dataclass(frozen=True)
class WidgetData:
    """What a dashboard widget shows; ``items`` are (label, value, url-or-None) rows; ``trend``
    the card's figure per day, oldest first, as (ISO day, number) pairs — drawn as a small line
    (``core.dashboard.daily_trend`` makes one from a single grouped query)."""

    title: str
    value: Any = None
    subtitle: str | None = None
    url: str | None = None
    icon: str | None = None
    items: Sequence[tuple[str, Any, str | None]] = ()
    trend: Sequence[tuple[str, float]] = ()


@dataclass(frozen=True)
class Widget:
    """A dashboard card; ``render()`` returns WidgetData for the current user, or None to hide."""

    id: str
    permission: str
    render: Callable[[], WidgetData | None]
    order: int = 100
    plugin: str = ""


@dataclass(frozen=True)
class Panel:
    """A tab another plugin shows on a page: ``target`` names the page (e.g. ``patients.patient``),
    ``render(record)`` returns trusted HTML as ``Markup`` (``Markup(render_template(...))``: a
    plain str is escaped) or None to hide the tab for that record."""

    id: str
    target: str
    title: str
    permission: str
    render: Callable[[Any], Any]
    order: int = 100
    plugin: str = ""


@dataclass(frozen=True)
class PanelTarget:
    """A page that shows other plugins' panels, declared by the plugin that owns it (in its
    ``hcrm_panels``): ``id`` is what its view passes to ``core.panels.render_panels`` and what a
    :class:`Panel` names as ``target``; ``record`` says what ``render(record)`` receives."""

    id: str
    title: str
    record: str = ""
    plugin: str = ""
    #: ``example(hospital)`` returns a committed record of that hospital the page could show: the
    #: generic plugin suite renders every panel of this target on it.
    example: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class Job:
    """A periodic job: ``run(hospital)`` is queued once per ``every`` for each hospital where the
    plugin is live, however many consumers run (see core.queue)."""

    id: str
    title: str
    every: timedelta
    run: Callable[[Any], Any]
    plugin: str = ""


@dataclass(frozen=True)
class Task:
    """A one-off task started on demand (``core.queue.enqueue(id, hospital, **args)``): the
    consumer calls ``run(hospital, **args)`` in that hospital's scope and the starting user's
    language. ``args`` must be JSON values (ids, not rows). ``retries``: extra attempts after an
    exception. A task that may run again after its consumer died must be safe to repeat.

    ``as_user``: a permission. The task then runs as the user who started it would see the data
    in a request -- their data scope (own, department, hospital) and their permissions, so
    ``core.permissions.can`` answers inside it -- and is skipped, and recorded so, when that user
    is deactivated, no longer works in the hospital, or lost the permission meanwhile. Exports
    use it: a file made in the background never shows more than its requester may see."""

    id: str
    title: str
    run: Callable[..., Any]
    retries: int = 0
    plugin: str = ""
    as_user: str | None = None


def with_plugin(declaration, plugin: str):
    """Return ``declaration`` stamped with the name of the plugin that declared it."""
    return dataclasses.replace(declaration, plugin=plugin)


__all__ = [
    "OPERATIONS", "DEFAULT_ROLES", "Permission", "MenuItem", "ReportParam", "Chart",
    "ReportResult", "Report", "WidgetData", "Widget", "Panel", "PanelTarget", "Job", "Task", "with_plugin", "field",
]
