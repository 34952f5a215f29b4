"""Helpers of the hotline's tests (a module of its own: ``conftest`` is not importable by name
when several test folders run together)."""
from core.tenancy import hospital_scope
from core.testing import login
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
