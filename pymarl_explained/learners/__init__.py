"""Learners, by the name used in the config's ``learner`` key."""

from pymarl_explained.learners.coma_learner import COMALearner
from pymarl_explained.learners.q_learner import QLearner
from pymarl_explained.learners.qtran_learner import QTranLearner

REGISTRY = {"q_learner": QLearner}
REGISTRY["coma_learner"] = COMALearner
REGISTRY["qtran_learner"] = QTranLearner

__all__ = ["REGISTRY", "QLearner"]
__all__ += ["COMALearner", "QTranLearner"]
