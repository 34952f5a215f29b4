"""The core's own tables: hospitals, departments, users, roles, plugin states, tokens, audit, jobs."""
from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy.orm import relationship
from werkzeug.security import check_password_hash, generate_password_hash

from core.extensions import db
from core.tenancy import HospitalOwned


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class Hospital(db.Model):
    __tablename__ = "core_hospital"
    __hcrm_global__ = "hospitals are the tenants themselves"

    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(32), nullable=False, unique=True)
    name = sa.Column(sa.String(200), nullable=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    # Bumped in the transaction of every change to the hospital's plugins: requests keep the
    # live set per version (core.activation.live_for) instead of reading it each time.
    plugins_version = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    # The hospital's wall clock (IANA name); NULL follows the deployment's i18n.timezone.
    timezone = sa.Column(sa.String(64), nullable=True)

    def __repr__(self) -> str:
        return f"<Hospital {self.code}>"


class HospitalPlugin(db.Model):
    """Whether a plugin is live for a hospital. ``explicit`` marks an administrator's choice,
    which config seeding never overrides."""

    __tablename__ = "core_hospital_plugin"
    __hcrm_global__ = "managed by the core's activation service with an explicit hospital"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "plugin"),)

    id = sa.Column(sa.Integer, primary_key=True)
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False, index=True)
    plugin = sa.Column(sa.String(40), nullable=False)
    enabled = sa.Column(sa.Boolean, nullable=False, default=False)
    explicit = sa.Column(sa.Boolean, nullable=False, default=False)
    changed_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    changed_by_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id"), nullable=True)


class SeededPermission(db.Model):
    """A permission whose default grants were given to a hospital's default roles. Grants are
    seeded once: a permission added by a later plugin version reaches the roles on upgrade,
    while a default an administrator removed on purpose is never granted again."""

    __tablename__ = "core_seeded_permission"
    __hcrm_global__ = "managed by the core's activation service with an explicit hospital"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "permission"),)

    id = sa.Column(sa.Integer, primary_key=True)
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False)
    permission = sa.Column(sa.String(100), nullable=False)
    seeded_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)


class Department(HospitalOwned, db.Model):
    __tablename__ = "core_department"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(32), nullable=False)
    name = sa.Column(sa.String(100), nullable=False)
    parent_id = sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=True)
    active = sa.Column(sa.Boolean, nullable=False, default=True)

    parent = relationship("Department", remote_side=[id])

    def __str__(self) -> str:
        return self.name


user_roles = sa.Table(
    "core_user_role", db.metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("core_user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("role_id", sa.Integer, sa.ForeignKey("core_role.id", ondelete="CASCADE"), primary_key=True),
)


class Role(HospitalOwned, db.Model):
    __tablename__ = "core_role"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "code"),)

    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(40), nullable=False)
    name = sa.Column(sa.String(100), nullable=False)
    data_scope = sa.Column(sa.String(16), nullable=False, default="own")
    is_default = sa.Column(sa.Boolean, nullable=False, default=False)

    grants = relationship("RolePermission", cascade="all, delete-orphan", lazy="selectin",
                          back_populates="role")

    @property
    def permissions(self) -> set[str]:
        return {g.permission for g in self.grants}

    def set_permissions(self, names) -> None:
        wanted = set(names)
        self.grants = [g for g in self.grants if g.permission in wanted]
        have = {g.permission for g in self.grants}
        self.grants.extend(RolePermission(permission=p) for p in sorted(wanted - have))

    def __str__(self) -> str:
        return self.name


class RolePermission(db.Model):
    __tablename__ = "core_role_permission"
    __hcrm_global__ = "always reached through its hospital-owned role"
    __table_args__ = (sa.UniqueConstraint("role_id", "permission"),)

    id = sa.Column(sa.Integer, primary_key=True)
    role_id = sa.Column(sa.Integer, sa.ForeignKey("core_role.id", ondelete="CASCADE"), nullable=False)
    permission = sa.Column(sa.String(100), nullable=False)

    role = relationship("Role", back_populates="grants")


class User(UserMixin, HospitalOwned, db.Model):
    __tablename__ = "core_user"

    id = sa.Column(sa.Integer, primary_key=True)
    username = sa.Column(sa.String(64), nullable=False, unique=True)
    display_name = sa.Column(sa.String(100), nullable=False)
    password_hash = sa.Column(sa.String(256), nullable=False)
    department_id = sa.Column(sa.Integer, sa.ForeignKey("core_department.id"), nullable=True)
    is_group_admin = sa.Column(sa.Boolean, nullable=False, default=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    last_login_at = sa.Column(sa.DateTime, nullable=True)
    password_changed_at = sa.Column(sa.DateTime, nullable=True)
    # Part of every session and remember-me cookie (get_id): raising it signs the account out of
    # all of them at the next request (core.auth: logout, password, deactivation, roles).
    session_epoch = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")

    hospital = relationship("Hospital", lazy="joined")
    department = relationship("Department")
    roles = relationship("Role", secondary=user_roles, lazy="selectin")

    __hcrm_audit_exclude__ = ("password_hash", "session_epoch")

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def set_password(self, password: str) -> None:
        # HCRM_PASSWORD_HASH lets the test suite trade strength for speed; production keeps
        # werkzeug's default (scrypt).
        method = current_app.config.get("HCRM_PASSWORD_HASH") if has_app_context() else None
        self.password_hash = generate_password_hash(password, **({"method": method} if method else {}))
        self.password_changed_at = utcnow()

    def get_id(self) -> str:
        """Session id: the user id, the session epoch and a fingerprint of the password hash. A
        cookie whose epoch or fingerprint is no longer the account's is refused (core.web.load_user),
        so a logout, a password change, a deactivation or a change of roles ends every session and
        remember-me cookie of the account, copies included."""
        return f"{self.id}.{self.session_epoch or 0}.{self.session_fingerprint}"

    @property
    def session_fingerprint(self) -> str:
        import hashlib
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def __str__(self) -> str:
        return f"{self.display_name} ({self.username})"


class ApiToken(db.Model):
    """A bearer token; only its SHA-256 is stored, so a database leak reveals no usable token."""

    __tablename__ = "core_api_token"
    __hcrm_global__ = "looked up by hash before any user (and so any scope) is known"

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    name = sa.Column(sa.String(100), nullable=False, default="api")
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    expires_at = sa.Column(sa.DateTime, nullable=True)
    last_used_at = sa.Column(sa.DateTime, nullable=True)
    revoked_at = sa.Column(sa.DateTime, nullable=True)

    user = relationship("User")


class LoginAttempt(db.Model):
    """Failed sign-ins, counted per username and per address to throttle guessing."""

    __tablename__ = "core_login_attempt"
    __hcrm_global__ = "recorded before the user (and so the hospital) is known"

    id = sa.Column(sa.Integer, primary_key=True)
    username = sa.Column(sa.String(64), nullable=False, index=True)
    remote_addr = sa.Column(sa.String(64), nullable=False, index=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)


class AuditLog(HospitalOwned, db.Model):
    __tablename__ = "core_audit_log"
    __table_args__ = (sa.Index("ix_core_audit_log_target", "model", "record_id"),)

    id = sa.Column(sa.Integer, primary_key=True)
    # Nullable: group-level actions (creating a hospital, a group admin's login) have no hospital.
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=True, index=True)
    at = sa.Column(sa.DateTime, nullable=False, default=utcnow, index=True)
    user_id = sa.Column(sa.Integer, nullable=True, index=True)
    username = sa.Column(sa.String(64), nullable=True)
    action = sa.Column(sa.String(16), nullable=False)  # create / update / delete / view / login...
    model = sa.Column(sa.String(64), nullable=False)
    record_id = sa.Column(sa.String(64), nullable=True)
    before = sa.Column(sa.JSON, nullable=True)
    after = sa.Column(sa.JSON, nullable=True)
    note = sa.Column(sa.String(255), nullable=True)


class JobRun(db.Model):
    """The last run of each job for each hospital: when it is next due, and how it went."""

    __tablename__ = "core_job_run"
    __hcrm_global__ = "the scheduler reads every hospital's jobs at once"
    __table_args__ = (sa.UniqueConstraint("hospital_id", "job"),)

    id = sa.Column(sa.Integer, primary_key=True)
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False)
    job = sa.Column(sa.String(100), nullable=False)
    last_started_at = sa.Column(sa.DateTime, nullable=True)
    last_success_at = sa.Column(sa.DateTime, nullable=True)
    last_status = sa.Column(sa.String(16), nullable=True)
    last_error = sa.Column(sa.Text, nullable=True)


class TaskRecord(db.Model):
    """One piece of queued work (core.queue): what, for which hospital and user, and how it went.
    The queue's message carries only this row's id; the row is the truth the jobs page, the CLI
    and the consumers' recovery read."""

    __tablename__ = "core_task"
    __hcrm_global__ = "consumers and the group's jobs page read every hospital's tasks"
    __table_args__ = (sa.Index("ix_core_task_state_beat", "state", "heartbeat_at"),
                      sa.Index("ix_core_task_hospital_created", "hospital_id", "created_at"))

    id = sa.Column(sa.Integer, primary_key=True)
    task = sa.Column(sa.String(100), nullable=False)
    hospital_id = sa.Column(sa.Integer, sa.ForeignKey("core_hospital.id"), nullable=False)
    user_id = sa.Column(sa.Integer, nullable=True)
    locale = sa.Column(sa.String(16), nullable=True)
    args = sa.Column(sa.JSON, nullable=False, default=dict)
    summary = sa.Column(sa.String(255), nullable=True)
    state = sa.Column(sa.String(16), nullable=False, default="queued")  # queued/running/ok/failed/skipped
    error = sa.Column(sa.Text, nullable=True)
    done = sa.Column(sa.Integer, nullable=True)
    total = sa.Column(sa.Integer, nullable=True)
    retries = sa.Column(sa.Integer, nullable=False, default=0)
    worker = sa.Column(sa.String(120), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    started_at = sa.Column(sa.DateTime, nullable=True)
    heartbeat_at = sa.Column(sa.DateTime, nullable=True)
    finished_at = sa.Column(sa.DateTime, nullable=True)
    #: What the task produced for its requester, e.g. an export's file (core.exports).
    result = sa.Column(sa.JSON, nullable=True)


class Notification(HospitalOwned, db.Model):
    """A message for one user of one hospital (core.notifications): a bell in the top bar, the
    ``/notifications`` page. ``(user, kind, key)`` is unique, so a job that runs again (or twice)
    never tells anyone the same thing twice."""

    __tablename__ = "core_notification"
    # Not audited: notifications are the system talking to users, not a change of records.
    __hcrm_audit__ = False
    __table_args__ = (sa.UniqueConstraint("user_id", "kind", "key"),
                      sa.Index("ix_core_notification_user_read", "user_id", "read_at"))

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("core_user.id", ondelete="CASCADE"), nullable=False)
    kind = sa.Column(sa.String(60), nullable=False)
    key = sa.Column(sa.String(200), nullable=False)
    title = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.Text, nullable=True)
    link = sa.Column(sa.String(500), nullable=True)
    created_at = sa.Column(sa.DateTime, nullable=False, default=utcnow)
    read_at = sa.Column(sa.DateTime, nullable=True)

    user = relationship("User")


CORE_MODELS = [Hospital, HospitalPlugin, SeededPermission, Department, Role, RolePermission, User, ApiToken,
               LoginAttempt, AuditLog, JobRun, TaskRecord, Notification]
