"""Reading a patient list's filters from request arguments: one parser for the list page, the
export and the API, so the three can never filter differently."""
from __future__ import annotations

from datetime import date

from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from plugins.patients.list_filters import live_filters
from plugins.patients.models import ORIGINS
from plugins.patients.services import SORTS, PatientQuery

MAX_Q = 100
TRUE_WORDS = ("1", "true", "yes", "on", "是")
FALSE_WORDS = ("0", "false", "no", "off", "否")
#: How a patient came into the archive (models.ORIGINS), as the list's filter names it.
ORIGIN_LABELS = {"crm": _l("Registered in the CRM"), "his": _l("Synced from the HIS"), "import": _l("Imported from a file")}
FILTER_ARGS = ("q", "department_id", "source_id", "tag_id", "disease_id", "visit_from", "visit_to",
               "registered_from", "registered_to", "origin", "key_patient", "sort", "order")


def _arg(args, name: str) -> str:
    return (args.get(name) or "").strip()


def _identifier(args, name: str, label: str) -> int | None:
    text = _arg(args, name)
    if not text:
        return None
    if not text.isdigit() or int(text) <= 0 or len(text) > 12:
        raise ValueError(_("%(field)s must be chosen from the list (got “%(value)s”).", field=label, value=text[:40]))
    return int(text)


def _day(args, name: str, label: str) -> date | None:
    text = _arg(args, name)
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("%(field)s must be a real date as YYYY-MM-DD (got “%(value)s”).",
                           field=label, value=text[:40])) from None


def query_from_args(args) -> PatientQuery:
    """A PatientQuery from ``request.args`` (or any mapping with ``get``). Raises ValueError with a
    message for the user on a bad value; empty values mean "no filter"."""
    q = _arg(args, "q")
    if len(q) > MAX_Q:
        raise ValueError(_("The search text is too long (at most %(n)d characters).", n=MAX_Q))
    key_text = _arg(args, "key_patient").lower()
    if key_text in ("", "any", "all"):
        key_patient = None
    elif key_text in TRUE_WORDS:
        key_patient = True
    elif key_text in FALSE_WORDS:
        key_patient = False
    else:
        raise ValueError(_("Key patient must be yes or no (got “%(value)s”).", value=key_text[:40]))
    sort = _arg(args, "sort") or "created"
    if sort not in SORTS:
        raise ValueError(_("Unknown sort order “%(value)s” (use one of: %(choices)s).",
                           value=sort[:40], choices=", ".join(SORTS)))
    order = _arg(args, "order").lower() or ("asc" if sort == "name" else "desc")
    if order not in ("asc", "desc"):
        raise ValueError(_("The order is asc or desc (got “%(value)s”).", value=order[:40]))
    visit_from = _day(args, "visit_from", _l("Visit date from"))
    visit_to = _day(args, "visit_to", _l("Visit date to"))
    if visit_from and visit_to and visit_from > visit_to:
        raise ValueError(_("The visit date range ends before it starts."))
    registered_from = _day(args, "registered_from", _l("Registered from"))
    registered_to = _day(args, "registered_to", _l("Registered until"))
    if registered_from and registered_to and registered_from > registered_to:
        raise ValueError(_("The registration date range ends before it starts."))
    origin = _arg(args, "origin") or None
    if origin is not None and origin not in ORIGINS:
        raise ValueError(_("%(field)s must be chosen from the list (got “%(value)s”).",
                           field=_l("Registered in"), value=origin[:40]))
    extra = {}
    for offered in live_filters():
        chosen = _arg(args, offered.name)
        if chosen:
            if chosen not in {str(value) for value, _label in offered.choices()}:
                raise ValueError(_("%(field)s must be chosen from the list (got “%(value)s”).",
                                   field=offered.label, value=chosen[:40]))
            extra[offered.name] = chosen
    return PatientQuery(
        extra=extra,
        q=q,
        department_id=_identifier(args, "department_id", _l("Department")),
        source_id=_identifier(args, "source_id", _l("Source")),
        tag_id=_identifier(args, "tag_id", _l("Tag")),
        disease_id=_identifier(args, "disease_id", _l("Disease")),
        visit_from=visit_from, visit_to=visit_to, key_patient=key_patient,
        registered_from=registered_from, registered_to=registered_to, origin=origin,
        sort=sort, descending=order == "desc")


def filters_of(args) -> dict[str, str]:
    """The non-empty filter arguments, as given: to carry them over to links and to audit notes."""
    names = FILTER_ARGS + tuple(offered.name for offered in live_filters())
    return {name: _arg(args, name) for name in names if _arg(args, name)}
