"""The hook the followup plugin publishes: SMS gateways.

A plugin implementing it must list ``followup`` in its manifest's ``depends``.
"""
from core import hookspec


class FollowupHooks:
    @hookspec
    def followup_sms_gateways(self):
        """Return a list of SMS gateways this plugin offers (or None).

        Called for a hospital's live plugins when its administrator chooses a gateway and each
        time its messages are delivered. A gateway is any object with

        - ``name`` (str, unique, at most 64 characters): stored on each message it handled and
          chosen per hospital in the SMS settings;
        - ``title`` (str, optional): shown in the settings;
        - ``send(message) -> (ok: bool, detail: str)``: deliver one
          ``plugins.followup.models.SmsMessage`` (``phone`` normalised, ``body`` final text with
          the hospital's signature). ``detail`` is the provider's message id when ``ok``, the
          reason otherwise.

        ``send`` runs in the delivery job or right after a "send now", inside the hospital's
        scope, never inside another plugin's transaction; it may block on the network (keep a
        timeout) and may raise: an exception counts as a failed attempt with its text as the
        error. A failed message is tried again by the next delivery run until the hospital's
        maximum number of attempts is reached. Do not commit or change the message yourself.
        """
