"""Fixtures of the hotline's tests: two hospitals with the hotline, their users, a patient.

The fixtures ``app`` and ``client`` and the factories come from ``core.testing``, HCRM's pytest
plugin, installed with ``hcrm``.
"""
import pytest
from hotline_testing import PLUGINS, add_patient

from core.testing import make_hospital, make_user


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
