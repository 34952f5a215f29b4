"""Reports and dashboard cards of the patients plugin."""


def reports() -> list:
    return []


def widgets() -> list:
    return []
