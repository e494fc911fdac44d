"""The OMG fork, reconstructed, as a plug-in of the PyMARL core.

**Reconstruction.** The OMG fork ("Opponent Modeling based on Subgoal Inference", Yu, Jiang and
Lu, NeurIPS 2024) is described by the OMG batch-sizing notes and the package layout notes, but
its code is not public. Everything in this package is this project's reconstruction from those
descriptions and the paper; each module says what is quoted and what is inferred.

How it plugs in: importing this package registers its parts in the core's registries, under the
names the fork's configs use, so ``--config=2iql1qmix1iql_omg --multi_algs`` works as a command
line and the core (``run.py``, ``main.py``, ``utils/``, the core controllers and learners) never
names OMG:

==========================  =========================================================
core registry               what this package adds
==========================  =========================================================
``controllers.REGISTRY``    ``multi_module_mac`` (:mod:`.controller`)
``learners.REGISTRY``       ``am_learner``, ``q_learner_4am``, ``omg_learner``
``modules.agents.REGISTRY`` ``idv_rnn`` (one network per agent)
``run.LOOP_REGISTRY``       ``omg``: the fork's batch sizing (:mod:`.loop`)
config folders              ``omg/config/algs/*.yaml`` (composites, ``iql_omg``...)
config hooks                :func:`.multi_algs.expand_multi_algs` (``--multi_algs``)
==========================  =========================================================

The package is declared as an entry point of the group ``pymarl_explained.plugins`` in
``pyproject.toml``; :func:`pymarl_explained.plugins.load_plugins` imports it the first time a
config is built or a registry is asked for a name it does not know.
"""

from __future__ import annotations

from pathlib import Path

from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
from pymarl_explained.learners import REGISTRY as le_REGISTRY
from pymarl_explained.modules.agents import REGISTRY as agent_REGISTRY
from pymarl_explained.omg.controller import MultiModuleMAC
from pymarl_explained.omg.learners.am_learner import AMLearner
from pymarl_explained.omg.learners.omg_learner import OMGLearner
from pymarl_explained.omg.learners.q_learner_4am import QLearner4AM
from pymarl_explained.omg.loop import OMGTrainingLoop
from pymarl_explained.omg.modules.idv_rnn_agent import IdvRNNAgent
from pymarl_explained.omg.multi_algs import expand_multi_algs
from pymarl_explained.run import LOOP_REGISTRY
from pymarl_explained.utils.config_utils import register_config_dir, register_config_hook

CONFIG_DIR = Path(__file__).resolve().parent / "config"

mac_REGISTRY.register("multi_module_mac", MultiModuleMAC)  # one algorithm per agent slot
le_REGISTRY.register("am_learner", AMLearner)  # pre-trains the VAE prior
le_REGISTRY.register("q_learner_4am", QLearner4AM)  # IQL ego on enlarged batches
le_REGISTRY.register("omg_learner", OMGLearner)
agent_REGISTRY.register("idv_rnn", IdvRNNAgent)  # no parameter sharing
LOOP_REGISTRY.register("omg", OMGTrainingLoop())
register_config_dir(CONFIG_DIR)
register_config_hook(expand_multi_algs)

__all__ = ["AMLearner", "IdvRNNAgent", "MultiModuleMAC", "OMGLearner", "OMGTrainingLoop", "QLearner4AM"]
