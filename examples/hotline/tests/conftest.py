"""Fixtures of the hotline's tests: two hospitals with the hotline, their users, a patient.

The fixtures ``app`` and ``client`` and the factories come from ``core.testing``, HCRM's pytest
plugin, installed with ``hcrm``.
"""
import pytest

from core.tenancy import hospital_scope
from core.testing import login, make_hospital, make_user
from plugins.patients import services as patients

PLUGINS = ["patients", "hotline"]
PHONE = "13812345678"


def sign_in(client, username):
    """Log in and switch to the English UI, whose messages the assertions read."""
    login(client, username)
    client.post("/language", data={"locale": "en"})


def add_patient(hospital_id, name="张三", phone=PHONE):
    with hospital_scope(hospital_id):
        return patients.create_patient({"name": name, "phone": phone}, allow_duplicate=True).id


@pytest.fixture
def clinic(app):
    """Hospitals A and B with the hotline; A has the patient 张三 (PHONE)."""
    with app.app_context():
        a, b = make_hospital("A", plugins=PLUGINS), make_hospital("B", plugins=PLUGINS)
        make_user(a, "a_staff", ("staff",))
        make_user(a, "a_admin", ("super_admin",))
        make_user(a, "a_analyst", ("analyst",))
        make_user(b, "b_admin", ("super_admin",))
        ids = {"a": a.id, "b": b.id, "patient": add_patient(a.id)}
    return ids
