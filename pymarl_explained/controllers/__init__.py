"""Multi-agent controllers, by the name used in the config's ``mac`` key."""

from pymarl_explained.controllers.basic_controller import BasicMAC
from pymarl_explained.controllers.om_controller import MultiModuleMAC  # OMG fork

REGISTRY = {"basic_mac": BasicMAC}
REGISTRY["multi_module_mac"] = MultiModuleMAC  # OMG fork: one algorithm per agent slot

__all__ = ["REGISTRY", "BasicMAC", "MultiModuleMAC"]
