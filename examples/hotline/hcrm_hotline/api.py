"""Hotline API (/api/v1/hotline): thin views over services.py, like the pages."""
from flask import Blueprint
from marshmallow import ValidationError

from core.api import api_route, paginate
from core.tenancy import get_or_404
from hcrm_hotline import services
from hcrm_hotline.models import Call
from hcrm_hotline.schemas import CallCreateSchema, CallQuerySchema, CallSchema

bp = Blueprint("hotline_api", __name__, url_prefix="/api/v1/hotline")


@api_route(bp, "", permission="hotline.read", query=CallQuerySchema, response=CallSchema, paginated=True)
def list_calls(query):
    """List hotline calls.

    Newest first; `phone` keeps one caller's calls, `since` those from that day on.
    """
    return paginate(services.calls_query(**query))


@api_route(bp, "/<int:call_id>", permission="hotline.read", response=CallSchema)
def get_call(call_id):
    """One call."""
    return get_or_404(Call, call_id)


@api_route(bp, "", methods=("POST",), permission="hotline.create", body=CallCreateSchema,
           response=CallSchema, status=201)
def create_call(body):
    """Record a call.

    The caller is linked to the patient `patient_id`, or else to the one patient with that number.
    """
    try:
        return services.record_call(body["phone"], body["topic"], patient_id=body["patient_id"])
    except services.CallError as exc:
        raise ValidationError({field: [message] for field, message in exc.errors.items()}) from None
