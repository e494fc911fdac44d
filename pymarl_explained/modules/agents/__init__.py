"""Agent networks, by the name used in the config's ``agent`` key."""

from pymarl_explained.modules.agents.idv_rnn_agent import IdvRNNAgent  # OMG fork: no parameter sharing
from pymarl_explained.modules.agents.rnn_agent import RNNAgent

REGISTRY = {"rnn": RNNAgent}
REGISTRY["idv_rnn"] = IdvRNNAgent  # OMG fork

__all__ = ["REGISTRY", "RNNAgent", "IdvRNNAgent"]
