"""Demo articles (hcrm init --demo)."""


def demo_data(hospital):
    return None
