"""Domain events, delivered through hooks to the hospital's live plugins only.

``emit("patients.visit_recorded", visit=visit)`` calls, on the plugins live for the hospital:
the typed hook ``patients_visit_recorded(visit=...)`` when a plugin published one (through
``hcrm_hookspecs``) and the emitter passed its arguments (plus ``hospital_id`` when the hook
spec names that argument), and the generic ``hcrm_event(event)`` with a :class:`DomainEvent`.
Listeners run inside the emitter's transaction: an exception aborts the whole change.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g, has_request_context

from core.activation import live_plugins
from core.tenancy import current_scope, system_scope


@dataclass(frozen=True)
class DomainEvent:
    name: str
    hospital_id: int
    payload: dict = field(default_factory=dict)
    user_id: int | None = None


def _live_for(hospital_id: int) -> set[str]:
    """The request already knows its hospital's live plugins; elsewhere (jobs, imports, HIS
    syncs firing thousands of events) they are read once per app context."""
    if has_request_context() and g.get("hcrm_hospital") is not None and g.hcrm_hospital.id == hospital_id:
        return g.hcrm_live
    cache = g.setdefault("hcrm_live_by_hospital", {})
    if hospital_id not in cache:
        with system_scope():
            cache[hospital_id] = live_plugins(hospital_id)
    return cache[hospital_id]


def emit(name: str, *, hospital_id: int | None = None, payload: dict | None = None, **typed: Any) -> DomainEvent:
    """Fire event ``name`` (``<plugin>.<what>``) for a hospital (default: the current scope's)."""
    scope = current_scope()
    if hospital_id is None:
        if scope is None or scope.hospital_id is None:
            raise RuntimeError(f"event {name!r} emitted without a hospital")
        hospital_id = scope.hospital_id
    registry = current_app.extensions["hcrm"].registry
    relay = registry.hooks_for(_live_for(hospital_id))
    event = DomainEvent(name=name, hospital_id=hospital_id, payload=dict(payload or {}),
                        user_id=scope.user_id if scope else None)
    typed_hook = name.replace(".", "_")
    caller = getattr(registry.pm.hook, typed_hook, None)
    if typed and caller is not None and caller.spec is not None:
        if "hospital_id" in caller.spec.argnames:
            typed["hospital_id"] = hospital_id
        getattr(relay, typed_hook)(**typed)
    relay.hcrm_event(event=event)
    return event
