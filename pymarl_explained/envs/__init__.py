"""Environments: SMAC's battles (all 23 of SMAC's maps and the MarineMicro maps), built in (no
StarCraft II needed) or on the real game.

``REGISTRY["sc2"](**env_args)`` is what PyMARL's runners call. ``env_args`` are SMAC's
``StarCraft2Env`` arguments plus ``backend`` ("auto", "builtin" or "starcraft") and the built-in
simulator's own options (``builtin_spawn_spread``, ``builtin_acquire_range``,
``builtin_enemy_pursuit``; see :data:`pymarl_explained.envs.args.BUILTIN_DEFAULTS`).
"""

from __future__ import annotations

from .backend import make_batched_env, make_env, resolve_backend
from .batched import BatchedMarineEnv
from .maps import MAPS, get_map_params
from .marine_env import MarineBattleEnv
from .multiagentenv import MultiAgentEnv

REGISTRY = {"sc2": make_env}
"""Environment factories by name, as in PyMARL's ``envs/__init__.py``."""

__all__ = [
    "MAPS",
    "REGISTRY",
    "BatchedMarineEnv",
    "MarineBattleEnv",
    "MultiAgentEnv",
    "get_map_params",
    "make_batched_env",
    "make_env",
    "resolve_backend",
]
