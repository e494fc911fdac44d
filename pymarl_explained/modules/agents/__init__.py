"""Agent networks, by the name used in the config's ``agent`` key."""

from pymarl_explained.modules.agents.rnn_agent import RNNAgent
from pymarl_explained.utils.registry import Registry

REGISTRY = Registry("agent", {"rnn": RNNAgent})

__all__ = ["REGISTRY", "RNNAgent"]
