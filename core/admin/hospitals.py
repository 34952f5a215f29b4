"""Hospitals of the group (the tenants): list, create, rename, move to another time zone and
choose their apps. Shared by the hospital management page and anything else that needs it.

config.yaml seeds hospitals (``core.activation.sync_from_config``): a hospital it names is
created with its name, zone and plugins the first time; afterwards the choices made here win,
as on the Apps screen: a plugin switched off here stays off, a zone chosen here stays.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import available_timezones

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from core import activation, clock
from core.activation import ActivationError
from core.admin.services import CODE_RE, AdminError
from core.extensions import db
from core.models import Hospital
from core.tenancy import system_scope

NAME_MAX = 200  # the column's length


@dataclass
class HospitalChoice:
    """What the form asks for; ``plugins`` are the apps to have live afterwards."""

    code: str
    name: str
    timezone: str
    plugins: list[str] = field(default_factory=list)


def all_hospitals() -> list[Hospital]:
    with system_scope():
        return db.session.execute(sa.select(Hospital).order_by(Hospital.code)).scalars().all()


def zone_names() -> list[str]:
    return sorted(available_timezones())


def effective_zone(hospital: Hospital | None) -> str:
    """The zone a hospital's clock shows: its own, else the deployment's ``i18n.timezone``."""
    default = current_app.extensions["hcrm"].config.timezone
    return (hospital.timezone if hospital is not None else None) or default


def check_zone(name: str) -> str:
    """An IANA name the zone database knows (never a path: only names it lists are taken)."""
    name = (name or "").strip()
    if name in available_timezones():
        return name
    raise AdminError(_("“%(zone)s” is not a time zone; pick one from the list, e.g. Asia/Shanghai.",
                       zone=name[:64]), "timezone")


def _check(hospital: Hospital | None, choice: HospitalChoice) -> tuple[str, str, str, list[str]]:
    """Everything refused before anything is written."""
    code = (choice.code or "").strip() if hospital is None else hospital.code
    name = (choice.name or "").strip()
    if not CODE_RE.match(code):
        raise AdminError(_("Codes are 1 to 32 letters, digits, '_' or '-'."), "code")
    if hospital is None:
        with system_scope():
            clash = db.session.execute(sa.select(Hospital.id).where(Hospital.code == code)).scalar()
        if clash is not None:
            raise AdminError(_("Another hospital already has the code “%(code)s”.", code=code), "code")
    if not name:
        raise AdminError(_("Enter a name."), "name")
    if len(name) > NAME_MAX:
        raise AdminError(_("The name is longer than %(n)d characters.", n=NAME_MAX), "name")
    zone = check_zone(choice.timezone)
    registry = current_app.extensions["hcrm"].registry
    unknown = sorted(set(choice.plugins) - set(registry.infos))
    if unknown:
        raise AdminError(_("No such app is installed: %(names)s", names=", ".join(unknown)), "plugins")
    return code, name, zone, [n for n in registry.infos if n in set(choice.plugins)]


def save_hospital(hospital: Hospital | None, choice: HospitalChoice, *, actor) -> tuple[Hospital, list]:
    """Create (``hospital`` None) or update a hospital and make exactly ``choice.plugins`` live
    (and what they need). Commits the whole change, or raises AdminError having written nothing.
    Returns the hospital and the activation messages (:class:`core.i18n.Message`)."""
    code, name, zone, wanted = _check(hospital, choice)
    registry = current_app.extensions["hcrm"].registry
    messages = []
    try:
        if hospital is None:
            hospital = activation.create_hospital(code, name)
        with system_scope():
            hospital.name, hospital.timezone = name, zone
            db.session.flush()
            keep = set(wanted) | {r for n in wanted for r in registry.requirements(n)}
            live = activation.live_plugins(hospital.id)
            for plugin in reversed([n for n in registry.infos if n in live and n not in keep]):
                messages += activation.disable(hospital, plugin, user_id=actor.id).messages
            for plugin in wanted:
                report = activation.enable(hospital, plugin, user_id=actor.id)
                if report.changed:
                    messages += report.messages
        db.session.commit()
    except ActivationError as exc:
        db.session.rollback()
        raise AdminError(exc.message.translated(), "plugins") from None
    except Exception:
        db.session.rollback()
        raise
    clock.forget_zone(hospital.id)
    return hospital, messages
