from core.testing import PluginContract


class TestContract(PluginContract):
    plugin = "knowledge_base"
