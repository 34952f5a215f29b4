"""Helpers of the hotline's tests (a module of its own: ``conftest`` is not importable by name
when several test folders run together)."""
from core.tenancy import hospital_scope
from core.testing import login
from plugins.patients.testing import make_patient

PLUGINS = ["patients", "hotline"]
PHONE = "13812345678"


def sign_in(client, username):
    """Log in and switch to the English UI, whose messages the assertions read."""
    login(client, username)
    client.post("/language", data={"locale": "en"})


def add_patient(hospital_id, name="张三", phone=PHONE):
    """A patient of the hospital, made by the patients plugin's test factory; returns its id."""
    patient = make_patient(hospital_id, name=name, phone=phone)
    with hospital_scope(hospital_id):
        return patient.id
