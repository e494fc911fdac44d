"""Multi-agent controllers, by the name used in the config's ``mac`` key."""

from pymarl_explained.controllers.basic_controller import BasicMAC
from pymarl_explained.utils.registry import Registry

REGISTRY = Registry("mac", {"basic_mac": BasicMAC})

__all__ = ["REGISTRY", "BasicMAC"]
