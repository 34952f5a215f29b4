"""The followup plugin's `outreach` part: its declarations, gathered by plugins/followup/__init__.py.

Each function returns this part's share (lists of core.declarations objects); the work lives in
the part's services modules.
"""


def permissions():
    return []


def menus():
    return []


def blueprints():
    return []


def reports():
    return []


def widgets():
    return []


def panels():
    return []


def jobs():
    return []


def cli_commands(cli):
    """Add this part's commands to the hcrm CLI group (see core.hookspecs.hcrm_cli_commands)."""


def enable(hospital):
    """Seed this part's defaults for a hospital the plugin is enabled for (idempotent)."""


def demo_data(hospital):
    """Add demo rows for `hcrm init --demo`."""


def patient_merged(source, target):
    """Move this part's rows from the merged duplicate ``source`` to ``target``."""
def hookspecs():
    """The hooks this plugin publishes (the SMS gateway hook), or None."""
    return None
