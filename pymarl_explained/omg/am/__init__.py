"""Agent models (the OMG fork's ``modules/am``), by the name used in an algorithm's ``am_model`` key.

An agent model tells an agent something about the *other* agents; its output is appended,
detached, to that agent's network input by ``multi_module_mac``.

- ``none_am``: nothing (the default of every algorithm);
- ``base_am``: a naive opponent model predicting every unit's action (``iql_am``);
- ``omg_am``: OMG's subgoal inference, a VAE prior + a conditional VAE (``iql_omg``).

Reconstruction note: the OMG fork's code is not public; these modules are this package's
reconstruction from the paper and the fork's description (see each module's docstring).
"""

from pymarl_explained.omg.am.base_am import BaseAM
from pymarl_explained.omg.am.none_am import AgentModel, NoneAM
from pymarl_explained.omg.am.omg_am import OMGAM
from pymarl_explained.utils.registry import Registry

REGISTRY = Registry("am_model", {"none_am": NoneAM, "base_am": BaseAM, "omg_am": OMGAM})
am_REGISTRY = REGISTRY

__all__ = ["REGISTRY", "am_REGISTRY", "AgentModel", "NoneAM", "BaseAM", "OMGAM"]
