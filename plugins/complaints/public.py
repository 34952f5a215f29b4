"""The public complaint pages of a hospital (no login): the form a QR code in the wards opens,
the receipt with the reference number, the status check, and the QR code to print."""
from __future__ import annotations

import io
from pathlib import Path

from flask import Blueprint, Response, abort, g, render_template, request, url_for

from core.extensions import db
from core.permissions import public, require
from core.tenancy import hospital_scope

from . import public_services
from .errors import ComplaintInvalid

bp = Blueprint("complaints_public", __name__, url_prefix="/complaints/public",
               template_folder=str(Path(__file__).resolve().parent / "templates"))


def _throttled(exc: public_services.Throttled, template: str, **context):
    return render_template(template, throttled=exc.message, errors={}, data={}, **context), 429, \
        {"Retry-After": str(exc.seconds)}


@bp.route("/<code>/", methods=("GET", "POST"))
@public
def form(code):
    hospital = public_services.public_hospital(code)
    with hospital_scope(hospital):
        public_services.check_open()
        categories = public_services.public_categories()
        context = dict(hospital=hospital, categories=categories)
        if request.method == "GET":
            return render_template("complaints/public_form.html", errors={}, data={}, **context)
        data = {key: request.form.get(key) for key in request.form}
        try:
            public_services.throttle(request.remote_addr or "?", "submit")
        except public_services.Throttled as exc:
            return _throttled(exc, "complaints/public_form.html", **context)
        try:
            complaint = public_services.submit(data)
        except ComplaintInvalid as exc:
            db.session.rollback()
            return render_template("complaints/public_form.html", errors=exc.errors, data=data, **context), 422
        db.session.commit()
        return render_template("complaints/public_receipt.html", hospital=hospital, complaint=complaint), 201


@bp.route("/<code>/status", methods=("GET", "POST"))
@public
def status(code):
    hospital = public_services.public_hospital(code)
    with hospital_scope(hospital):
        public_services.check_open()
        context = dict(hospital=hospital, complaint=None, looked_up=False)
        if request.method == "GET":
            return render_template("complaints/public_status.html", errors={}, data={}, **context)
        data = {"reference": request.form.get("reference", ""), "last4": request.form.get("last4", "")}
        try:
            public_services.throttle(request.remote_addr or "?", "status")
        except public_services.Throttled as exc:
            return _throttled(exc, "complaints/public_status.html", **context)
        complaint = public_services.lookup(data["reference"], data["last4"])
        context.update(complaint=complaint, looked_up=True,
                       public_status=public_services.PUBLIC_STATUS.get(complaint.status) if complaint else None)
        return render_template("complaints/public_status.html", errors={}, data=data, **context), \
            200 if complaint else 404


@bp.route("/<code>/qr.svg")
@require("complaints.manage_settings")
def qr(code):
    """The QR code of the hospital's public form, to print and hang in the wards."""
    import qrcode
    import qrcode.image.svg
    hospital = public_services.public_hospital(code)
    if g.get("hcrm_hospital") is None or hospital.id != g.hcrm_hospital.id:
        abort(404)
    target = url_for("complaints_public.form", code=hospital.code, _external=True)
    image = qrcode.make(target, image_factory=qrcode.image.svg.SvgPathImage, box_size=12)
    buffer = io.BytesIO()
    image.save(buffer)
    return Response(buffer.getvalue(), mimetype="image/svg+xml",
                    headers={"Content-Disposition": f'inline; filename="complaints-{hospital.code}.svg"'})
