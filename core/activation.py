"""Per-hospital plugin activation and hospital set-up, shared by the Apps screen, API and CLI.

Disable is not uninstall: a disabled plugin's rows stay. An administrator's explicit disable
is remembered (``explicit``) and config seeding never turns it back on.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from core import audit
from core.extensions import db
from core.i18n import Message, _m
from core.models import Hospital, HospitalPlugin, Role, SeededPermission, utcnow
from core.permissions import ROLE_DEFAULTS, default_roles_for
from core.plugins import CORE
from core.tenancy import hospital_scope, system_scope


class ActivationError(Exception):
    """An enable/disable that the dependency rules refuse; the message lists the plugins.
    ``message`` is a :class:`core.i18n.Message` (``str()`` English, ``.translated()`` for pages)."""

    def __init__(self, message: Message):
        super().__init__(str(message))
        self.message = message


@dataclass
class ActivationReport:
    changed: list[str] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)


def _state():
    return current_app.extensions["hcrm"]


def live_plugins(hospital_id: int) -> set[str]:
    """Plugins live for a hospital: enabled there and loaded in this deployment. (Read from the
    table, not the ORM entity: every request asks, and a Core select costs a quarter as much.)"""
    table = HospitalPlugin.__table__
    rows = db.session.execute(
        sa.select(table.c.plugin).where(table.c.hospital_id == hospital_id, table.c.enabled.is_(True))).scalars()
    return {name for name in rows if name in _state().registry.infos}


def live_for(hospital: Hospital) -> set[str]:
    """:func:`live_plugins` of a hospital row, kept per app until its ``plugins_version``
    changes (every change bumps it in its own transaction), so a request reads no extra row."""
    cache = _state().live_cache
    known = cache.get(hospital.id)
    if known is not None and known[0] == hospital.plugins_version:
        return set(known[1])
    live = live_plugins(hospital.id)
    cache[hospital.id] = (hospital.plugins_version, frozenset(live))
    return live


def plugin_rows(hospital_id: int) -> dict[str, HospitalPlugin]:
    rows = db.session.execute(sa.select(HospitalPlugin).where(HospitalPlugin.hospital_id == hospital_id)).scalars()
    return {r.plugin: r for r in rows}


def _set_state(hospital: Hospital, name: str, enabled: bool, explicit: bool, user_id) -> None:
    row = plugin_rows(hospital.id).get(name)
    if row is None:
        row = HospitalPlugin(hospital_id=hospital.id, plugin=name)
        db.session.add(row)
    if bool(row.enabled) != enabled:
        audit.log_event("enable" if enabled else "disable", "Plugin", name, hospital_id=hospital.id)
        hospital.plugins_version = Hospital.plugins_version + 1  # in SQL: concurrent changes each count
    row.enabled, row.explicit, row.changed_at, row.changed_by_id = enabled, explicit, utcnow(), user_id


@dataclass
class PluginState:
    """A plugin as a hospital sees it: the Apps screen and the API show these."""

    name: str
    title: str
    version: str = ""
    summary: str = ""
    source: str = "builtin"
    state: str = "never"            # live / disabled / never / broken
    depends: list[str] = field(default_factory=list)
    dependants: list[str] = field(default_factory=list)
    will_enable: list[str] = field(default_factory=list)   # enabling also enables these
    blocking: list[str] = field(default_factory=list)      # live plugins that prevent disabling
    changed_at: datetime | None = None
    explicit: bool = False
    reason: str = ""                # why a broken plugin failed to load
    extra: dict = field(default_factory=dict)


def overview(hospital) -> list[PluginState]:
    """Every loaded plugin (dependency order) with its state for ``hospital``, then the broken ones."""
    registry = _state().registry
    states = plugin_rows(hospital.id)
    live = live_plugins(hospital.id)
    rows = []
    for info in registry.infos.values():
        state_row = states.get(info.name)
        state = "live" if info.name in live else ("disabled" if state_row is not None else "never")
        rows.append(PluginState(
            name=info.name, title=info.title, version=info.version, summary=info.summary,
            source=info.source, state=state, depends=list(info.depends),
            dependants=[i.name for i in registry.infos.values() if info.name in i.depends],
            will_enable=[n for n in registry.requirements(info.name) if n not in live],
            blocking=[n for n in registry.dependants(info.name) if n in live],
            changed_at=state_row.changed_at if state_row else None,
            explicit=bool(state_row and state_row.explicit), extra=dict(info.extra)))
    for broken in registry.broken:
        rows.append(PluginState(name=broken.name, title=broken.name, source=broken.source,
                           state="broken", reason=broken.reason))
    return rows


def is_known(name: str) -> bool:
    """Installed, loaded or not (a broken third-party plugin is known, and refused with its reason)."""
    registry = _state().registry
    return name in registry.infos or any(b.name == name for b in registry.broken)


def switch(hospital: Hospital, name: str, enabled: bool, *, user_id=None) -> ActivationReport:
    """Enable or disable and commit: what the Apps screen, the API and the CLI do.
    A refusal (ActivationError) rolls back, so nothing of it is written."""
    try:
        with system_scope():
            report = (enable if enabled else disable)(hospital, name, user_id=user_id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return report


def enable(hospital: Hospital, name: str, *, user_id=None, explicit=True) -> ActivationReport:
    """Enable ``name`` and whatever it needs; grant default permissions; run enable handlers."""
    registry = _state().registry
    if name not in registry.infos:
        broken = {b.name: b.reason for b in registry.broken}
        if name in broken:
            raise ActivationError(_m("cannot enable '%(name)s': it failed to load: %(reason)s",
                                     name=name, reason=broken[name]))
        raise ActivationError(_m("cannot enable '%(name)s': no such plugin is installed", name=name))
    live = live_plugins(hospital.id)
    report = ActivationReport()
    for plugin in registry.requirements(name) + [name]:
        if plugin in live:
            continue
        _set_state(hospital, plugin, True, explicit or plugin != name, user_id)
        db.session.flush()
        grant_defaults(hospital, plugin)
        with hospital_scope(hospital):
            registry.call_one(plugin, "hcrm_enable", hospital=hospital)
            db.session.flush()  # seeded rows take the hospital from this scope, whatever the caller's
        report.changed.append(plugin)
        if plugin != name:
            report.messages.append(_m("enabled '%(plugin)s' (required by '%(name)s')", plugin=plugin, name=name))
    if report.changed:
        report.messages.append(_m("enabled '%(name)s' for %(hospital)s", name=name, hospital=hospital.code))
    else:
        report.messages.append(_m("'%(name)s' is already enabled for %(hospital)s", name=name, hospital=hospital.code))
    return report


def disable(hospital: Hospital, name: str, *, user_id=None) -> ActivationReport:
    """Disable ``name`` unless a live plugin depends on it. Its data is kept."""
    registry = _state().registry
    if name not in registry.infos:
        raise ActivationError(_m("cannot disable '%(name)s': no such plugin is installed", name=name))
    live = live_plugins(hospital.id)
    if name not in live:
        _set_state(hospital, name, False, True, user_id)
        return ActivationReport(messages=[_m("'%(name)s' is already disabled for %(hospital)s",
                                             name=name, hospital=hospital.code)])
    blocking = [d for d in registry.dependants(name) if d in live]
    if blocking:
        raise ActivationError(_m("cannot disable '%(name)s' for %(hospital)s: %(plugins)s depend(s) on it; "
                                 "disable those first", name=name, hospital=hospital.code,
                                 plugins=", ".join(blocking)))
    with hospital_scope(hospital):
        registry.call_one(name, "hcrm_disable", hospital=hospital)
        db.session.flush()
    _set_state(hospital, name, False, True, user_id)
    return ActivationReport(changed=[name], messages=[_m("disabled '%(name)s' for %(hospital)s (its data is kept)",
                                                         name=name, hospital=hospital.code)])


def grant_defaults(hospital: Hospital, plugin: str) -> list[str]:
    """Give the hospital's default roles the default grants of ``plugin``'s permissions that
    were never seeded there; returns those permissions. Re-enabling a plugin or upgrading it
    so never re-grants what an administrator took away."""
    catalog = _state().catalog
    seeded = set(db.session.execute(sa.select(SeededPermission.permission)
                                    .where(SeededPermission.hospital_id == hospital.id)).scalars())
    new = [p for p in catalog.permissions.values() if p.plugin == plugin and p.name not in seeded]
    if not new:
        return []
    with hospital_scope(hospital):
        roles = db.session.execute(sa.select(Role).where(Role.is_default.is_(True))).scalars().all()
        for role in roles:
            wanted = {p.name for p in new if role.code in default_roles_for(p)}
            if wanted - role.permissions:
                role.set_permissions(role.permissions | wanted)
        db.session.add_all(SeededPermission(hospital_id=hospital.id, permission=p.name) for p in new)
        db.session.flush()
    return [p.name for p in new]


def grant_new_permissions() -> list[str]:
    """After an upgrade: seed the permissions that the core and each hospital's live plugins
    declare now but did not before. Returns what was done, for the log."""
    messages = []
    with system_scope():
        hospitals = db.session.execute(sa.select(Hospital).order_by(Hospital.code)).scalars().all()
        for hospital in hospitals:
            live = live_plugins(hospital.id)
            for plugin in [CORE] + [n for n in _state().registry.infos if n in live]:
                granted = grant_defaults(hospital, plugin)
                if granted:
                    messages.append(f"{hospital.code}: default roles granted new permission(s) {', '.join(granted)}")
    db.session.commit()
    return messages


def create_hospital(code: str, name: str) -> Hospital:
    """A hospital with its default roles holding the core's default grants."""
    hospital = Hospital(code=code, name=name)
    with system_scope():
        db.session.add(hospital)
        db.session.flush()
    with hospital_scope(hospital):
        for role_code, (role_name, scope) in ROLE_DEFAULTS.items():
            db.session.add(Role(hospital_id=hospital.id, code=role_code, name=role_name,
                                data_scope=scope, is_default=True))
        db.session.flush()
    grant_defaults(hospital, CORE)
    return hospital


def sync_from_config(config) -> list[str]:
    """Seed hospitals, their time zone and plugins from config.yaml. Existing choices win: a
    plugin with a row (enabled or explicitly disabled) is left as it is, a hospital's name and a
    zone already set (hospital management page) are kept. Returns what was done, for the log."""
    messages = []
    with system_scope():
        hospitals = {h.code: h for h in db.session.execute(sa.select(Hospital)).scalars()}
    for hconf in config.hospitals:
        hospital = hospitals.get(hconf.code)
        if hospital is None:
            hospital = create_hospital(hconf.code, hconf.name)
            messages.append(f"created hospital {hconf.code} ({hconf.name})")
        if hconf.timezone and hospital.timezone is None:  # a zone chosen on the hospitals page wins
            with system_scope():
                hospital.timezone = hconf.timezone
                db.session.flush()
            messages.append(f"{hconf.code}: time zone {hconf.timezone}")
        with system_scope():
            rows = plugin_rows(hospital.id)
        for name in hconf.plugins:
            row = rows.get(name)
            if row is not None:
                if not row.enabled:
                    messages.append(f"{hconf.code}: '{name}' stays disabled (an administrator disabled it)")
                continue
            with system_scope():
                report = enable(hospital, name, explicit=False)
            messages.extend(f"{hconf.code}: {m}" for m in report.messages if report.changed)
            rows = plugin_rows(hospital.id) if report.changed else rows
    db.session.commit()
    return messages + grant_new_permissions()
