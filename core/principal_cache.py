"""API tokens' principals remembered for a few seconds between read requests.

Every API call starts by loading its token with the user, hospital, roles and grants: a round
trip and a graph of objects, about a quarter of a simple lookup's time. Clients call in bursts
(a search box asks on every keystroke, a CTI integration on every call), so a GET or HEAD may
reuse what the same token loaded up to ``security.api_token_cache_seconds`` earlier (0: never).

What that costs, and what keeps it small:

* a token revoked, a user or hospital deactivated, a role or grant changed *by another worker
  process* (or by SQL outside the ORM) may still read for up to those seconds;
* the worker that makes such a change through the ORM forgets every principal when it commits;
* writing methods (POST, PATCH, DELETE…) always load the principal afresh, so a revoked token
  never writes;
* the expiry time of a token is checked on every call.

What is kept is a *detached copy* that no session owns: each request merges it into its own
session (``merge(load=False)``, no SQL), so nothing a request does to its objects reaches the
copy other requests use.
"""
from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

MAX_ENTRIES = 4096  # tokens remembered per process; past that the cache starts afresh
# Columns written as bookkeeping, which change nothing a principal may do: recording them must
# not make every worker forget every token (a token's last use is written once a minute).
BOOKKEEPING = frozenset({"last_used_at", "last_login_at"})


class PrincipalCache:
    """token digest -> (deadline, detached ApiToken with its user graph loaded)."""

    def __init__(self, seconds: float, clock=time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._entries: dict[str, tuple[float, object]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str):
        """The copy remembered for ``digest`` (to be merged, never used as it is), or None."""
        entry = self._entries.get(digest)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            self._entries.pop(digest, None)
            return None
        return entry[1]

    def put(self, digest: str, record) -> None:
        """Remember a detached copy of ``record`` (an ApiToken of the caller's session, clean,
        its user, hospital, roles and grants loaded)."""
        if self.seconds <= 0:
            return
        copy = detached_copy(record)
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[digest] = (self._clock() + self.seconds, copy)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def detached_copy(obj):
    """A copy of ``obj`` and the objects it has loaded, owned by no session: merged into a
    session without a bind, which ``load=False`` keeps from emitting SQL."""
    holder = Session()
    try:
        return holder.merge(obj, load=False)
    finally:
        holder.expunge_all()
        holder.close()


def changes_principals(session: Session, models: tuple[type, ...]) -> bool:
    """Whether the session's pending flush adds, deletes or changes (beyond bookkeeping) an
    object of ``models``."""
    if any(isinstance(obj, models) for obj in (*session.new, *session.deleted)):
        return True
    for obj in session.dirty:
        if not isinstance(obj, models):
            continue
        state = sa.inspect(obj)
        for attr in state.mapper.attrs:
            if attr.key not in BOOKKEEPING and state.attrs[attr.key].history.has_changes():
                return True
    return False


def forget_on_commit(models: tuple[type, ...], cache_of) -> None:
    """Make every session clear ``cache_of()`` (the current app's cache, or None) when it commits
    a change to ``models``, whether flushed or sent as an ORM ``update()``/``delete()``; cleared
    when the change is sent too, so that a request running meanwhile in this process does not
    keep the old rows for long."""

    def note(session) -> None:
        session.info["hcrm_principals_changed"] = True
        cache = cache_of()
        if cache is not None:
            cache.clear()

    @event.listens_for(Session, "before_flush")
    def _note_flushed_changes(session, _flush_context, _instances) -> None:
        if changes_principals(session, models):
            note(session)

    @event.listens_for(Session, "do_orm_execute")
    def _note_bulk_changes(state) -> None:
        if (state.is_update or state.is_delete) and state.bind_mapper is not None \
                and issubclass(state.bind_mapper.class_, models):
            note(state.session)

    @event.listens_for(Session, "after_commit")
    def _forget(session) -> None:
        if session.info.pop("hcrm_principals_changed", False):
            cache = cache_of()
            if cache is not None:
                cache.clear()

