"""REST API of the complaints (``/api/v1/complaints``): list/filter (the list page's filter
schema), create, read, workflow transitions, comments, attachments, and the public intake —
unauthenticated, throttled like the public form."""
from __future__ import annotations

from flask import Blueprint, request
from flask_login import current_user

from core.api import api_route, paginate
from core.extensions import db
from core.i18n import gettext as _
from core.tenancy import get_or_404, hospital_scope
from core.web import json_error

from . import attachments, public_services, services
from . import sanctions as sanction_services
from .errors import ComplaintInvalid, TransitionRefused
from .models import Complaint, Sanction
from .queries import list_loads, list_statement
from .schemas import (
    AttachmentSchema,
    CommentBodySchema,
    CommentSchema,
    ComplaintCreateSchema,
    ComplaintDetailSchema,
    ComplaintFilterSchema,
    ComplaintSchema,
    PublicIntakeSchema,
    PublicReceiptSchema,
    PublicStatusQuerySchema,
    SanctionCreateSchema,
    SanctionDecisionSchema,
    SanctionFilterSchema,
    SanctionSchema,
    TransitionBodySchema,
)

bp = Blueprint("complaints_api", __name__, url_prefix="/api/v1/complaints")


@api_route(bp, "/", permission="complaints.read", query=ComplaintFilterSchema, response=ComplaintSchema,
           paginated=True)
def list_complaints(query):
    """List complaints.

    The filters of the complaints page (`q`, `status` (repeatable), `category_id`, `channel_id`,
    `department_id`, `staff_id`, `patient_id`, `severity`, `received_from`, `received_to`,
    `overdue`), newest first. Complaints about the caller are left out unless they hold
    `complaints.view_about_me`.
    """
    return paginate(list_statement(query), load=list_loads())


@api_route(bp, "/", methods=("POST",), permission="complaints.create", body=ComplaintCreateSchema,
           response=ComplaintDetailSchema, status=201)
def create_complaint(body):
    """Take in a complaint.

    Settled on the spot (`settled_on_spot` with a `resolution`), it is closed at once; otherwise
    its reply deadline is computed from the category's limit in working days.
    """
    complaint = services.create_complaint(body, user_id=current_user.id)
    db.session.commit()
    return complaint, 201, {"Location": f"/api/v1/complaints/{complaint.id}"}


@api_route(bp, "/<int:complaint_id>", permission="complaints.read", response=ComplaintDetailSchema)
def get_complaint(complaint_id):
    """One complaint with its staff, transitions, comments and attachments."""
    return get_or_404(Complaint, complaint_id)


@api_route(bp, "/<int:complaint_id>/transitions", methods=("POST",), permission="complaints.read",
           body=TransitionBodySchema,
           response=ComplaintDetailSchema, errors=(409,))
def transition(complaint_id, body):
    """Take a workflow step.

    `action`: `accept`, `assign` (`handler_id`, `department_ids`), `investigate`, `reply`
    (`reply_text`, `reply_method`), `close` (`finding`, `root_cause`), `reopen` (`comment`
    required). A step the complaint's state does not allow is a `409`; one the caller's
    permissions do not allow a `403`; nothing is written in either case.
    """
    complaint = get_or_404(Complaint, complaint_id)
    try:
        services.transition(complaint, body["action"], body)
    except TransitionRefused as exc:
        db.session.rollback()
        return json_error(exc.status, exc.message)
    db.session.commit()
    return complaint


@api_route(bp, "/<int:complaint_id>/comments", methods=("POST",), permission="complaints.read",
           body=CommentBodySchema, response=CommentSchema, status=201)
def add_comment(complaint_id, body):
    """Add a comment to a complaint."""
    complaint = get_or_404(Complaint, complaint_id)
    comment = services.add_comment(complaint, body["body"])
    db.session.commit()
    return comment, 201


@api_route(bp, "/<int:complaint_id>/attachments", methods=("POST",), permission="complaints.create",
           response=AttachmentSchema, status=201, errors=(413, 422))
def add_attachment(complaint_id):
    """Attach a file (multipart/form-data, field `file`).

    Images (PNG, JPEG, GIF, WebP) and PDF only, recognised by their content; at most 10 MB.
    """
    complaint = get_or_404(Complaint, complaint_id)
    upload = request.files.get("file")
    if upload is None:
        raise ComplaintInvalid({"file": _("Send the file as multipart/form-data in the field “file”.")})
    row = attachments.add_attachment(complaint, upload.stream, upload.filename or "", user_id=current_user.id)
    db.session.commit()
    return row, 201


@api_route(bp, "/sanctions", permission="complaints.read", query=SanctionFilterSchema, response=SanctionSchema,
           paginated=True)
def list_sanctions(query):
    """List rewards and penalties (赏罚).

    Filters: `user_id` (a staff member's record), `department_id`, `complaint_id`, `kind`,
    `state` (`proposed`, `approved`, `rejected`); newest first.
    """
    return paginate(sanction_services.list_statement(query))


@api_route(bp, "/sanctions", methods=("POST",), permission="complaints.handle", body=SanctionCreateSchema,
           response=SanctionSchema, status=201)
def propose_sanction(body):
    """Propose a reward or penalty for a staff member.

    It awaits approval (`state` `proposed`). `complaint_id` links it to a complaint the caller
    sees; a staff member or complaint of another hospital is a `422` naming the field.
    """
    complaint = sanction_services.complaint_for(body["complaint_id"]) if body.get("complaint_id") else None
    sanction = sanction_services.propose(body, complaint)
    db.session.commit()
    return sanction, 201, {"Location": f"/api/v1/complaints/sanctions/{sanction.id}"}


@api_route(bp, "/sanctions/<int:sanction_id>", permission="complaints.read", response=SanctionSchema)
def get_sanction(sanction_id):
    """One reward or penalty."""
    return get_or_404(Sanction, sanction_id)


@api_route(bp, "/sanctions/<int:sanction_id>/decision", methods=("POST",), permission="complaints.decide_rewards",
           body=SanctionDecisionSchema, response=SanctionSchema, errors=(409,))
def decide_sanction(sanction_id, body):
    """Approve or reject a proposed reward or penalty.

    `decision`: `approve` or `reject`. One already decided is a `409`; nothing is written.
    """
    sanction = get_or_404(Sanction, sanction_id)
    try:
        sanction_services.decide(sanction, body["decision"] == "approve")
    except TransitionRefused as exc:
        db.session.rollback()
        return json_error(exc.status, exc.message)
    db.session.commit()
    return sanction


@api_route(bp, "/public/<code>", methods=("POST",), body=PublicIntakeSchema, response=PublicReceiptSchema,
           status=201, public=True, errors=(404, 429))
def public_intake(code, body):
    """File a complaint without an account (the hospital's public form).

    No token. Throttled per address like the public form (`429` with `Retry-After`); the
    `website` field must stay empty. Answers the reference number which, with the phone's last
    4 digits, shows the status on the public status page.
    """
    hospital = public_services.public_hospital(code)
    with hospital_scope(hospital):
        public_services.check_open()
        try:
            public_services.throttle(request.remote_addr or "?", "submit")
        except public_services.Throttled as exc:
            return _throttled(exc)
        complaint = public_services.submit(body)
        db.session.commit()
        return _receipt(complaint), 201


def _receipt(complaint) -> dict:
    return {"reference": complaint.reference, "status": public_services.PUBLIC_STATUS[complaint.status],
            "due_date": complaint.due_date if complaint.status not in ("replied", "closed") else None}


def _throttled(exc):
    response = json_error(429, exc.message)
    response.headers["Retry-After"] = str(exc.seconds)
    return response


@api_route(bp, "/public/<code>/status", query=PublicStatusQuerySchema, response=PublicReceiptSchema, public=True,
           errors=(404, 429))
def public_status(code, query):
    """The status of a complaint filed with the hospital, without an account.

    No token: the reference number and the last 4 digits of the phone given with the complaint.
    `404` when they do not match; throttled per address (`429` with `Retry-After`).
    """
    hospital = public_services.public_hospital(code)
    with hospital_scope(hospital):
        public_services.check_open()
        try:
            public_services.throttle(request.remote_addr or "?", "status")
        except public_services.Throttled as exc:
            return _throttled(exc)
        complaint = public_services.lookup(query["reference"], query["last4"])
        if complaint is None:
            return json_error(404, _("No complaint matches this reference number and these digits."))
        return _receipt(complaint)
