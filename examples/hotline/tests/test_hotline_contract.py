from core.testing import PluginContract


class TestContract(PluginContract):
    plugin = "hotline"
