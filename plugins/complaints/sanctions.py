"""Rewards and penalties (赏罚) for staff: proposed with a reason, approved or rejected by a user
holding ``complaints.decide_rewards``; a praise letter is a ``praise``. The per-staff record
lists a user's approved and pending ones."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation

import sqlalchemy as sa

from core.extensions import db
from core.i18n import gettext as _
from core.i18n import lazy_gettext as _l
from core.models import utcnow
from core.permissions import can

from .errors import ComplaintInvalid, TransitionRefused
from .models import POSITIVE_KINDS, SANCTION_KINDS, Sanction
from .services import _actor, _text, _user

KIND_LABELS = {"praise": _l("Praise"), "reward": _l("Reward"), "criticism": _l("Criticism"),
               "warning": _l("Warning"), "deduction": _l("Points deduction"), "fine": _l("Fine")}
STATE_LABELS = {"proposed": _l("Proposed"), "approved": _l("Approved"), "rejected": _l("Rejected")}
MAX_AMOUNT = Decimal("99999999.99")


def propose(data: dict, complaint=None) -> Sanction:
    errors: dict[str, str] = {}
    user = _user(data.get("user_id"), "user_id", errors) if data.get("user_id") else None
    if user is None and "user_id" not in errors:
        errors["user_id"] = _("Choose the staff member.")
    kind = data.get("kind")
    if kind not in SANCTION_KINDS:
        errors["kind"] = _("Choose one of: %(choices)s.", choices=", ".join(SANCTION_KINDS))
    reason = _text(data, "reason", errors, required=True)
    amount = None
    if data.get("amount") not in (None, ""):
        try:
            amount = Decimal(str(data["amount"]).strip())
            if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
                raise InvalidOperation
            amount = amount.quantize(Decimal("0.01"))
        except (InvalidOperation, ValueError):
            errors["amount"] = _("Enter an amount in yuan, 0 or more.")
    points = None
    if data.get("points") not in (None, ""):
        try:
            points = int(str(data["points"]).strip())
            if not -1000 <= points <= 1000:
                raise ValueError
        except ValueError:
            errors["points"] = _("Enter points from -1000 to 1000.")
    if errors:
        raise ComplaintInvalid(errors)
    sanction = Sanction(user_id=user.id, department_id=user.department_id, kind=kind, amount=amount, points=points,
                        reason=reason, state="proposed", proposed_by_id=_actor(),
                        complaint_id=complaint.id if complaint is not None else None)
    db.session.add(sanction)
    db.session.flush()
    return sanction


def decide(sanction: Sanction, approve: bool) -> Sanction:
    if not can("complaints.decide_rewards"):
        raise TransitionRefused(_("Deciding rewards and penalties needs the permission “%(perm)s”.",
                                  perm="complaints.decide_rewards"), 403)
    if sanction.state != "proposed":
        raise TransitionRefused(_("This reward or penalty is already decided."))
    sanction.state = "approved" if approve else "rejected"
    sanction.decided_by_id, sanction.decided_at = _actor(), utcnow()
    return sanction


def list_statement(filters: dict):
    """Rewards and penalties, newest first, by ``user_id``, ``department_id``, ``complaint_id``,
    ``kind`` and ``state`` (the record page and the API)."""
    stmt = sa.select(Sanction)
    for key, column in (("user_id", Sanction.user_id), ("department_id", Sanction.department_id),
                        ("complaint_id", Sanction.complaint_id), ("kind", Sanction.kind), ("state", Sanction.state)):
        if filters.get(key) is not None:
            stmt = stmt.where(column == filters[key])
    return stmt.order_by(Sanction.created_at.desc(), Sanction.id.desc())


def record_of(user_id: int) -> list[Sanction]:
    return db.session.execute(list_statement({"user_id": user_id})).scalars().all()


def complaint_for(value) -> object | None:
    """The complaint a new reward or penalty refers to (``complaint_id``), as the caller sees it:
    one of another hospital, or hidden from the caller, is refused like an unknown one."""
    from .models import Complaint
    from .services import _row
    errors: dict[str, str] = {}
    complaint = _row(Complaint, value, "complaint_id", errors,
                     message=_("Unknown complaint: it does not exist in this hospital."))
    if errors:
        raise ComplaintInvalid(errors)
    return complaint


def summary(rows: list[Sanction]) -> dict:
    """Approved totals of a staff member's record: praise/rewards, penalties, points and yuan."""
    approved = [r for r in rows if r.state == "approved"]
    positive = [r for r in approved if r.kind in POSITIVE_KINDS]
    negative = [r for r in approved if r.kind not in POSITIVE_KINDS]
    return {"positive": len(positive), "negative": len(negative),
            "points": sum(r.points or 0 for r in approved),
            "rewarded": sum((r.amount or 0) for r in positive), "penalised": sum((r.amount or 0) for r in negative)}
