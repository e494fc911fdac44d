"""Sizes and offsets of SMAC's observation and state vectors.

SMAC builds an agent's observation as four blocks, in this order:

* move features: the four move-availability bits (+ 8 pathing values with ``obs_pathing_grid``,
  + 9 terrain heights with ``obs_terrain_height``);
* one row per enemy: ``[attack available, distance, dx, dy]`` (+ ``health`` and, when the enemies
  are Protoss, ``shield`` with ``obs_all_health``) + the unit-type one-hot (``unit_type_bits``);
* one row per other ally: ``[visible, distance, dx, dy]`` (+ ``health`` and, agents Protoss,
  ``shield``) + the unit-type one-hot (+ the ally's last action one-hot with ``obs_last_action``);
* own features: ``[health]`` (+ ``shield`` for Protoss agents) with ``obs_own_health``, then the
  agent's own unit-type one-hot;

With the defaults this is ``4 + E(5 + b + sE) + (A-1)(5 + b + sA) + (1 + sA + b)`` (marine maps:
``4 + 5E + 5(A-1) + 1``). As in SMAC, ``obs_all_health=True`` forces ``obs_own_health`` on.

``obs_timestep_number`` (a documented deviation): SMAC's ``get_obs_size`` counts one extra own
feature, but its ``get_obs_agent`` leaves that slot 0 and appends ``t / limit`` after it, so SMAC's
vector is one element longer than the size it declares. Here the vector has exactly the declared
size and ``t / limit`` is its last element (the slot SMAC reserves).

The state is one row per ally ``[health, cooldown (medivac: energy), x, y]`` (+ ``shield``) + the
one-hot, one row per enemy ``[health, x, y]`` (+ ``shield``) + the one-hot, then every agent's last
action one-hot (``state_last_action``) and the normalised time step (``state_timestep_number``):
``A(4 + sA + b) + E(3 + sE + b) + A(6 + E)`` with the defaults. With ``obs_instead_of_state`` the
state is the concatenation of all observations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_ACTIONS_NO_ATTACK = 6
"""no-op, stop, move north, south, east, west; attack (medivac: heal) actions follow."""
N_OBS_PATHING = 8
"""Pathing values around the agent added by ``obs_pathing_grid``."""
N_OBS_HEIGHT = 9
"""Terrain heights (8 around the agent + its own cell) added by ``obs_terrain_height``."""


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
    unit_type_bits: int = 0
    shield_bits_ally: int = 0
    shield_bits_enemy: int = 0
    obs_own_health: bool = True
    obs_pathing: bool = False
    obs_height: bool = False

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
    def ally_state_feat(self) -> int:
        return 4 + self.shield_bits_ally + self.unit_type_bits

    @property
    def enemy_state_feat(self) -> int:
        return 3 + self.shield_bits_enemy + self.unit_type_bits

    @property
    def state_size(self) -> int:
        if self.obs_instead_of_state:
            return self.obs_size * self.n_agents
        size = self.n_agents * self.ally_state_feat + self.n_enemies * self.enemy_state_feat
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
                int(self.obs_pathing),
                int(self.obs_height),
                self.unit_type_bits,
                self.shield_bits_ally,
                self.shield_bits_enemy,
                int(self.obs_own_health),
                self.ally_state_feat,
                self.enemy_state_feat,
            ],
            dtype=np.int64,
        )


def make_layout(n_agents: int, n_enemies: int, args: dict, unit_type_bits: int = 0,
                shield_bits_ally: int = 0, shield_bits_enemy: int = 0) -> FeatureLayout:
    """Compute the layout from the map's numbers and SMAC's ``obs_*``/``state_*`` flags."""
    n_actions = N_ACTIONS_NO_ATTACK + n_enemies
    all_health = bool(args["obs_all_health"])
    own_health = bool(args["obs_own_health"]) or all_health  # SMAC: all health forces own health
    b = unit_type_bits
    move = 4 + (N_OBS_PATHING if args["obs_pathing_grid"] else 0) + (N_OBS_HEIGHT if args["obs_terrain_height"] else 0)
    return FeatureLayout(
        n_agents=n_agents,
        n_enemies=n_enemies,
        n_actions=n_actions,
        move_size=move,
        enemy_feat=4 + b + ((1 + shield_bits_enemy) if all_health else 0),
        ally_feat=4 + b + ((1 + shield_bits_ally) if all_health else 0)
        + (n_actions if args["obs_last_action"] else 0),
        own_feat=b + ((1 + shield_bits_ally) if own_health else 0),
        obs_timestep=bool(args["obs_timestep_number"]),
        state_last_action=bool(args["state_last_action"]),
        state_timestep=bool(args["state_timestep_number"]),
        obs_instead_of_state=bool(args["obs_instead_of_state"]),
        obs_all_health=all_health,
        obs_last_action=bool(args["obs_last_action"]),
        unit_type_bits=b,
        shield_bits_ally=shield_bits_ally,
        shield_bits_enemy=shield_bits_enemy,
        obs_own_health=own_health,
        obs_pathing=bool(args["obs_pathing_grid"]),
        obs_height=bool(args["obs_terrain_height"]),
    )
