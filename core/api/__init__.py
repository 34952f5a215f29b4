"""REST API v1: the toolkit every API view uses (core's and plugins'), and the core's endpoints.

Plugins write their API views with :func:`api_route` on a blueprint whose ``url_prefix`` is
``/api/v1/<plugin>``; see docs/api.md.
"""
from flask import Blueprint

from core.api.fields import Reference
from core.api.toolkit import LocalDateTime, Page, UtcDateTime, api_route, page_args, paginate
from core.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Token-only: no request is ever authenticated by a cookie, so there is nothing to forge.
csrf.exempt(bp)

# The endpoints attach themselves to ``bp`` on import (before any app registers it).
from core.api import auth_views, core_views  # noqa: E402,F401

__all__ = ["LocalDateTime", "Page", "Reference", "UtcDateTime", "api_route", "bp", "page_args", "paginate"]
