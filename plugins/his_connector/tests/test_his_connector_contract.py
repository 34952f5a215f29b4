from core.testing import PluginContract


class TestContract(PluginContract):
    plugin = "his_connector"
