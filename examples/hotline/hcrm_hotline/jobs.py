"""Background work of the hotline, run by the core's task queue (``hcrm worker``), never in a request."""
from datetime import timedelta

import sqlalchemy as sa

from core import queue
from core.extensions import db
from core.models import utcnow
from hcrm_hotline.models import Call
from plugins.patients.public import by_phone

LINK_WINDOW = timedelta(days=2)  # the job runs hourly: older calls have had their chances


def link_unlinked_calls(hospital):
    """Each call that names no patient gets the one patient with its number, if there is one."""
    calls = db.session.execute(sa.select(Call).where(Call.patient_id.is_(None),
                                                     Call.received_at >= utcnow() - LINK_WINDOW)).scalars().all()
    for call in calls:
        matches = by_phone(call.phone)
        if len(matches) == 1:
            call.patient = matches[0]


def retag_calls(hospital, tag, call_ids):
    calls = db.session.execute(sa.select(Call).where(Call.id.in_(call_ids))).scalars().all()
    for done, call in enumerate(calls, 1):
        call.tag = tag
        queue.progress(done, len(calls))

