"""Exceptions with actionable messages.

Every error that a user can cause (a typo in a config name, a wrong override, a missing
StarCraft II install, an illegal action) is raised as a subclass of :class:`PymarlError`.
The command line catches these and prints the message alone, without a traceback from deep
inside the package.
"""

from __future__ import annotations


class PymarlError(Exception):
    """Base class of every user-facing error of pymarl_explained."""


class ConfigError(PymarlError, ValueError):
    """A config name, key or value is wrong (unknown --config, typo in an override, bad type)."""


class EnvironmentSetupError(PymarlError, RuntimeError):
    """An environment cannot be built (unknown map, StarCraft II or SMAC missing, wrong package)."""


class InvalidActionError(PymarlError, ValueError):
    """An agent was given an action it may not take (wrong count, unavailable action)."""


class CheckpointError(PymarlError, RuntimeError):
    """A checkpoint is missing or does not match the model it is loaded into."""
