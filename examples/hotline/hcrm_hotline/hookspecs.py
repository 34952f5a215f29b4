"""The hook the hotline publishes: its event, typed.

A plugin implementing it must list ``hotline`` in its manifest's ``depends``.
"""
from core import hookspec


@hookspec
def hotline_call_received(call):
    """A call was recorded, inside its transaction (raise to abort it). The return value is ignored."""
