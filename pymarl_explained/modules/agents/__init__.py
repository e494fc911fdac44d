"""Agent networks, by the name used in the config's ``agent`` key."""

from pymarl_explained.modules.agents.rnn_agent import RNNAgent

REGISTRY = {"rnn": RNNAgent}

__all__ = ["REGISTRY", "RNNAgent"]
