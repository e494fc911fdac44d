"""SMAC's constructor arguments, their defaults, and their checking.

``StarCraft2Env(**env_args)`` in SMAC accepts exactly the keyword arguments listed in
:data:`SMAC_DEFAULTS`. The built-in simulator accepts the same ones (plus ``backend``) and keeps
every value in ``env.env_args``, even those that only mean something to the real game
(``difficulty``, ``game_version``, window size), so that a run's saved config says exactly what
was asked for.
"""

from __future__ import annotations

from typing import Any

from pymarl_explained.errors import EnvironmentSetupError

SMAC_DEFAULTS: dict[str, Any] = {
    "map_name": "8m",
    "step_mul": 8,
    "move_amount": 2,
    "difficulty": "7",
    "game_version": None,
    "seed": None,
    "continuing_episode": False,
    "obs_all_health": True,
    "obs_own_health": True,
    "obs_last_action": False,
    "obs_pathing_grid": False,
    "obs_terrain_height": False,
    "obs_instead_of_state": False,
    "obs_timestep_number": False,
    "state_last_action": True,
    "state_timestep_number": False,
    "reward_sparse": False,
    "reward_only_positive": True,
    "reward_death_value": 10,
    "reward_win": 200,
    "reward_defeat": 0,
    "reward_negative_scale": 0.5,
    "reward_scale": True,
    "reward_scale_rate": 20,
    "replay_dir": "",
    "replay_prefix": "",
    "window_size_x": 1920,
    "window_size_y": 1200,
    "heuristic_ai": False,
    "heuristic_rest": False,
    "debug": False,
}
"""Every keyword argument of SMAC's ``StarCraft2Env`` with its default value."""

BUILTIN_DEFAULTS: dict[str, Any] = {
    "builtin_spawn_spread": None,
    "builtin_acquire_range": None,
    "builtin_enemy_pursuit": True,
}
"""Options of the built-in simulator only (the real game ignores them; they are not passed to SMAC):

* ``builtin_spawn_spread``: half-width of a uniform random offset added to every spawn point at each
  reset (each unit then also jittered by up to 0.1). ``None`` = the map's default: 0 (SMAC's fixed
  map points) on SMAC's maps, 0.5 on MarineMicro maps (2.0 on their ``_dist`` variants).
* ``builtin_acquire_range``: how far an enemy without a target in weapon range looks for an agent
  to pursue. ``None`` = each unit's own sight range (marine 9, stalker 10, zergling 8, ...).
* ``builtin_enemy_pursuit``: whether enemies pursue agents in their acquisition range at all
  (False: they only shoot what is in weapon range and otherwise follow the map's order, as
  SMAClite's enemies do).
"""

BACKENDS = ("auto", "builtin", "starcraft")
"""Accepted values of the extra ``backend`` argument."""


def complete_env_args(env_args: dict[str, Any]) -> dict[str, Any]:
    """Return SMAC's defaults updated with ``env_args``, after checking names and simple types.

    The result always contains ``backend`` too. An unknown argument name is an error (it is
    most likely a typo), and so is an unknown backend.
    """
    unknown = sorted(set(env_args) - set(SMAC_DEFAULTS) - set(BUILTIN_DEFAULTS) - {"backend"})
    if unknown:
        raise EnvironmentSetupError(
            f"Unknown env_args {unknown}. The environment accepts SMAC's StarCraft2Env arguments "
            f"({', '.join(SMAC_DEFAULTS)}), 'backend' (one of {', '.join(BACKENDS)}) and the built-in "
            f"simulator's {', '.join(BUILTIN_DEFAULTS)}."
        )
    args = dict(SMAC_DEFAULTS)
    args.update(BUILTIN_DEFAULTS)
    args["backend"] = "auto"
    args.update(env_args)
    if args["backend"] not in BACKENDS:
        raise EnvironmentSetupError(
            f"env_args.backend={args['backend']!r} is not one of {', '.join(BACKENDS)}."
        )
    for name in ("step_mul", "move_amount"):
        value = args[name]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise EnvironmentSetupError(f"env_args.{name} must be a positive number, got {value!r}.")
    for name in ("builtin_spawn_spread", "builtin_acquire_range"):
        value = args[name]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
            raise EnvironmentSetupError(f"env_args.{name} must be null or a number >= 0, got {value!r}.")
    if not isinstance(args["builtin_enemy_pursuit"], bool):
        raise EnvironmentSetupError(
            f"env_args.builtin_enemy_pursuit must be true or false, got {args['builtin_enemy_pursuit']!r}.")
    if int(args["step_mul"]) != args["step_mul"]:
        raise EnvironmentSetupError(f"env_args.step_mul must be a whole number of game loops, "
                                    f"got {args['step_mul']!r}.")
    return args
