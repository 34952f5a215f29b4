"""Reports: the service that lists, checks, parses and runs the reports plugins declare, and the
pages that show them as a parameter form, a chart and a table with CSV / .xlsx export.

The service functions (``visible_reports``, ``get_report``, ``parse_params``, ``run_report``,
``to_csv``, ``to_xlsx``) need a request context (the user's permissions and live plugins are on
``g``) and are shared by these pages, the API and the CLI. A report's ``query`` runs inside the
caller's tenancy scope, so a hospital only ever sees its own numbers, and a group administrator
those of the hospital they work in; ``?whole_group=1`` gives them every hospital's rows under a
hospital column (the page says so, the exports carry the column).
"""
from __future__ import annotations

import datetime as dt
from collections import OrderedDict

import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import Form, validators
from wtforms.fields import DateField, IntegerField, SelectField, StringField

try:  # WTForms 3.3 deprecates (value, label) tuples for choices
    from wtforms import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    def SelectChoice(value, label):
        return value, label

from core import tenancy
from core.activation import live_for
from core.clock import local_today
from core.declarations import Report, ReportParam, ReportResult
from core.extensions import db
from core.i18n import plugin_text
from core.models import Hospital
from core.permissions import can, denied, hcrm, require
from core.plugins import CORE
from core.report_export import chart_value, content_disposition, format_value, to_csv, to_xlsx

bp = Blueprint("reports", __name__, url_prefix="/reports")

PARAM_TYPES = ("date", "int", "choice", "text")
TEXT_MAX = 200
#: The page shows this many rows at most; the exports always carry every row.
DISPLAY_LIMIT = 1000
#: The leading column of a whole-group report (``?whole_group=1``, see core.tenancy.group_wide).
HOSPITAL_COLUMN = "hospital"

__all__ = ["bp", "ReportParamError", "ReportFailed", "visible_reports", "get_report",
           "parse_params", "run_report", "to_csv", "to_xlsx"]


class ReportParamError(ValueError):
    """Bad report parameters; ``errors`` maps each parameter name to a message naming the field."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__(" ".join(errors.values()))


class ReportFailed(RuntimeError):
    """The report's query raised; the cause is logged, the user gets this message."""


# -- service -----------------------------------------------------------------------------------
def _is_live(report: Report) -> bool:
    return report.plugin == CORE or report.plugin in g.get("hcrm_live", set())


def visible_reports() -> list[Report]:
    """Reports of live plugins (or the core) whose permission the current user holds."""
    return [r for r in hcrm().catalog.reports.values() if _is_live(r) and can(r.permission)]


def get_report(report_id: str) -> Report:
    """The report, or 404 (unknown, or its plugin is not live here) / 403 (no permission)."""
    report = hcrm().catalog.reports.get(report_id)
    if report is None or not _is_live(report):
        abort(404, description=_("There is no report “%(id)s”.", id=report_id))
    if not can(report.permission):
        abort(403, description=denied(report.permission))
    return report


def _default(param: ReportParam):
    return param.default() if callable(param.default) else param.default


def _convert(param: ReportParam, raw):
    """One parameter's typed value; raises ValueError with the user-facing message."""
    label = str(param.label)
    if param.type == "date":
        if isinstance(raw, dt.date) and not isinstance(raw, dt.datetime):
            return raw
        try:
            return dt.date.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueError(_("%(label)s: enter a date as YYYY-MM-DD.", label=label)) from None
    if param.type == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError(_("%(label)s: enter a whole number.", label=label)) from None
    if param.type == "choice":
        for value, _choice_label in param.choices:
            if str(value) == str(raw).strip():
                return value
        allowed = ", ".join(str(value) for value, _l in param.choices)
        raise ValueError(_("%(label)s: choose one of %(allowed)s.", label=label, allowed=allowed))
    text = str(raw).strip()
    if len(text) > TEXT_MAX:
        raise ValueError(_("%(label)s: at most %(max)d characters.", label=label, max=TEXT_MAX))
    return text


def parse_params(report: Report, mapping) -> dict:
    """Typed parameters from a request's args (or any mapping): date, int, choice or text.

    A missing or empty value takes the parameter's default (a callable default is called);
    a required one without a default is an error. Unknown keys are ignored.
    """
    values, errors = {}, {}
    for param in report.params:
        raw = mapping.get(param.name) if mapping is not None else None
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            value = _default(param)
            if value is None and param.required:
                errors[param.name] = _("%(label)s is required.", label=str(param.label))
            values[param.name] = value
            continue
        try:
            values[param.name] = _convert(param, raw)
        except ValueError as exc:
            errors[param.name] = str(exc)
    if errors:
        raise ReportParamError(errors)
    return values


def run_report(report: Report, params: dict) -> ReportResult:
    """Run the query in the caller's scope. A failing query is logged and raised as ReportFailed.

    In a whole-group scope (a group administrator inside :class:`core.tenancy.group_wide`) the
    query runs once per hospital where the report is live and the rows come back under a
    leading hospital column: a report never adds up hospitals without saying which row is whose.
    """
    try:
        result = _per_hospital(report, params) if tenancy.is_group_wide() else _checked(report.query(params))
    except Exception:
        db.session.rollback()
        current_app.logger.exception("report %s (plugin %s) failed with params %r",
                                     report.id, report.plugin, params)
        raise ReportFailed(_("The report “%(title)s” failed; the error has been logged and nothing "
                             "was exported.", title=str(report.title))) from None
    return result


def _checked(result) -> ReportResult:
    if not isinstance(result, ReportResult):
        raise TypeError(f"query returned {type(result).__name__}, not ReportResult")
    return result


def _group_hospitals(report: Report) -> list[Hospital]:
    """Active hospitals, by code, where the report's plugin is live."""
    with tenancy.system_scope():
        hospitals = db.session.execute(sa.select(Hospital).where(Hospital.active.is_(True))
                                       .order_by(Hospital.code)).scalars().all()
        return [h for h in hospitals if report.plugin == CORE or report.plugin in live_for(h)]


def _per_hospital(report: Report, params: dict) -> ReportResult:
    """The report of each hospital, one after the other, under a hospital column. Hospitals may
    give different columns (one hospital's sources are not another's): the columns are merged
    by key and label, each hospital's in its own order, and a row leaves the others' empty."""
    columns: list[tuple[str, object]] = [(HOSPITAL_COLUMN, _l("Hospital"))]
    slots: dict[tuple[str, str], str] = {}
    rows: list[dict] = []
    for hospital in _group_hospitals(report):
        with tenancy.in_hospital(hospital.id):
            result = _checked(report.query(params))
        rename, anchor = {}, 0
        for key, label in result.columns:
            slot = (key, str(label))
            if slot not in slots:
                taken = {k for k, _label in columns}
                unique = key if key not in taken else next(f"{key}_{n}" for n in range(2, 10_000)
                                                           if f"{key}_{n}" not in taken)
                slots[slot] = unique
                columns.insert(anchor + 1, (unique, label))
            rename[key] = slots[slot]
            anchor = next(i for i, (k, _label) in enumerate(columns) if k == slots[slot])
        rows.extend({HOSPITAL_COLUMN: hospital.name, **{rename[k]: v for k, v in row.items() if k in rename}}
                    for row in result.rows)
    return ReportResult(columns=columns, rows=rows)


def chart_data(report: Report, result: ReportResult, limit: int = DISPLAY_LIMIT) -> dict | None:
    """What reports.js draws: x labels and one series per y column (None when there is no chart)."""
    chart = report.chart
    labels = {key: str(label) for key, label in result.columns}
    if chart is None or not result.rows or chart.x not in labels or not all(y in labels for y in chart.y):
        return None
    rows = result.rows[:-1] if chart.total_row else result.rows
    rows = rows[:limit]
    ys = [key for key, _label in result.columns if chart.y_prefix and key.startswith(chart.y_prefix)]
    ys += [y for y in chart.y if y not in ys]
    return {
        "kind": chart.kind,
        "title": str(report.title),
        "x": [format_value(row.get(chart.x)) or "" for row in rows],
        "xLabel": labels[chart.x],
        "stack": chart.stack,
        "series": [{"name": labels[y], "data": [chart_value(row.get(y)) for row in rows]} for y in ys],
    }


# -- the parameter form ------------------------------------------------------------------------
def params_form_class(report: Report) -> type[Form]:
    """A WTForms form for the report's parameters (rendering only; parse_params validates)."""

    class ParamsForm(Form):
        pass

    for param in report.params:
        checks = [validators.InputRequired()] if param.required else [validators.Optional()]
        kwargs = dict(label=str(param.label), validators=checks)
        if param.type == "date":
            field = DateField(**kwargs)
        elif param.type == "int":
            field = IntegerField(**kwargs)
        elif param.type == "choice":
            choices = [SelectChoice(str(v), str(lbl)) for v, lbl in param.choices]
            if not param.required and _default(param) is None:
                choices.insert(0, SelectChoice("", _("(all)")))
            field = SelectField(choices=choices, **kwargs)
        else:
            field = StringField(render_kw={"maxlength": TEXT_MAX}, **kwargs)
        setattr(ParamsForm, param.name, field)
    return ParamsForm


def params_form(report: Report, errors: dict[str, str]) -> Form:
    defaults = {}
    for param in report.params:
        value = _default(param)
        # Select options are compared as text; dates and numbers stay typed for their widgets.
        defaults[param.name] = str(value) if param.type == "choice" and value is not None else value
    form = params_form_class(report)(formdata=request.args or None, data=defaults)
    for field in form:
        field.errors = [errors[field.name]] if field.name in errors else []
    return form


def _needs_input(report: Report) -> bool:
    """First visit to a report with a required parameter and no default: show only the form."""
    return not request.args and any(p.required and _default(p) is None for p in report.params)


# -- pages -------------------------------------------------------------------------------------
@bp.route("/")
@require("core.reports.read")
def index():
    registry = hcrm().registry
    groups: OrderedDict[str, list[Report]] = OrderedDict()
    reports = visible_reports()
    order = [CORE] + registry.names
    for report in sorted(reports, key=lambda r: (order.index(r.plugin) if r.plugin in order else 999,
                                                  str(r.title))):
        groups.setdefault(report.plugin, []).append(report)
    titles = {name: plugin_text(name, info.title) for name, info in registry.infos.items()}
    titles[CORE] = _("General")
    return render_template("reports/index.html", groups=groups, plugin_titles=titles)


@bp.route("/<report_id>")
@require("core.reports.read")
def report(report_id: str):
    report = get_report(report_id)
    with tenancy.group_wide_requested():
        return _report_page(report)


def _report_page(report: Report):
    errors, result, chart = {}, None, None
    whole_group = tenancy.is_group_wide()
    if not _needs_input(report):
        try:
            params = parse_params(report, request.args)
        except ReportParamError as exc:
            errors = exc.errors
        else:
            try:
                result = run_report(report, params)
            except ReportFailed as exc:
                abort(500, description=str(exc))
            # Per-hospital rows would put the same month or department on the axis once per hospital.
            chart = None if whole_group else chart_data(report, result)
    export_args = {p.name: request.args[p.name] for p in report.params if request.args.get(p.name)}
    if whole_group:
        export_args[tenancy.WHOLE_GROUP_ARG] = "1"
    rows = [{key: format_value(row.get(key)) for key, _label in result.columns}
            for row in result.rows[:DISPLAY_LIMIT]] if result else []
    html = render_template(
        "reports/report.html", report=report, form=params_form(report, errors), errors=errors,
        result=result, rows=rows, chart=chart, display_limit=DISPLAY_LIMIT,
        csv_url=url_for("reports.export", report_id=report.id, fmt="csv", **export_args),
        xlsx_url=url_for("reports.export", report_id=report.id, fmt="xlsx", **export_args))
    return html, 400 if errors else 200


@bp.route("/<report_id>.<any(csv, xlsx):fmt>")
@require("core.reports.read")
def export(report_id: str, fmt: str):
    report = get_report(report_id)
    try:
        params = parse_params(report, request.args)
    except ReportParamError as exc:
        message = _("Nothing was exported: the report parameters are invalid.")
        lines = [message] + list(exc.errors.values())
        return Response("\n".join(lines) + "\n", status=400, mimetype="text/plain")
    if report.background_export:
        return _export_in_background(report, fmt)
    with tenancy.group_wide_requested():
        try:
            result = run_report(report, params)
        except ReportFailed as exc:
            abort(500, description=str(exc))
    if fmt == "csv":
        body, mimetype = to_csv(result), "text/csv"
    else:
        body = to_xlsx(result, str(report.title))
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = content_disposition(report.id, str(report.title),
                                                                  local_today(), fmt)
    response.headers["Cache-Control"] = "no-store"  # patient numbers must not linger in caches
    return response


def _export_in_background(report: Report, fmt: str):
    """Queue the export (core.exports) and send the user to the task's page, where the file is
    offered when it is ready; the parameters were checked above, the task checks them again."""
    from flask_login import current_user

    from core import exports, queue
    params = {p.name: request.args[p.name] for p in report.params if request.args.get(p.name)}
    whole_group = request.args.get(tenancy.WHOLE_GROUP_ARG) == "1" and tenancy.may_widen()
    try:
        record = queue.enqueue(exports.REPORT_EXPORT, g.hcrm_hospital, user=current_user, report=report.id,
                               params=params, fmt=fmt, whole_group=whole_group,
                               summary=f"{report.title} ({fmt})")
    except queue.QueueError as exc:
        return Response(exc.message.translated() + "\n", status=503, mimetype="text/plain")
    return redirect(url_for("admin.job_page", task_id=record.id))
