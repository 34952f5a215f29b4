"""Demonstration patients for `hcrm init --demo`."""


def load(hospital) -> None:
    return None
