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

    @hookspec
    def followup_content_sources(self):
        """Return a list of content sources this plugin offers (or None): texts a follow-up
        agent inserts into an SMS, a bulk SMS, an SMS template or a follow-up plan or round.

        Called for the current hospital's live plugins when one of those forms is shown (the
        "insert from…" picker appears only when some source is offered) and when the picker
        searches. A source is any object with

        - ``name`` (str, unique, at most 32 characters, ``[a-z0-9_]``) and ``title`` (str, shown);
        - ``search(q, *, departments, diagnoses, limit) -> list[dict]``: items for the words
          ``q`` (may be empty), preferring those for the patient's ``departments`` (names) and
          ``diagnoses`` (ICD-10 codes) — both empty lists without a patient. Each item is a dict
          with ``id`` (int), ``title``, ``summary`` (str or None), ``text`` (what is inserted: a
          short SMS text) and ``link`` (an absolute URL a patient may open, or None). Raise
          ``ValueError`` with a message for the user for a search that cannot be run;
        - ``used(item_id) -> dict | None``: the item was inserted (count it); returns the item
          as ``search`` does, or None when it is gone.

        Both run in the request's hospital scope and may read the database; they must not commit.
        """
