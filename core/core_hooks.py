"""The core's own declarations, registered like a plugin's (under the name ``core``)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from core import hookimpl
from core.clock import local_sql, local_to_utc, local_today
from core.declarations import Chart, MenuItem, Permission, Report, ReportParam, ReportResult, Widget, WidgetData
from core.extensions import db

ADMINS = ("super_admin",)


@hookimpl
def hcrm_permissions():
    return [
        Permission("core.users.read", _l("View users"), ADMINS),
        Permission("core.users.create", _l("Create users"), ADMINS),
        Permission("core.users.edit", _l("Edit users and their roles"), ADMINS),
        Permission("core.departments.read", _l("View departments"), ADMINS),
        Permission("core.departments.edit", _l("Create and edit departments"), ADMINS),
        Permission("core.roles.read", _l("View roles"), ADMINS),
        Permission("core.roles.edit", _l("Edit roles and their permissions"), ADMINS),
        Permission("core.plugins.read", _l("View the Apps screen"), ("super_admin", "director")),
        Permission("core.plugins.manage", _l("Enable and disable apps for the hospital"), ADMINS),
        Permission("core.audit.read", _l("Browse the audit log"), ("super_admin", "director")),
        Permission("core.jobs.read", _l("See the background tasks and their errors"), ("super_admin", "director")),
        Permission("core.jobs.manage", _l("Retry failed background tasks"), ADMINS),
        # Hospitals are the group's, not one hospital's: no role may hold it (core.permissions.GROUP_ONLY).
        Permission("core.hospitals.manage", _l("Add hospitals and change their name, time zone and apps"), ()),
        Permission("core.reports.read", _l("Open reports"), ("super_admin", "director", "dept_manager",
                                                            "supervisor", "analyst")),
    ]


@hookimpl
def hcrm_menus():
    return [
        MenuItem("home", _l("Dashboard"), endpoint="core.dashboard", icon="speedometer2", order=0,
                 permission=None),
        MenuItem("crm", _l("CRM"), icon="heart-pulse", order=10),
        MenuItem("reports", _l("Reports"), icon="bar-chart", order=80),
        MenuItem("reports.all", _l("All reports"), endpoint="reports.index", parent="reports",
                 permission="core.reports.read", order=0),
        MenuItem("admin", _l("Administration"), icon="gear", order=90),
        MenuItem("admin.hospitals", _l("Hospitals"), endpoint="admin.hospitals", parent="admin",
                 permission="core.hospitals.manage", icon="hospital", order=5),
        MenuItem("admin.apps", _l("Apps"), endpoint="admin.apps", parent="admin",
                 permission="core.plugins.read", icon="grid", order=10),
        MenuItem("admin.users", _l("Users"), endpoint="admin.users", parent="admin",
                 permission="core.users.read", icon="people", order=20),
        MenuItem("admin.departments", _l("Departments"), endpoint="admin.departments", parent="admin",
                 permission="core.departments.read", icon="diagram-3", order=25),
        MenuItem("admin.roles", _l("Roles"), endpoint="admin.roles", parent="admin",
                 permission="core.roles.read", icon="shield-lock", order=30),
        MenuItem("admin.audit", _l("Audit log"), endpoint="admin.audit", parent="admin",
                 permission="core.audit.read", icon="journal-text", order=40),
        MenuItem("admin.jobs", _l("Background tasks"), endpoint="admin.jobs", parent="admin",
                 permission="core.jobs.read", icon="list-task", order=45),
    ]


def _audit_activity(params: dict) -> ReportResult:
    from core.models import AuditLog
    start = params.get("start") or local_today() - timedelta(days=30)
    end = params.get("end") or local_today()
    day = sa.func.date(local_sql(AuditLog.at, db.session.get_bind().dialect.name))  # the hospitals' day
    rows = db.session.execute(
        sa.select(day.label("day"),
                  sa.func.sum(sa.case((AuditLog.action == "create", 1), else_=0)).label("created"),
                  sa.func.sum(sa.case((AuditLog.action == "update", 1), else_=0)).label("updated"),
                  sa.func.sum(sa.case((AuditLog.action == "delete", 1), else_=0)).label("deleted"))
        .where(AuditLog.at >= local_to_utc(datetime.combine(start, time.min)),
               AuditLog.at < local_to_utc(datetime.combine(end + timedelta(days=1), time.min)))
        .group_by(day).order_by(day)).all()
    return ReportResult(
        # Counts of records, not times: headed so ("Created" read as 创建时间 in Chinese).
        columns=[("day", _l("Day")), ("created", _l("Records created")), ("updated", _l("Records updated")),
                 ("deleted", _l("Records deleted"))],
        # SQLite's date() gives text, PostgreSQL a date: hand out a date either way (typed in .xlsx).
        rows=[{"day": r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day)),
               "created": int(r.created or 0), "updated": int(r.updated or 0),
               "deleted": int(r.deleted or 0)} for r in rows])


@hookimpl
def hcrm_reports():
    return [Report(
        id="core.audit_activity", title=_l("Data changes per day"), permission="core.audit.read",
        query=_audit_activity,
        # Callable defaults: evaluated per request, so the form shows the range actually reported.
        params=[ReportParam("start", _l("From"), "date", default=lambda: local_today() - timedelta(days=30)),
                ReportParam("end", _l("To"), "date", default=local_today)],
        chart=Chart("bar", "day", ("created", "updated", "deleted")),
        description=_l("Records created, updated and deleted per day, from the audit log."))]


def _changes_today():
    """Today's audit entries (the hospitals' today), counted with the audit page's own statement
    and linked to that page filtered the same way, so the card equals the list."""
    from flask import url_for

    from core.admin.services import AuditFilters, audit_select
    from core.paging import count_rows
    today = local_today()
    from core.dashboard import daily_trend
    from core.models import AuditLog
    count, _exact = count_rows(audit_select(AuditFilters(date_from=today, date_to=today)))
    return WidgetData(title=str(_l("Data changes today")), value=count, icon="journal-text",
                      trend=daily_trend(AuditLog.at, today, utc=True),
                      url=url_for("admin.audit", date_from=today.isoformat(), date_to=today.isoformat()))


@hookimpl
def hcrm_dashboard_widgets():
    return [Widget("core.changes_today", "core.audit.read", _changes_today, order=900)]


@hookimpl
def hcrm_jobs():
    from core import exports
    return exports.declarations()
