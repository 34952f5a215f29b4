"""Fixtures for the patients plugin's tests: two hospitals with the plugin, users, departments."""
import pytest

from core.testing import make_department, make_hospital, make_user
from plugins.patients.identity import ID_CHECK, ID_WEIGHTS


def check_digit(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_number(birth: str = "19900307", seq: str = "123") -> str:
    """A valid ID number for a birth date (YYYYMMDD); an odd ``seq`` is a man, even a woman."""
    first17 = "430621" + birth + seq
    return first17 + check_digit(first17)


@pytest.fixture
def clinic(app):
    """Hospitals A (patients live) and B (patients live) with an admin, staff and departments."""
    with app.app_context():
        a = make_hospital("A", "甲医院", plugins=["patients"])
        b = make_hospital("B", "乙医院", plugins=["patients"])
        ortho = make_department(a, "ORTH", "骨科")
        make_department(b, "ORTH", "骨科")
        make_user(a, "a_admin", ("super_admin",))
        make_user(a, "a_director", ("director",))
        make_user(a, "a_staff", ("staff",), department=ortho)
        make_user(b, "b_admin", ("super_admin",))
        ids = {"a": a.id, "b": b.id, "ortho": ortho.id}
    return ids
