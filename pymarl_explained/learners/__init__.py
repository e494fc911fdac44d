"""Learners, by the name used in the config's ``learner`` key."""

from pymarl_explained.learners.q_learner import QLearner

REGISTRY = {"q_learner": QLearner}

__all__ = ["REGISTRY", "QLearner"]
