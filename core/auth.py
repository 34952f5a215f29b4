"""Signing in and out, password changes, throttling and API tokens (the services and the pages)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, g, has_app_context, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import event
from sqlalchemy.orm import Session, joinedload
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from core import audit, tenancy
from core.autocommit_reads import READ_METHODS
from core.extensions import db
from core.models import ApiToken, Hospital, LoginAttempt, Role, RolePermission, User, utcnow
from core.permissions import hcrm
from core.principal_cache import forget_on_commit

bp = Blueprint("auth", __name__)
MIN_PASSWORD_LENGTH = 8
TOKEN_USE_RESOLUTION = timedelta(minutes=1)


class LoginThrottled(Exception):
    """Too many failed sign-ins for this username or address; ``minutes`` until retry."""

    def __init__(self, minutes: int):
        super().__init__(minutes)
        self.minutes = minutes


def _limits():
    config = current_app.extensions["hcrm"].config
    return config.login_max_failures, timedelta(minutes=config.login_lockout_minutes)


def _recent_failures(username: str, remote_addr: str) -> int:
    max_failures, window = _limits()
    since = utcnow() - window
    by_user = db.session.execute(sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.at >= since)).scalar_one()
    by_addr = db.session.execute(sa.select(sa.func.count()).select_from(LoginAttempt).where(
        LoginAttempt.remote_addr == remote_addr, LoginAttempt.at >= since)).scalar_one()
    # An address gets more tries than one account: a ward's shared PC serves many users.
    return max(by_user, by_addr // 4)


_decoys: dict = {}


def _decoy() -> User:
    """A user that exists nowhere, hashed like real ones (same method, so the same cost)."""
    method = current_app.config.get("HCRM_PASSWORD_HASH")
    if method not in _decoys:
        decoy = User()
        decoy.set_password(secrets.token_urlsafe(16))
        _decoys[method] = decoy.password_hash
    return User(password_hash=_decoys[method])


def authenticate(username: str, password: str, remote_addr: str) -> User | None:
    """The user for these credentials, or None. Raises LoginThrottled while locked out.

    Failures are recorded per username and address; success clears the username's failures.
    The lockout is checked before the password so guessing gains nothing while locked.
    """
    username = (username or "").strip()
    max_failures, window = _limits()
    with tenancy.system_scope():
        if _recent_failures(username, remote_addr) >= max_failures:
            raise LoginThrottled(int(window.total_seconds() // 60))
        user = db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()
        # Always hash: an unknown or inactive account must not answer faster than a wrong password.
        password_ok = (user or _decoy()).check_password(password or "")
        ok = user is not None and password_ok and user.active and user.hospital.active
        if not ok:
            db.session.add(LoginAttempt(username=username[:64], remote_addr=remote_addr[:64]))
            db.session.commit()
            return None
        db.session.execute(sa.delete(LoginAttempt).where(LoginAttempt.username == username))
        user.last_login_at = utcnow()
        db.session.commit()
        return user


# -- ending sessions --------------------------------------------------------------------------
# Changes after which the account's open sessions must not go on: a new password, a deactivation
# (re-activating must not revive old cookies), other roles or hospital, group administration.
SESSION_ENDING_CHANGES = ("password_hash", "active", "roles", "hospital_id", "is_group_admin")


def end_sessions(user: User) -> None:
    """Make every session and remember-me cookie of ``user`` worthless from the next request on
    (the caller commits). The cookies name the account's epoch (``User.get_id``)."""
    user.session_epoch = (user.session_epoch or 0) + 1


@event.listens_for(Session, "before_flush")
def _end_sessions_on_account_change(session, _flush_context, _instances) -> None:
    """Whoever makes the change (the user, an administrator, the CLI), the sessions end."""
    for obj in session.dirty:
        if not isinstance(obj, User):
            continue
        attrs = sa.inspect(obj).attrs
        if attrs.session_epoch.history.has_changes():
            continue
        if any(attrs[key].history.has_changes() for key in SESSION_ENDING_CHANGES):
            end_sessions(obj)


def change_password(user: User, current: str, new: str) -> str | None:
    """Change the password; returns an error message, or None when done."""
    if not user.check_password(current or ""):
        return _("The current password is wrong.")
    if len(new or "") < MIN_PASSWORD_LENGTH:
        return _("The new password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH)
    if new == current:
        return _("The new password must differ from the current one.")
    user.set_password(new)
    db.session.commit()
    return None


# -- API tokens -------------------------------------------------------------------------------
def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User, name: str = "api", ttl: timedelta | None = timedelta(days=90)) -> tuple[str, ApiToken]:
    """A new bearer token (returned once, in clear) and its stored record."""
    token = "hcrm_" + secrets.token_urlsafe(32)
    record = ApiToken(user_id=user.id, token_hash=_digest(token), name=name[:100],
                      expires_at=utcnow() + ttl if ttl else None)
    db.session.add(record)
    db.session.commit()
    return token, record


# One statement for the token, its user and hospital, their roles and grants: every API call
# starts here, and the permissions and data scope are read from them next. Built once: SQLAlchemy
# keys its statement cache by walking the statement, and remembers the key of one it has seen.
_TOKEN_WITH_PRINCIPAL = (sa.select(ApiToken).where(ApiToken.token_hash == sa.bindparam("digest"))
                         .options(joinedload(ApiToken.user).joinedload(User.roles).joinedload(Role.grants)))


def user_for_token(token: str, *, reuse: bool = False) -> tuple[User, ApiToken] | None:
    """The user and token record of a bearer token, or None when it is unknown, revoked, expired
    or its user or hospital is inactive. ``reuse``: a read may take the principal this process
    loaded for the token a few seconds ago (see core.principal_cache)."""
    digest = _digest(token)
    principals = hcrm().principals
    remembered = principals.get(digest) if reuse else None
    if remembered is not None:
        if remembered.expires_at is not None and remembered.expires_at < utcnow():
            return None
        record = db.session.merge(remembered, load=False)
        return record.user, record
    with tenancy.system_scope():
        record = db.session.execute(_TOKEN_WITH_PRINCIPAL, {"digest": digest}).unique().scalar_one_or_none()
        if record is None or record.revoked_at is not None:
            return None
        if record.expires_at is not None and record.expires_at < utcnow():
            return None
        user = record.user
        if not user.active or not user.hospital.active:
            return None
        if reuse:
            principals.put(digest, record)
        # Record use at most once a minute: a write (and a commit) on every API call would cost
        # more than the call itself.
        now = utcnow()
        if record.last_used_at is None or now - record.last_used_at > TOKEN_USE_RESOLUTION:
            record.last_used_at = now
            db.session.commit()
        return user, record


# A change to who may do what, committed through the ORM, empties this process's cache at once.
forget_on_commit((ApiToken, User, Role, RolePermission, Hospital),
                 lambda: hcrm().principals if has_app_context() else None)


def revoke_token(record: ApiToken) -> None:
    record.revoked_at = utcnow()
    db.session.commit()


from core.extensions import login_manager  # noqa: E402  (the loader belongs with the token service)


@login_manager.request_loader
def load_user_from_bearer(req):
    """API requests authenticate with ``Authorization: Bearer <token>`` only (never cookies)."""
    if not req.path.startswith("/api/"):
        return None
    header = req.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    found = user_for_token(token.strip(), reuse=req.method in READ_METHODS)
    if found is None:
        return None
    g.hcrm_token_record = found[1]
    return found[0]


# -- pages ------------------------------------------------------------------------------------
class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField(_l("Keep me signed in on this computer"))


class PasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password"),
                                 validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=256)],
                                 render_kw={"autocomplete": "new-password"})
    confirm_password = PasswordField(_l("Repeat the new password"),
                                     validators=[DataRequired(), EqualTo("new_password", _l("The passwords differ."))],
                                     render_kw={"autocomplete": "new-password"})


def _safe_next(target: str | None) -> str:
    """``target`` when it is a path on this site, else the dashboard. Browsers read a backslash
    as a slash and drop tabs and newlines, so "/\\evil" or "/<tab>/evil" would leave the site."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and not any(ord(c) < 32 or ord(c) == 127 for c in target)):
        return target
    return url_for("core.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("core.dashboard"))
    form = LoginForm()
    error, status = None, 200
    if form.validate_on_submit():
        try:
            user = authenticate(form.username.data, form.password.data, request.remote_addr or "?")
        except LoginThrottled as exc:
            error, status = _("Too many failed sign-ins. Try again in %(n)d minutes.", n=exc.minutes), 429
        else:
            if user is None:
                error, status = _("Wrong username or password."), 401
            else:
                login_user(user, remember=form.remember.data)
                with tenancy.hospital_scope(user.hospital, user):
                    audit.log_event("login", "User", user.id, hospital_id=user.hospital_id)
                    db.session.commit()
                return redirect(_safe_next(request.args.get("next")))
    elif request.method == "POST":
        status = 400
    return render_template("core/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends the session on the server too: a copy of the cookie (or a remember-me cookie) is
    refused afterwards. Every other session of the account ends with it."""
    if current_user.is_authenticated:
        with tenancy.system_scope():
            end_sessions(current_user._get_current_object())
            db.session.commit()
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"], endpoint="change_password")
@login_required
def change_password_page():
    form = PasswordForm()
    if form.validate_on_submit():
        error = change_password(current_user, form.current_password.data, form.new_password.data)
        if error is None:
            login_user(current_user._get_current_object())  # this session stays; the others end
            flash(_("Your password has been changed."), "success")
            return redirect(url_for("core.dashboard"))
        form.current_password.errors.append(error)
    return render_template("core/change_password.html", form=form), 400 if form.errors else 200
