"""Filters other plugins add to the patient list (the hook ``patients_list_filters``).

A plugin depending on ``patients`` returns :class:`ListFilter` s; the list page shows each as one
more select in its advanced filters, and the page and its export (both read the arguments with
``query_args.query_from_args``) apply the chosen value with the filter's ``apply``. Only the
filters of plugins live for the hospital count. A value outside ``choices()`` is refused with a
message, as the built-in filters are.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app

from core.activation import live_plugins
from core.tenancy import current_scope, system_scope


@dataclass(frozen=True)
class ListFilter:
    """``name``: the query argument (prefix it with your plugin's name, e.g. ``vip_tier``);
    ``label``: shown above the select; ``choices()``: the hospital's (value, label) pairs, read
    in the request's scope; ``apply(stmt, value)``: the patient select narrowed to ``value``
    (one of the choices' values), e.g. ``stmt.where(Patient.id.in_(subquery))``."""

    name: str
    label: str
    choices: Callable[[], list[tuple[str, str]]]
    apply: Callable


def live_filters() -> list[ListFilter]:
    """The filters offered by the plugins live for the current hospital (none outside a scope)."""
    scope = current_scope()
    if scope is None or scope.hospital_id is None:
        return []
    with system_scope():
        live = live_plugins(scope.hospital_id)
    caller = getattr(current_app.extensions["hcrm"].registry.hooks_for(live), "patients_list_filters", None)
    found: dict[str, ListFilter] = {}
    for offered in (caller() if caller else []):
        for item in offered or []:
            if isinstance(item, ListFilter):
                found.setdefault(item.name, item)
    return list(found.values())
