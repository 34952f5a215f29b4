"""Previewing an SMS template with a real patient of the hospital (phone masked unless the user
holds patients.view_sensitive)."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa

from core.clock import local_today
from core.extensions import db
from core.i18n import gettext as _
from plugins.followup.models import SmsTemplate
from plugins.followup.outreach import sms
from plugins.followup.outreach.templating import TemplateInvalid, check, render_template_for
from plugins.patients import public as patient_services
from plugins.patients.public import Patient

CANDIDATES = 10


def _patient(args):
    """The patient asked for (id), else the first match of the search text, else the newest."""
    if args.get("patient_id", type=int):
        return db.session.execute(sa.select(Patient).where(Patient.id == args.get("patient_id", type=int))
                                  ).scalar_one_or_none(), []
    q = (args.get("q") or "").strip()[:100]
    stmt = patient_services.search(patient_services.PatientQuery(q=q)).limit(CANDIDATES)
    candidates = db.session.execute(stmt).scalars().all()
    return (candidates[0] if candidates else None), candidates


def preview_context(args) -> dict:
    template_id = args.get("template_id", type=int)
    template = db.session.execute(sa.select(SmsTemplate).where(SmsTemplate.id == template_id)).scalar_one_or_none() \
        if template_id else None
    body = (args.get("body") or "").strip() or (template.body if template else "")
    patient, candidates = _patient(args)
    context = dict(template=template, body=body, patient=patient, candidates=candidates, q=args.get("q") or "",
                   rendered=None, error=None, mobile=sms.mobile_of(patient) if patient else None)
    if not body:
        context["error"] = _("Choose a template or write a text to preview.")
        return context
    try:
        check(body)
        if patient is None:
            context["error"] = _("No patient matches: the preview needs a patient of this hospital.")
        else:
            # A preview has no plan: show the plan's fields with a sample due time.
            context["rendered"] = sms.signed(render_template_for(body, patient, plan=_SamplePlan()), sms.signature())
    except TemplateInvalid as exc:
        context["error"] = str(exc)
    return context


class _SamplePlan:
    """Stands for "a plan due tomorrow at 09:00" in a preview, so {due_date}/{due_time} show."""

    visit_id = department_id = owner_id = id = None

    @property
    def due_at(self):
        return datetime.combine(local_today() + timedelta(days=1), time(9))
