"""The plugin's menu items."""


def menu_items() -> list:
    return []
