"""Critic networks of the actor-critic learners (COMA)."""

from pymarl_explained.modules.critics.coma import COMACritic

__all__ = ["COMACritic"]
