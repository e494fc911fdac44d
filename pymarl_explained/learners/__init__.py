"""Learners, by the name used in the config's ``learner`` key."""

from pymarl_explained.learners.am_learner import AMLearner  # OMG fork
from pymarl_explained.learners.coma_learner import COMALearner
from pymarl_explained.learners.omg_learner import OMGLearner  # OMG fork
from pymarl_explained.learners.q_learner import QLearner
from pymarl_explained.learners.q_learner_4am import QLearner4AM  # OMG fork
from pymarl_explained.learners.qtran_learner import QTranLearner

REGISTRY = {"q_learner": QLearner}
REGISTRY["coma_learner"] = COMALearner
REGISTRY["qtran_learner"] = QTranLearner
REGISTRY["am_learner"] = AMLearner  # OMG fork: pre-trains the VAE prior
REGISTRY["q_learner_4am"] = QLearner4AM  # OMG fork: IQL ego on enlarged batches
REGISTRY["omg_learner"] = OMGLearner  # OMG fork

__all__ = ["REGISTRY", "QLearner"]
__all__ += ["COMALearner", "QTranLearner"]
__all__ += ["AMLearner", "OMGLearner", "QLearner4AM"]
