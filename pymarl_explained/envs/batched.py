"""``BatchedMarineEnv``: B built-in SMAC battles stepped in lockstep, for the parallel runner.

(The name is historical: it plays every map of :data:`pymarl_explained.envs.maps.MAPS`, marines or not.)

All per-step work happens in the numba kernels of :mod:`pymarl_explained.envs.kernels`, which loop
over the B environments and their units in compiled code: there is no per-environment Python
work. Environment ``i`` of a batch created with seed ``s`` behaves exactly like a single
environment created with seed ``s + i`` (PyMARL gives every worker the same seed, a known defect;
adding the index fixes it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from pymarl_explained.errors import EnvironmentSetupError, InvalidActionError

from . import kernels as K
from .args import complete_env_args
from .layout import make_layout
from .maps import MAP_SIZE
from .scenario import build_scenario

ACTION_NAMES = ("no-op", "stop", "move north", "move south", "move east", "move west")


def action_name(action: int) -> str:
    """Human-readable name of a SMAC action id (``attack enemy 2`` for id 8)."""
    if 0 <= action < len(ACTION_NAMES):
        return ACTION_NAMES[action]
    return f"attack enemy {action - len(ACTION_NAMES)}"


def is_integer_dtype(dtype: np.dtype) -> bool:
    """``np.issubdtype(dtype, np.integer)`` (which counts timedelta64 as an integer type), in a tenth
    of its time: every step checks its actions with it."""
    return dtype.kind in "ium"


def seed_to_rng_state(seed: int) -> np.uint64:
    """Initial state of an environment's splitmix64 generator, derived from its integer seed."""
    return np.random.SeedSequence(int(seed)).generate_state(1, np.uint64)[0]


class BatchedMarineEnv:
    """B independent SMAC battles with SMAC's rules, as ``[B, ...]`` numpy arrays.

    Args:
        n_envs: number of environments B.
        seed: base seed; environment i uses ``seed + i``. ``None`` draws a random base seed.
        **smac_kwargs: SMAC's ``StarCraft2Env`` arguments (``map_name``, ``step_mul``, ...).
    """

    def __init__(self, n_envs: int, seed: int | None = None, **smac_kwargs: Any) -> None:
        if isinstance(n_envs, bool) or not isinstance(n_envs, int | np.integer) or n_envs < 1:
            raise EnvironmentSetupError(f"n_envs must be a positive integer, got {n_envs!r}.")
        if "seed" in smac_kwargs:
            if seed is not None and smac_kwargs["seed"] is not None and seed != smac_kwargs["seed"]:
                raise EnvironmentSetupError("seed given twice with different values.")
            seed = seed if seed is not None else smac_kwargs.pop("seed")
            smac_kwargs.pop("seed", None)
        args = complete_env_args(smac_kwargs)
        _check_supported(args)
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0] >> 1)
        args["seed"] = int(seed)
        self.env_args = args
        self.seed_value = int(seed)
        self.map_name: str = args["map_name"]
        self.scenario = build_scenario(self.map_name)
        sc = self.scenario
        self.map_params = mp = sc.params
        self.n_envs = int(n_envs)
        self.n_agents = mp.n_agents
        self.n_enemies = mp.n_enemies
        self.n_actions = 6 + mp.n_enemies
        self.episode_limit = mp.limit
        self.unit_type_names = [t.name for t in sc.unit_types]
        """Unit type of every unit (agents' ``_RL`` names, then the enemies' stock names)."""
        self.layout = make_layout(mp.n_agents, mp.n_enemies, args, mp.unit_type_bits,
                                  mp.shield_bits_ally, mp.shield_bits_enemy)
        self._lay = self.layout.as_array()
        enemy_max = float(sum(sc.uprop[mp.n_agents:, K.P_HP_MAX] + sc.uprop[mp.n_agents:, K.P_SH_MAX]))
        self.max_reward = mp.n_enemies * args["reward_death_value"] + args["reward_win"] + enemy_max
        self._cfg = self._make_cfg(args)
        self.uniform = bool(self._cfg[K.C_UNIFORM])
        """Whether the kernels specialised for maps of one plain unit type (``kernels.C_UNIFORM``: the
        marine maps) run instead of the general ones. They give identical results, faster; the tests
        set this to False on one of two twin environments to check it."""
        self._grid_obs = bool(self._lay[K.L_PATHING] or self._lay[K.L_HEIGHT])
        B, N, A = self.n_envs, mp.n_agents + mp.n_enemies, mp.n_agents
        self.pos = np.zeros((B, N, 2))
        self.hp = np.zeros((B, N))
        self.sh = np.zeros((B, N))
        self.en = np.zeros((B, N))
        self.cd = np.zeros((B, N))
        self.calm = np.zeros((B, N))
        self.order = np.zeros((B, N), np.int64)
        self.goal = np.zeros((B, N, 2))
        self.target = np.full((B, N), -1, np.int64)
        self.shots = np.zeros((B, N), np.int64)
        self.prev_hp = np.zeros((B, N))
        self.dead_seen = np.zeros((B, N), np.bool_)
        self.last_action = np.full((B, A), -1, np.int64)
        self.ep_step = np.zeros(B, np.int64)
        self.stats = np.zeros((B, 3), np.int64)
        self.done = np.zeros(B, np.bool_)
        self.rng = np.array([seed_to_rng_state(self.seed_value + i) for i in range(B)], np.uint64)
        self._out_reward = np.zeros(B)
        self._out = [np.zeros(B, np.bool_) for _ in range(3)] + [np.zeros(B, np.int64) for _ in range(2)]
        self._obs = self._state = self._avail = None
        self.reset()

    @property
    def health_max(self) -> np.ndarray:
        """Maximum health of every unit ``[N]``."""
        return self.scenario.uprop[:, K.P_HP_MAX]

    @property
    def shield_max(self) -> np.ndarray:
        """Maximum shield of every unit ``[N]``."""
        return self.scenario.uprop[:, K.P_SH_MAX]

    def _make_cfg(self, args: dict) -> np.ndarray:
        mp, sc = self.map_params, self.scenario
        spread = args.get("builtin_spawn_spread")
        cfg = np.zeros(K.N_CFG)
        cfg[K.C_SPREAD] = mp.spawn_spread if spread is None else float(spread)
        cfg[K.C_ORDER_KIND] = sc.order_kind
        cfg[[K.C_ORDER_X0, K.C_ORDER_Y0, K.C_ORDER_X1, K.C_ORDER_Y1]] = sc.order_points.ravel()
        acquire = args.get("builtin_acquire_range")
        cfg[K.C_ACQUIRE] = -1.0 if acquire is None else float(acquire)
        cfg[K.C_PURSUIT] = bool(args.get("builtin_enemy_pursuit", True))
        cfg[K.C_MMM] = mp.map_type == "MMM"
        cfg[K.C_MAP_X] = MAP_SIZE
        cfg[K.C_MAP_Y] = MAP_SIZE
        cfg[K.C_NAVIGATE] = sc.terrain.navigate
        cfg[[K.C_PATH_X0, K.C_PATH_X1, K.C_PATH_Y0, K.C_PATH_Y1]] = sc.terrain.pbox
        for index, on in sc.flags.items():
            cfg[index] = on
        cfg[K.C_STEP_MUL] = int(args["step_mul"])
        cfg[K.C_MOVE_AMOUNT] = args["move_amount"]
        cfg[K.C_LIMIT] = mp.limit
        cfg[K.C_CONTINUING] = bool(args["continuing_episode"])
        cfg[K.C_DEATH_VALUE] = args["reward_death_value"]
        cfg[K.C_WIN] = args["reward_win"]
        cfg[K.C_DEFEAT] = args["reward_defeat"]
        cfg[K.C_NEG_SCALE] = args["reward_negative_scale"]
        cfg[K.C_ONLY_POSITIVE] = bool(args["reward_only_positive"])
        cfg[K.C_SPARSE] = bool(args["reward_sparse"])
        cfg[K.C_SCALE] = bool(args["reward_scale"])
        cfg[K.C_SCALE_DIVISOR] = self.max_reward / args["reward_scale_rate"]
        return cfg

    # ------------------------------------------------------------------------------------------
    def reset(self, mask: np.ndarray | None = None) -> None:
        """Start new episodes in all environments, or only where ``mask`` is True."""
        mask = np.ones(self.n_envs, np.bool_) if mask is None else self._bool_array(mask, "mask")
        sc = self.scenario
        K.reset_kernel(mask, self.pos, self.hp, self.sh, self.en, self.cd, self.calm, self.order, self.goal,
                       self.target, self.shots, self.prev_hp, self.dead_seen, self.last_action, self.ep_step,
                       self.rng, self._cfg, sc.uprop, sc.terrain.walk, sc.group_points, sc.unit_group,
                       sc.unit_offset, sc.spawn_order, sc.ally_block, self.n_agents)
        self.done[mask] = False
        self._observe()

    def step(self, actions: np.ndarray, active: np.ndarray | None = None) -> tuple:
        """Step every active environment (default: those not terminated yet) with ``actions [B, A]``.

        Returns ``(reward float32 [B], terminated bool [B], info)`` where ``info`` holds
        ``battle_won``, ``dead_allies``, ``dead_enemies`` arrays (and ``episode_limit`` with
        ``continuing_episode``). Inactive environments report reward 0 and terminated False.
        """
        actions = np.asarray(actions)
        if actions.shape != (self.n_envs, self.n_agents) or not is_integer_dtype(actions.dtype):
            raise InvalidActionError(
                f"actions must be an integer array of shape ({self.n_envs}, {self.n_agents}) "
                f"[envs, agents], got shape {actions.shape} and dtype {actions.dtype}."
            )
        actions = actions.astype(np.int64, copy=False)
        active = ~self.done if active is None else self._bool_array(active, "active")
        sc = self.scenario
        tr = sc.terrain
        if self.uniform:
            b, i, code = K.uniform_validate_kernel(actions, active, self.pos, self.hp, self._cfg, self.n_agents,
                                                   self.n_actions)
        else:
            b, i, code = K.validate_kernel(actions, active, self.pos, self.hp, sc.uprop, tr.pathing, self.n_agents,
                                           self.n_actions, float(self._cfg[K.C_MOVE_AMOUNT]))
        if code:
            raise self._action_error(b, i, int(actions[b, i]), code)
        won, term, limit, dead_a, dead_e = self._out
        if self.uniform:
            K.uniform_step_kernel(actions, active, self.pos, self.hp, self.sh, self.cd, self.order, self.goal,
                                  self.target, self.shots, self.prev_hp, self.dead_seen, self.last_action,
                                  self.ep_step, self.stats, self._cfg, sc.uprop, tr.wbox, self.n_agents,
                                  self._out_reward, term, won, dead_a, dead_e, limit)
        else:
            K.step_kernel(actions, active, self.pos, self.hp, self.sh, self.en, self.cd, self.calm, self.order,
                          self.goal, self.target, self.shots, self.prev_hp, self.dead_seen, self.last_action,
                          self.ep_step, self.stats, self._cfg, sc.uprop, sc.pair, tr.walk, tr.wbox, tr.clear,
                          tr.dist, self.n_agents, self._out_reward, term, won, dead_a, dead_e, limit)
        self.done |= term
        self._observe()
        info = {"battle_won": won.copy(), "dead_allies": dead_a.copy(), "dead_enemies": dead_e.copy()}
        if self.env_args["continuing_episode"]:
            info["episode_limit"] = limit.copy()
        return self._out_reward.astype(np.float32), term.copy(), info

    @property
    def reward64(self) -> np.ndarray:
        """The last step's rewards in float64 (``step`` returns them as float32)."""
        return self._out_reward

    def _observe(self) -> None:
        B, A = self.n_envs, self.n_agents
        self._obs = np.empty((B, A, self.layout.obs_size), np.float32)
        self._state = np.empty((B, self.layout.state_size), np.float32)
        self._avail = np.empty((B, A, self.n_actions), np.int64)
        sc = self.scenario
        if self.uniform and not self._grid_obs:
            K.uniform_observe_kernel(self.pos, self.hp, self.cd, self.last_action, self.ep_step, self._cfg,
                                     self._lay, sc.uprop, A, self.n_actions, self._obs, self._state, self._avail)
        else:
            K.observe_kernel(self.pos, self.hp, self.sh, self.en, self.cd, self.last_action, self.ep_step,
                             self._cfg, self._lay, sc.uprop, sc.terrain.pathing, sc.terrain.height, A,
                             self.n_actions, self._obs, self._state, self._avail)

    def set_units(
        self,
        ally_pos: Any = None,
        enemy_pos: Any = None,
        ally_health: Any = None,
        enemy_health: Any = None,
        ally_cooldown: Any = None,
        enemy_cooldown: Any = None,
        ally_shield: Any = None,
        enemy_shield: Any = None,
        ally_energy: Any = None,
        enemy_energy: Any = None,
        env: int = 0,
    ) -> None:
        """Place units by hand in environment ``env`` (for tests, notebooks and what-if studies).

        Positions are ``[(x, y), ...]`` in map coordinates, one row per ally/enemy in id order;
        health, shield and energy are absolute (a marine's 45 is full health, 0 health places a dead
        unit; values are clipped to the unit's maxima); cooldown is in game loops. Anything left as
        ``None`` keeps its current value. Afterwards every agent idles, every enemy is on its order
        with no target yet, a unit placed dead counts as already dead (no kill reward), shields
        regenerate only after the usual delay, and the observations are recomputed.
        """
        A, N = self.n_agents, self.n_agents + self.n_enemies
        sides = ((slice(0, A), A), (slice(A, N), self.n_enemies))
        hp_max, sh_max = self.health_max, self.shield_max
        en_max = self.scenario.uprop[:, K.P_EN_MAX]
        for (sl, n), p, h, c, s_, e_ in zip(sides, (ally_pos, enemy_pos), (ally_health, enemy_health),
                                            (ally_cooldown, enemy_cooldown), (ally_shield, enemy_shield),
                                            (ally_energy, enemy_energy), strict=True):
            if p is not None:
                self.pos[env, sl] = _checked(p, (n, 2), "positions")
            if h is not None:
                self.hp[env, sl] = np.clip(_checked(h, (n,), "health"), 0.0, hp_max[sl])
            if c is not None:
                self.cd[env, sl] = _checked(c, (n,), "cooldown")
            if s_ is not None:
                self.sh[env, sl] = np.clip(_checked(s_, (n,), "shield"), 0.0, sh_max[sl])
            if e_ is not None:
                self.en[env, sl] = np.clip(_checked(e_, (n,), "energy"), 0.0, en_max[sl])
        self.sh[env] = np.where(self.hp[env] > 0, self.sh[env], 0.0)
        self.order[env, :A] = K.IDLE
        self.order[env, A:] = K.ATTACK_MOVE
        self.target[env] = -1
        self.goal[env, :A] = self.pos[env, :A]
        self.calm[env] = 0.0
        self.prev_hp[env] = self.hp[env] + self.sh[env]
        self.dead_seen[env] = self.hp[env] <= 0
        self.done[env] = False
        self._observe()

    # ------------------------------------------------------------------------------------------
    def get_obs(self) -> np.ndarray:
        """Observations, float32 ``[B, n_agents, obs_size]`` (a fresh array after every step)."""
        return self._obs

    def get_state(self) -> np.ndarray:
        """Global states, float32 ``[B, state_size]``."""
        return self._state

    def get_avail_actions(self) -> np.ndarray:
        """Availability masks, int ``[B, n_agents, n_actions]``."""
        return self._avail

    def get_obs_size(self) -> int:
        return self.layout.obs_size

    def get_state_size(self) -> int:
        return self.layout.state_size

    def get_total_actions(self) -> int:
        return self.n_actions

    def get_env_info(self) -> dict:
        """SMAC's ``get_env_info`` dictionary (the same for every environment of the batch)."""
        return env_info(self)

    def get_stats(self) -> dict:
        """SMAC's ``get_stats`` summed over the batch (``battles_draw`` counts time-outs, as in SMAC)."""
        won, games, timeouts = (int(v) for v in self.stats.sum(axis=0))
        return {
            "battles_won": won,
            "battles_game": games,
            "battles_draw": timeouts,
            "win_rate": won / games if games else 0.0,
            "timeouts": timeouts,
            "restarts": 0,
        }

    def close(self) -> None:
        """Nothing to release (kept for the MultiAgentEnv interface)."""

    # ------------------------------------------------------------------------------------------
    def _bool_array(self, value: Any, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.bool_)
        if arr.shape != (self.n_envs,):
            raise InvalidActionError(f"{name} must have shape ({self.n_envs},), got {arr.shape}.")
        return arr

    def _action_error(self, b: int, i: int, action: int, code: int) -> InvalidActionError:
        avail = np.flatnonzero(self._avail[b, i]).tolist()
        names = ", ".join(f"{a} ({action_name(a)})" for a in avail)
        where = f"env {b}, agent {i}" if self.n_envs > 1 else f"agent {i}"
        if code == 1:
            return InvalidActionError(
                f"{where}: action {action} is out of range 0..{self.n_actions - 1}. Available: {names}."
            )
        state = "dead" if self.hp[b, i] <= 0 else "alive"
        return InvalidActionError(
            f"{where} ({state}) cannot take action {action} ({action_name(action)}); "
            f"available actions: {names}."
        )


def env_info(env: Any) -> dict:
    """SMAC's ``get_env_info`` for a built-in environment (single or batched)."""
    lay = env.layout
    bits = [f"type_{k}" for k in range(lay.unit_type_bits)]
    return {
        "state_shape": lay.state_size,
        "obs_shape": lay.obs_size,
        "n_actions": env.n_actions,
        "n_agents": env.n_agents,
        "episode_limit": env.episode_limit,
        "agent_features": ["health", "energy/cooldown", "rel_x", "rel_y"]
        + ["shield"] * lay.shield_bits_ally + bits,
        "enemy_features": ["health", "rel_x", "rel_y"] + ["shield"] * lay.shield_bits_enemy + bits,
    }


def _checked(value: Any, shape: tuple, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=float)
    if arr.shape != shape:
        raise ValueError(f"set_units: {what} must have shape {shape}, got {arr.shape}.")
    return arr


def _check_supported(args: dict) -> None:
    """Reject the few SMAC options the built-in simulator cannot honour (instead of ignoring them)."""
    if args["heuristic_ai"]:
        raise EnvironmentSetupError(
            "heuristic_ai=True (SMAC's scripted agents) is not implemented by the built-in "
            "simulator; use backend='starcraft' or set heuristic_ai=False."
        )
