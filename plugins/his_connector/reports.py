"""The dashboard card: the last HIS run, failures of the last week and open quarantine rows."""
from __future__ import annotations

from flask import url_for
from werkzeug.routing import BuildError

from core import clock
from core.declarations import Widget, WidgetData
from core.i18n import gettext as _


def _url(endpoint: str) -> str | None:
    try:
        return url_for(endpoint)
    except BuildError:  # the pages are not there (yet): the card shows without links
        return None


def his_card() -> WidgetData | None:
    from plugins.his_connector.forms import ENTITY_LABELS
    from plugins.his_connector.services import last_run_summary, run_state
    summary = last_run_summary()
    last = summary["last"]
    if last is None:
        return WidgetData(title=_("HIS sync"), value=_("never run"), icon="arrow-repeat",
                          url=_url("his_connector.index"))
    status = {"ok": _("OK"), "failed": _("failed"), "running": _("running"),
              "stalled": _("stopped responding")}.get(run_state(last), last.status)
    when = clock.utc_to_local(last.finished_at or last.started_at).strftime("%Y-%m-%d %H:%M")
    return WidgetData(
        title=_("HIS sync"), value=status, icon="arrow-repeat", url=_url("his_connector.runs"),
        subtitle=_("Last run %(when)s: %(entity)s, %(read)d read, %(written)d written", when=when,
                   entity=ENTITY_LABELS.get(last.entity, last.entity), read=last.rows_read,
                   written=last.inserted + last.updated),
        items=[(_("Failed runs, last 7 days"), summary["failures_7d"], _url("his_connector.runs")),
               (_("Rows in quarantine"), summary["open_quarantine"], _url("his_connector.quarantine"))])


def widgets() -> list[Widget]:
    return [Widget("his_connector.last_run", "his_connector.run", his_card, order=60)]
