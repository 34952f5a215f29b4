"""Token endpoints: get a token with a password, list and revoke one's own tokens."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import abort, g, request
from flask_babel import gettext as _
from flask_login import current_user

from core import audit, tenancy
from core.api import bp
from core.api.schemas import IssuedTokenSchema, TokenListQuerySchema, TokenRequestSchema, TokenSchema
from core.api.toolkit import api_route, paginate
from core.auth import LoginThrottled, authenticate, issue_token, revoke_token
from core.extensions import db
from core.models import ApiToken, utcnow
from core.web import json_error

TAGS = ("auth",)


@api_route(bp, "/auth/token", methods=("POST",), body=TokenRequestSchema, response=IssuedTokenSchema,
           status=201, public=True, errors=(401, 429), tags=TAGS)
def create_token(body):
    """Get a token.

    Exchanges a username and password for a bearer token, sent afterwards as
    `Authorization: Bearer <token>`. Failed attempts count towards the sign-in lockout
    (429 with `Retry-After` while locked).
    """
    try:
        user = authenticate(body["username"], body["password"], request.remote_addr or "?")
    except LoginThrottled as exc:
        response = json_error(429, _("Too many failed sign-ins. Try again in %(n)d minutes.", n=exc.minutes))
        response.headers["Retry-After"] = str(exc.minutes * 60)
        return response
    if user is None:
        return json_error(401, _("Wrong username or password."))
    token, record = issue_token(user, body["name"], timedelta(days=body["expires_in_days"]))
    with tenancy.hospital_scope(user.hospital, user):
        audit.log_event("api_token", "ApiToken", record.id, hospital_id=user.hospital_id, note=record.name)
        db.session.commit()
    return {"token": token, "token_id": record.id, "expires_at": record.expires_at, "user": user}


@api_route(bp, "/auth/tokens", query=TokenListQuerySchema, response=TokenSchema, paginated=True, tags=TAGS)
def list_tokens(query):
    """List my tokens.

    The caller's own tokens, newest first, never their secret. Only usable ones unless
    `all=true`.
    """
    stmt = sa.select(ApiToken).where(ApiToken.user_id == current_user.id)
    if not query["all"]:
        stmt = stmt.where(ApiToken.revoked_at.is_(None),
                          sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > utcnow()))
    return paginate(stmt.order_by(ApiToken.created_at.desc(), ApiToken.id.desc()))


@api_route(bp, "/auth/tokens/<int:token_id>", methods=("DELETE",), status=204, tags=TAGS)
def delete_token(token_id):
    """Revoke one of my tokens.

    Another user's token is a 404. Revoking a revoked token changes nothing.
    """
    record = db.session.execute(sa.select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.user_id == current_user.id)).scalar_one_or_none()
    if record is None:
        abort(404, description=_("You have no token with id %(id)d.", id=token_id))
    if record.revoked_at is None:
        revoke_token(record)
    return None


@api_route(bp, "/auth/token", methods=("DELETE",), status=204, tags=TAGS)
def delete_current_token():
    """Revoke the token of this request (sign out)."""
    revoke_token(g.hcrm_token_record)
    return None
