"""Sizes and offsets of SMAC's observation and state vectors for the marine maps.

SMAC builds an agent's observation as four blocks, in this order:

* move features: the four move-availability bits (+ 8 pathing bits with ``obs_pathing_grid``);
* one row per enemy: ``[attack available, distance, dx, dy]`` (+ ``health`` with ``obs_all_health``);
* one row per other ally: ``[visible, distance, dx, dy]`` (+ ``health``; + the ally's last action
  one-hot with ``obs_last_action``);
* own features: ``[health]`` with ``obs_own_health``;

then ``episode_step / episode_limit`` with ``obs_timestep_number``. With the defaults this is
``4 + 5E + 5(A-1) + 1``.

The state is one row per ally ``[health, cooldown, x, y]``, one row per enemy ``[health, x, y]``,
then every agent's last action one-hot (``state_last_action``) and the normalised time step
(``state_timestep_number``): ``4A + 3E + A(6 + E)`` with the defaults. With
``obs_instead_of_state`` the state is the concatenation of all observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_ACTIONS_NO_ATTACK = 6
"""no-op, stop, move north, south, east, west; attack actions follow."""
N_OBS_PATHING = 8
"""Pathing bits around the agent added by ``obs_pathing_grid``."""


@dataclass(frozen=True)
class FeatureLayout:
    """Where each block of the observation and the state lives, for one map and one set of flags."""

    n_agents: int
    n_enemies: int
    n_actions: int
    move_size: int
    enemy_feat: int
    ally_feat: int
    own_feat: int
    obs_timestep: bool
    state_last_action: bool
    state_timestep: bool
    obs_instead_of_state: bool
    obs_all_health: bool
    obs_last_action: bool

    @property
    def enemy_offset(self) -> int:
        return self.move_size

    @property
    def ally_offset(self) -> int:
        return self.move_size + self.n_enemies * self.enemy_feat

    @property
    def own_offset(self) -> int:
        return self.ally_offset + (self.n_agents - 1) * self.ally_feat

    @property
    def obs_size(self) -> int:
        return self.own_offset + self.own_feat + int(self.obs_timestep)

    @property
    def state_size(self) -> int:
        if self.obs_instead_of_state:
            return self.obs_size * self.n_agents
        size = 4 * self.n_agents + 3 * self.n_enemies
        if self.state_last_action:
            size += self.n_agents * self.n_actions
        return size + int(self.state_timestep)

    def as_array(self) -> np.ndarray:
        """The integers the numba observation kernel needs, in a fixed order (see ``kernels``)."""
        return np.array(
            [
                self.move_size,
                self.enemy_feat,
                self.ally_feat,
                self.own_feat,
                int(self.obs_timestep),
                int(self.state_last_action),
                int(self.state_timestep),
                int(self.obs_instead_of_state),
                int(self.obs_all_health),
                int(self.obs_last_action),
                self.enemy_offset,
                self.ally_offset,
                self.own_offset,
                self.obs_size,
                self.state_size,
                int(self.move_size > 4),
            ],
            dtype=np.int64,
        )


def make_layout(n_agents: int, n_enemies: int, args: dict) -> FeatureLayout:
    """Compute the layout from the map's unit counts and SMAC's ``obs_*``/``state_*`` flags."""
    n_actions = N_ACTIONS_NO_ATTACK + n_enemies
    health = 1 if args["obs_all_health"] else 0
    return FeatureLayout(
        n_agents=n_agents,
        n_enemies=n_enemies,
        n_actions=n_actions,
        move_size=4 + (N_OBS_PATHING if args["obs_pathing_grid"] else 0),
        enemy_feat=4 + health,
        ally_feat=4 + health + (n_actions if args["obs_last_action"] else 0),
        own_feat=1 if args["obs_own_health"] else 0,
        obs_timestep=bool(args["obs_timestep_number"]),
        state_last_action=bool(args["state_last_action"]),
        state_timestep=bool(args["state_timestep_number"]),
        obs_instead_of_state=bool(args["obs_instead_of_state"]),
        obs_all_health=bool(args["obs_all_health"]),
        obs_last_action=bool(args["obs_last_action"]),
    )
