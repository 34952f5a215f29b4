"""Administration services: apps per hospital, departments, users, roles and the audit log.

Views, the API and the CLI share these functions. They run inside the caller's tenancy scope
(rows of another hospital are invisible, so they cannot be picked), validate everything before
writing, and either commit the whole change or raise without having written anything.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from core import audit
from core.auth import MIN_PASSWORD_LENGTH
from core.clock import local_to_utc
from core.extensions import db
from core.i18n import plugin_text
from core.models import AuditLog, Department, Role, User, user_roles
from core.permissions import GROUP_ONLY
from core.plugins import CORE
from core.tenancy import LEVELS, system_scope

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
ROLE_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")


class AdminError(Exception):
    """A refused change; ``field`` names the form field the message belongs to (or None)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


class NotAllowed(AdminError):
    """The actor may not make this change at all (the view answers 403)."""


class BadPermissions(AdminError):
    """Permission names that are unknown or not offered to this hospital (the view answers 400)."""


def _hcrm():
    return current_app.extensions["hcrm"]


# -- apps ---------------------------------------------------------------------------------------
# -- departments --------------------------------------------------------------------------------
def department_tree() -> list[tuple[Department, int]]:
    """The visible departments as (department, depth), each parent followed by its children."""
    departments = db.session.execute(sa.select(Department).order_by(Department.code)).scalars().all()
    ids = {d.id for d in departments}
    children: dict[int | None, list[Department]] = {}
    for dept in departments:
        parent = dept.parent_id if dept.parent_id in ids else None
        children.setdefault(parent, []).append(dept)
    out: list[tuple[Department, int]] = []

    def walk(parent, depth):
        for dept in children.get(parent, ()):
            out.append((dept, depth))
            walk(dept.id, depth + 1)

    walk(None, 0)
    return out


def _department(department_id, hospital_id: int | None = None) -> Department | None:
    """A department of the caller's scope (and of ``hospital_id`` if given), or AdminError."""
    if not department_id:
        return None
    dept = db.session.execute(sa.select(Department).where(Department.id == department_id)).scalar_one_or_none()
    if dept is None or (hospital_id is not None and dept.hospital_id != hospital_id):
        raise AdminError(_("Choose a department of this hospital."), "department")
    return dept


def save_department(dept: Department | None, *, code: str, name: str, parent_id=None,
                    active: bool = True) -> Department:
    """Create (``dept`` None) or update a department of the current hospital."""
    code, name = (code or "").strip(), (name or "").strip()
    if not CODE_RE.match(code):
        raise AdminError(_("Codes are 1 to 32 letters, digits, '_' or '-'."), "code")
    if not name:
        raise AdminError(_("Enter a name."), "name")
    clash = db.session.execute(sa.select(Department.id).where(Department.code == code)).scalars().first()
    if clash is not None and (dept is None or clash != dept.id):
        raise AdminError(_("Another department already has the code “%(code)s”.", code=code), "code")
    parent = _department(parent_id, dept.hospital_id if dept else None)
    if parent is not None and dept is not None:
        ancestor = parent
        while ancestor is not None:  # a department cannot sit under itself or its own sub-unit
            if ancestor.id == dept.id:
                raise AdminError(_("A department cannot be placed under itself or one of its sub-departments."), "parent")
            ancestor = ancestor.parent
    if dept is None:
        dept = Department()
        db.session.add(dept)
    dept.code, dept.name, dept.parent_id, dept.active = code, name, parent.id if parent else None, active
    db.session.commit()
    return dept


# -- users --------------------------------------------------------------------------------------
def user_select(q: str = "", department_id=None, role_id=None):
    """Users of the scope, filtered by search text (username or display name), department, role."""
    stmt = sa.select(User).options(selectinload(User.department)).order_by(User.username)
    q = (q or "").strip()
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(User.username.ilike(pattern, escape="\\"),
                                 User.display_name.ilike(pattern, escape="\\")))
    if department_id:
        stmt = stmt.where(User.department_id == department_id)
    if role_id:
        stmt = stmt.where(User.id.in_(sa.select(user_roles.c.user_id).where(user_roles.c.role_id == role_id)))
    return stmt


def assignable_roles(actor) -> list[Role]:
    """Roles the actor may hand out: a role reaching every hospital is for group admins only."""
    roles = db.session.execute(sa.select(Role).order_by(Role.is_default.desc(), Role.id)).scalars().all()
    return [r for r in roles if actor.is_group_admin or r.data_scope != "group"]


def _roles_for(user_hospital_id: int, role_ids, actor, current: list[Role]) -> list[Role]:
    """The roles to hold: those chosen among the assignable ones, plus held ones the actor may not touch."""
    offered = {r.id: r for r in assignable_roles(actor) if r.hospital_id == user_hospital_id}
    wanted = {int(i) for i in role_ids or ()}
    unknown = wanted - set(offered)
    if unknown:
        raise AdminError(_("Choose roles of this hospital."), "roles")
    kept = [r for r in current if r.id not in offered]
    return kept + [offered[i] for i in sorted(wanted)]


def _check_password(password: str, field_name: str = "password") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AdminError(_("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH), field_name)


def _log_roles(user: User, before: list[str], after: list[str]) -> None:
    """Role links are not columns, so the automatic audit misses them: record the change here."""
    if sorted(before) != sorted(after):
        db.session.flush()
        audit.log_event("update", "User", user.id, hospital_id=user.hospital_id, note="roles",
                        before={"roles": sorted(before)}, after={"roles": sorted(after)})


def check_manage(actor, user: User) -> None:
    """Hospital administrators may not touch a group administrator's account (privilege escalation)."""
    if user.is_group_admin and not actor.is_group_admin:
        raise NotAllowed(_("Only group administrators can change a group administrator's account."))


def create_user(hospital, *, username: str, display_name: str, password: str, department_id=None,
                role_ids=(), actor, is_group_admin: bool = False) -> User:
    username, display_name = (username or "").strip(), (display_name or "").strip()
    if not USERNAME_RE.match(username):
        raise AdminError(_("Usernames are 3 to 64 characters: letters, digits, '_', '.' or '-'."), "username")
    with system_scope():  # unique across the deployment, so look at every hospital
        taken = db.session.execute(sa.select(User.id).where(sa.func.lower(User.username) == username.lower())).first()
    if taken:
        raise AdminError(_("The username “%(name)s” is already taken.", name=username), "username")
    if not display_name:
        raise AdminError(_("Enter a display name."), "display_name")
    _check_password(password)
    if is_group_admin and not actor.is_group_admin:
        raise NotAllowed(_("Only group administrators can create group administrators."))
    dept = _department(department_id, hospital.id)
    roles = _roles_for(hospital.id, role_ids, actor, [])
    user = User(hospital_id=hospital.id, username=username, display_name=display_name,
                department_id=dept.id if dept else None, is_group_admin=is_group_admin, roles=roles)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
        _log_roles(user, [], [r.code for r in roles])
        db.session.commit()
    except sa.exc.IntegrityError:  # a concurrent request took the name between check and insert
        db.session.rollback()
        raise AdminError(_("The username “%(name)s” is already taken.", name=username), "username") from None
    return user


def update_user(user: User, *, display_name: str, department_id=None, role_ids=(), active: bool = True,
                is_group_admin: bool | None = None, actor) -> User:
    """``is_group_admin`` None leaves the flag alone (the form did not offer it)."""
    check_manage(actor, user)
    display_name = (display_name or "").strip()
    if not display_name:
        raise AdminError(_("Enter a display name."), "display_name")
    if not active and user.id == actor.id:
        raise AdminError(_("You cannot deactivate your own account."), "active")
    if is_group_admin is not None and bool(is_group_admin) != bool(user.is_group_admin):
        if not actor.is_group_admin:
            raise NotAllowed(_("Only group administrators can change the group administrator flag."))
        if not is_group_admin and user.id == actor.id:
            raise AdminError(_("You cannot remove your own group administrator flag."), "is_group_admin")
        user.is_group_admin = bool(is_group_admin)
    dept = _department(department_id, user.hospital_id)
    before = [r.code for r in user.roles]
    roles = _roles_for(user.hospital_id, role_ids, actor, list(user.roles))
    user.display_name, user.department_id, user.active = display_name, dept.id if dept else None, bool(active)
    user.roles = roles
    _log_roles(user, before, [r.code for r in roles])
    db.session.commit()
    return user


def reset_password(user: User, password: str, *, actor) -> None:
    check_manage(actor, user)
    _check_password(password)
    user.set_password(password)
    db.session.commit()


# -- roles --------------------------------------------------------------------------------------
def scope_choices(actor) -> list[str]:
    return [lv for lv in LEVELS if lv != "group" or actor.is_group_admin]


def permission_groups(live: set[str]) -> list[tuple[str, str, list]]:
    """(plugin, title, permissions) for the core and each live plugin, in load order."""
    state = _hcrm()
    by_plugin: dict[str, list] = {}
    for perm in state.catalog.permissions.values():
        if perm.name not in GROUP_ONLY:
            by_plugin.setdefault(perm.plugin, []).append(perm)
    groups = [(CORE, _("Core"), by_plugin.get(CORE, []))]
    groups += [(name, plugin_text(name, info.title), by_plugin[name]) for name, info in state.registry.infos.items()
               if name in live and name in by_plugin]
    return groups


def role_user_counts() -> dict[int, int]:
    rows = db.session.execute(sa.select(user_roles.c.role_id, sa.func.count())
                              .group_by(user_roles.c.role_id)).all()
    return {role_id: count for role_id, count in rows}


def _check_role_change(role: Role | None, name: str, data_scope: str, actor) -> str:
    name = (name or "").strip()
    if not name:
        raise AdminError(_("Enter a name."), "name")
    if role is not None and role.data_scope == "group" and not actor.is_group_admin:
        raise NotAllowed(_("Only group administrators can change a role that reaches every hospital."))
    if data_scope not in scope_choices(actor):
        raise AdminError(_("Choose a data scope."), "data_scope")
    return name


def _permissions_for(role: Role | None, posted, live: set[str]) -> set[str]:
    """The grants to store: the posted ones (all must be offered) plus held grants of plugins not
    offered now (a disabled plugin's grants are kept for when it comes back)."""
    catalog = _hcrm().catalog
    posted = set(posted or ())
    unknown = sorted(p for p in posted if p not in catalog.permissions)
    if unknown:
        raise BadPermissions(_("Unknown permission(s): %(names)s", names=", ".join(unknown)))
    offered = {p.name for _p, _t, perms in permission_groups(live) for p in perms}
    unavailable = sorted(posted - offered)
    if unavailable:
        raise BadPermissions(_("Permission(s) of apps not enabled for this hospital: %(names)s",
                               names=", ".join(unavailable)))
    kept = {p for p in (role.permissions if role else ()) if p not in offered}
    return posted | kept


def _log_permissions(role: Role, before: set[str], after: set[str]) -> None:
    """Grants live in a child table the automatic audit does not cover: record the change here."""
    if before != after:
        db.session.flush()
        audit.log_event("update", "Role", role.id, hospital_id=role.hospital_id, note="permissions",
                        before={"permissions": sorted(before - after)},
                        after={"permissions": sorted(after - before)})


def create_role(*, code: str, name: str, data_scope: str, permissions, live: set[str], actor) -> Role:
    code = (code or "").strip()
    if not ROLE_CODE_RE.match(code):
        raise AdminError(_("Role codes are 2 to 40 lowercase letters, digits or '_', starting with a letter."), "code")
    if db.session.execute(sa.select(Role.id).where(Role.code == code)).first():
        raise AdminError(_("Another role already has the code “%(code)s”.", code=code), "code")
    name = _check_role_change(None, name, data_scope, actor)
    grants = _permissions_for(None, permissions, live)
    role = Role(code=code, name=name, data_scope=data_scope, is_default=False)
    role.set_permissions(grants)
    db.session.add(role)
    db.session.flush()
    _log_permissions(role, set(), grants)
    db.session.commit()
    return role


def update_role(role: Role, *, name: str, data_scope: str, permissions, live: set[str], actor) -> Role:
    name = _check_role_change(role, name, data_scope, actor)
    before = role.permissions
    grants = _permissions_for(role, permissions, live)
    role.name, role.data_scope = name, data_scope
    role.set_permissions(grants)
    _log_permissions(role, before, grants)
    db.session.commit()
    return role


def delete_role(role: Role, *, actor) -> None:
    if role.is_default:
        raise AdminError(_("Default roles cannot be deleted; edit their permissions instead."))
    if role.data_scope == "group" and not actor.is_group_admin:
        raise NotAllowed(_("Only group administrators can change a role that reaches every hospital."))
    holders = role_user_counts().get(role.id, 0)
    if holders:
        raise AdminError(_("The role “%(name)s” is still held by %(n)d user(s); take it from them first.",
                           name=role.name, n=holders))
    db.session.delete(role)
    db.session.commit()


# -- audit log ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditFilters:
    username: str = ""
    model: str = ""
    action: str = ""
    record_id: str = ""
    date_from: date | None = None
    date_to: date | None = None


def audit_select(filters: AuditFilters):
    """Audit rows of the scope matching ``filters``, newest first; dates are whole UTC days."""
    stmt = sa.select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    if filters.username:
        stmt = stmt.where(AuditLog.username == filters.username)
    if filters.model:
        stmt = stmt.where(AuditLog.model == filters.model)
    if filters.action:
        stmt = stmt.where(AuditLog.action == filters.action)
    if filters.record_id:
        stmt = stmt.where(AuditLog.record_id == filters.record_id)
    # The days are the hospitals' days; the stamps are UTC.
    if filters.date_from:
        stmt = stmt.where(AuditLog.at >= local_to_utc(datetime.combine(filters.date_from, time.min)))
    if filters.date_to:
        stmt = stmt.where(AuditLog.at < local_to_utc(datetime.combine(filters.date_to + timedelta(days=1), time.min)))
    return stmt


def audit_diff(entry: AuditLog) -> list[tuple[str, object, object]]:
    """(key, before, after) for each key that differs between the before and after values."""
    before, after = entry.before or {}, entry.after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("", before or None, after or None)]
    keys = list(dict.fromkeys(list(before) + list(after)))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]
