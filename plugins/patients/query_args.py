"""The patient list's filters read from request arguments, for the callers that are not an API
view (the list page, the export inline and queued, the SMS audience): through the one parser,
:class:`plugins.patients.schemas.PatientListQuerySchema`, which the API uses directly."""
from __future__ import annotations

from marshmallow import EXCLUDE, ValidationError

from core.i18n import lazy_gettext as _l
from core.i18n import localized
from plugins.patients.list_filters import live_filters
from plugins.patients.schemas import PatientListQuerySchema, patient_query
from plugins.patients.services import PatientQuery

#: How a patient came into the archive (models.ORIGINS), as the list's filter names it.
ORIGIN_LABELS = {"crm": _l("Registered in the CRM"), "his": _l("Synced from the HIS"), "import": _l("Imported from a file")}
SCHEMA = PatientListQuerySchema()  # stateless: one instance serves every request
FILTER_ARGS = tuple(name for name in SCHEMA.load_fields if name != "extra")


class ListQueryInvalid(ValueError):
    """Filters that cannot be read; ``messages`` maps each argument to its messages, in the
    request's language, and ``str()`` joins them for a page's alert."""

    def __init__(self, messages: dict[str, list[str]]):
        self.messages = messages
        super().__init__(" ".join(message for found in messages.values() for message in _flat(found)))


def _flat(messages):
    if isinstance(messages, dict):
        for value in messages.values():
            yield from _flat(value)
    elif isinstance(messages, list):
        for value in messages:
            yield from _flat(value)
    else:
        yield str(messages)


def load_filters(args, schema=SCHEMA) -> dict:
    """``args`` (``request.args`` or any mapping) loaded by ``schema``, other arguments (the
    export's format, paging) ignored. Raises :class:`ListQueryInvalid`."""
    try:
        return schema.load({key: args.get(key) for key in args}, unknown=EXCLUDE)
    except ValidationError as exc:
        raise ListQueryInvalid(localized(exc.messages)) from None


def query_from_args(args) -> PatientQuery:
    """A PatientQuery from ``args``; raises :class:`ListQueryInvalid` (a ValueError) with a
    message for the user on a bad value; empty values mean "no filter"."""
    return patient_query(load_filters(args))


def filters_of(args) -> dict[str, str]:
    """The non-empty filter arguments, as given: to carry them over to links and to audit notes."""
    names = FILTER_ARGS + tuple(offered.name for offered in live_filters())
    return {name: (args.get(name) or "").strip() for name in names if (args.get(name) or "").strip()}
