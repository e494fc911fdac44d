"""Learners, by the name used in the config's ``learner`` key."""

from pymarl_explained.learners.coma_learner import COMALearner
from pymarl_explained.learners.q_learner import QLearner
from pymarl_explained.learners.qtran_learner import QTranLearner
from pymarl_explained.utils.registry import Registry

REGISTRY = Registry("learner", {"q_learner": QLearner})
REGISTRY["coma_learner"] = COMALearner
REGISTRY["qtran_learner"] = QTranLearner

__all__ = ["REGISTRY", "QLearner", "COMALearner", "QTranLearner"]
