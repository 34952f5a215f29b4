"""The hooks the followup plugin publishes: SMS gateways, the typed hooks of its events
(``followup.survey_recorded``, ``followup.round_marked_complaint``), plans requested by other
plugins, satisfaction for other plugins' scores and content sources for the SMS and plan forms.

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
    def followup_survey_recorded(self, response):
        """A patient's survey answers were recorded (event ``followup.survey_recorded``), inside
        the recording transaction: ``response`` is the ``SurveyResponse`` with its answers. Plugins
        that do not depend on followup read the same facts from the event's payload
        (``hcrm_event``): ``response_id``, ``round_id``, ``plan_id``, ``patient_id``,
        ``department_id``, ``doctor_id``, ``doctor_name``, ``questionnaire`` (its name) and
        ``answers`` — a list of ``{"question", "kind", "score", "scale_min", "scale_max", "text",
        "choices"}``. Raising aborts the recording; the return value is ignored."""

    @hookspec
    def followup_round_marked_complaint(self, round_):
        """A follow-up round was recorded with the patient's complaint flagged (event
        ``followup.round_marked_complaint``), inside its transaction. The event's payload carries
        ``round_id``, ``plan_id``, ``patient_id``, ``department_id``, ``user_id``, ``result`` and
        ``notes`` for plugins that do not depend on followup. Raising aborts the round."""

    @hookspec
    def followup_plans_requested(self, hospital_id, requests):
        """Other plugins ask for follow-up plans: fired with
        ``core.events.emit("followup.plans_requested", requests=[...])`` (the emitter need not
        depend on followup; only this plugin implements the hook, and only where it is live).

        ``requests`` is a list of dicts: ``patient_id`` (a patient of ``hospital_id``; others are
        skipped), ``due_at`` (a naive local datetime), ``content`` (text), ``category`` and
        ``method`` (codes of the hospital's categories and methods: ``birthday``, ``revisit``…,
        ``phone``, ``sms``…; unknown codes fall back to ``revisit`` and ``phone``) and optionally
        ``owner_id`` (a user of the hospital; default the patient's owner, else unassigned). Each becomes a pending
        plan, once per (patient, category, due time). Runs in the emitter's transaction. Return None.
        """

    @hookspec
    def followup_satisfaction(self, hospital_id):
        """Called by other plugins (the vip plugin's value score) on the plugins live for the
        hospital; followup answers. Returns a SQLAlchemy SELECT with the columns ``patient_id`` and
        ``satisfaction`` (0–100: the mean of the patient's scale answers, 100 the best mark), one
        row per patient of ``hospital_id`` who answered a survey; use it as a subquery. Where
        followup is not live nobody answers (the caller treats satisfaction as unknown)."""

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
