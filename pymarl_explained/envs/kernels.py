"""Numba kernels of the built-in marine battle simulator.

Everything that happens per step runs here, over arrays shaped ``[B, ...]`` (``B`` environments
stepped in lockstep; the single environment is ``B = 1``). Units are indexed ``0..A-1`` for the
agents (allies) and ``A..A+E-1`` for the enemies. The per-environment state is:

========== ================ ========================================================
array      shape, dtype     meaning
========== ================ ========================================================
pos        [B, N, 2] f8     unit centres (x, y)
hp         [B, N] f8        health, 0 for a dead unit
cd         [B, N] f8        weapon cooldown in game loops (<= 0: ready to fire)
order      [B, N] i8        IDLE, MOVE, ATTACK (agents) or ATTACK_MOVE (enemies)
goal       [B, N, 2] f8     point of a MOVE order (attack-move point for enemies)
target     [B, N] i8        unit attacked (ATTACK order, or an enemy's acquired target), -1 none
shots      [B, N] i8        shots fired during the last environment step (for replays)
prev_hp    [B, N] f8        health at the previous step (for SMAC's dense reward)
dead_seen  [B, N] bool      SMAC's death tracker: the death was already rewarded
last_action[B, A] i8        last action of each agent, -1 before the first step
ep_step    [B] i8           steps taken in the current episode
rng        [B] u8           state of each environment's own random generator (splitmix64)
stats      [B, 3] i8        battles won, battles played, time-outs
========== ================ ========================================================

``cfg`` is a float array of map and reward constants (indices ``C_*`` below) and ``lay`` the
integer feature layout of :meth:`pymarl_explained.envs.layout.FeatureLayout.as_array`.

One game loop (:func:`_game_loop`) is: every living unit decides from the positions at the start of
the loop (fire, or walk, or stand); all shots land at once (so both sides can die in the same
step); the walkers move; overlapping units are pushed apart; everyone is kept inside the pathable
band.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .maps import MAP_SIZE, PATHABLE_Y_MAX, PATHABLE_Y_MIN
from .units import (
    MARINE_COOLDOWN_LOOPS,
    MARINE_DAMAGE,
    MARINE_FIRE_RANGE,
    MARINE_HEALTH,
    MARINE_MAX_COOLDOWN,
    MARINE_RADIUS,
    MARINE_SPEED_PER_LOOP,
    SHOOT_RANGE,
    SIGHT_RANGE,
)

# Orders.
IDLE = 0
MOVE = 1
ATTACK = 2
ATTACK_MOVE = 3

# Indices into ``cfg``.
C_ALLY_X, C_ALLY_Y, C_ENEMY_X, C_ENEMY_Y, C_SPREAD = 0, 1, 2, 3, 4
C_STEP_MUL, C_MOVE_AMOUNT, C_LIMIT, C_CONTINUING = 5, 6, 7, 8
C_DEATH_VALUE, C_WIN, C_DEFEAT, C_NEG_SCALE = 9, 10, 11, 12
C_ONLY_POSITIVE, C_SPARSE, C_SCALE, C_SCALE_DIVISOR = 13, 14, 15, 16
N_CFG = 17

# Indices into ``lay`` (see FeatureLayout.as_array).
L_MOVE, L_ENEMY_FEAT, L_ALLY_FEAT, L_OWN_FEAT = 0, 1, 2, 3
L_OBS_T, L_STATE_LAST, L_STATE_T, L_OBS_AS_STATE = 4, 5, 6, 7
L_ALL_HEALTH, L_OBS_LAST, L_ENEMY_OFF, L_ALLY_OFF, L_OWN_OFF = 8, 9, 10, 11, 12
L_OBS_SIZE, L_STATE_SIZE, L_PATHING = 13, 14, 15

FORMATION_SPACING = 0.8
"""Distance between neighbouring units of a spawn formation (just over two radii)."""
UNIT_JITTER = 0.1
"""Half-width of the uniform random offset of each unit inside its formation."""


# ----------------------------------------------------------------------------------------------
# Random numbers: one splitmix64 generator per environment, so that env i depends only on its seed.
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _next_u64(rng: np.ndarray, b: int) -> np.uint64:
    z = rng[b] + np.uint64(0x9E3779B97F4A7C15)
    rng[b] = z
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _uniform(rng: np.ndarray, b: int, low: float, high: float) -> float:
    u = float(_next_u64(rng, b) >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return low + (high - low) * u


# ----------------------------------------------------------------------------------------------
# Geometry helpers.
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _dist(pos: np.ndarray, b: int, i: int, j: int) -> float:
    dx = pos[b, j, 0] - pos[b, i, 0]
    dy = pos[b, j, 1] - pos[b, i, 1]
    return np.sqrt(dx * dx + dy * dy)


@njit(cache=True)
def _pathable(x: float, y: float) -> bool:
    """SMAC's ``check_bounds`` and pathing-grid test on the cell ``(int(x), int(y))``."""
    ix = int(x)  # int() truncates towards zero, as in SMAC
    iy = int(y)
    return 0 <= ix < MAP_SIZE and PATHABLE_Y_MIN <= iy < PATHABLE_Y_MAX


@njit(cache=True)
def _can_move(x: float, y: float, direction: int, move_amount: float) -> bool:
    """Direction 0..3 = north, south, east, west: is the point half a move ahead pathable?"""
    m = move_amount / 2.0
    if direction == 0:
        return _pathable(x, y + m)
    if direction == 1:
        return _pathable(x, y - m)
    if direction == 2:
        return _pathable(x + m, y)
    return _pathable(x - m, y)


@njit(cache=True)
def _action_available(pos, hp, b, i, a, n_agents, move_amount) -> bool:
    """SMAC's availability of action ``a`` for agent ``i`` (``get_avail_agent_actions``)."""
    if hp[b, i] <= 0.0:
        return a == 0
    if a == 0:
        return False
    if a == 1:
        return True
    if a < 6:
        return _can_move(pos[b, i, 0], pos[b, i, 1], a - 2, move_amount)
    t = n_agents + a - 6
    return hp[b, t] > 0.0 and _dist(pos, b, i, t) <= SHOOT_RANGE


# ----------------------------------------------------------------------------------------------
# Reset.
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _spawn_group(pos, rng, b, first, n, cx, cy, spread):
    """Place ``n`` units in a compact grid around ``(cx, cy)`` shifted by a random group offset."""
    cx += _uniform(rng, b, -spread, spread)
    cy += _uniform(rng, b, -spread, spread)
    cols = int(np.ceil(np.sqrt(n)))
    rows = (n + cols - 1) // cols
    for k in range(n):
        col = k // rows
        row = k % rows
        pos[b, first + k, 0] = cx + (col - (cols - 1) / 2.0) * FORMATION_SPACING + _uniform(
            rng, b, -UNIT_JITTER, UNIT_JITTER
        )
        pos[b, first + k, 1] = cy + (row - (rows - 1) / 2.0) * FORMATION_SPACING + _uniform(
            rng, b, -UNIT_JITTER, UNIT_JITTER
        )


@njit(cache=True)
def reset_kernel(mask, pos, hp, cd, order, goal, target, shots, prev_hp, dead_seen, last_action,
                 ep_step, rng, cfg, n_agents):
    """Start a new episode in every environment ``b`` with ``mask[b]``.

    Allies and enemies spawn in formation around their spawn points; allies are then sorted by
    (x, y) as SMAC sorts them by (unit type, x, y). Enemies get their attack-move order towards
    the allies' spawn point.
    """
    n_units = pos.shape[1]
    for b in range(pos.shape[0]):
        if not mask[b]:
            continue
        _spawn_group(pos, rng, b, 0, n_agents, cfg[C_ALLY_X], cfg[C_ALLY_Y], cfg[C_SPREAD])
        _spawn_group(pos, rng, b, n_agents, n_units - n_agents, cfg[C_ENEMY_X], cfg[C_ENEMY_Y],
                     cfg[C_SPREAD])
        # insertion sort of the allies by (x, y)
        for i in range(1, n_agents):
            x, y = pos[b, i, 0], pos[b, i, 1]
            j = i - 1
            while j >= 0 and (pos[b, j, 0] > x or (pos[b, j, 0] == x and pos[b, j, 1] > y)):
                pos[b, j + 1, 0] = pos[b, j, 0]
                pos[b, j + 1, 1] = pos[b, j, 1]
                j -= 1
            pos[b, j + 1, 0] = x
            pos[b, j + 1, 1] = y
        for n in range(n_units):
            hp[b, n] = MARINE_HEALTH
            prev_hp[b, n] = MARINE_HEALTH
            cd[b, n] = 0.0
            target[b, n] = -1
            shots[b, n] = 0
            dead_seen[b, n] = False
            if n < n_agents:
                order[b, n] = IDLE
                goal[b, n, 0] = pos[b, n, 0]
                goal[b, n, 1] = pos[b, n, 1]
            else:
                order[b, n] = ATTACK_MOVE
                goal[b, n, 0] = cfg[C_ALLY_X]
                goal[b, n, 1] = cfg[C_ALLY_Y]
        for i in range(n_agents):
            last_action[b, i] = -1
        ep_step[b] = 0


# ----------------------------------------------------------------------------------------------
# Step.
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def validate_kernel(actions, active, pos, hp, n_agents, n_actions, move_amount) -> tuple:
    """Return ``(b, i, code)`` of the first bad action (code 1: out of range, 2: unavailable),
    or ``(-1, -1, 0)`` when every active environment's actions are valid."""
    for b in range(actions.shape[0]):
        if not active[b]:
            continue
        for i in range(n_agents):
            a = actions[b, i]
            if a < 0 or a >= n_actions:
                return b, i, 1
            if not _action_available(pos, hp, b, i, a, n_agents, move_amount):
                return b, i, 2
    return -1, -1, 0


@njit(cache=True)
def _nearest_ally(pos, hp, b, n, n_agents, max_dist) -> int:
    """Index of the living agent nearest to unit ``n`` within ``max_dist``, or -1."""
    best = -1
    best_d = max_dist
    for j in range(n_agents):
        if hp[b, j] > 0.0:
            d = _dist(pos, b, n, j)
            if d <= best_d:
                best_d = d
                best = j
    return best


@njit(cache=True)
def _game_loop(b, pos, hp, cd, order, goal, target, shots, n_agents, fire_at, want, dmg):
    """Advance environment ``b`` by one game loop (1/16 game second)."""
    n_units = pos.shape[1]
    # 1. decisions, from the positions at the start of the loop
    for n in range(n_units):
        fire_at[n] = -1
        want[n, 0] = np.nan
        dmg[n] = 0.0
        if hp[b, n] <= 0.0:
            continue
        if n < n_agents:
            if order[b, n] == ATTACK:
                t = target[b, n]
                if hp[b, t] <= 0.0:  # target died: the order is finished, the marine idles
                    order[b, n] = IDLE
                    target[b, n] = -1
                elif _dist(pos, b, n, t) <= MARINE_FIRE_RANGE:
                    if cd[b, n] <= 0.0:
                        fire_at[n] = t
                else:  # walk into range
                    want[n, 0] = pos[b, t, 0]
                    want[n, 1] = pos[b, t, 1]
            elif order[b, n] == MOVE:
                want[n, 0] = goal[b, n, 0]
                want[n, 1] = goal[b, n, 1]
        else:  # enemy on attack-move
            t = target[b, n]
            if t < 0 or hp[b, t] <= 0.0 or _dist(pos, b, n, t) > MARINE_FIRE_RANGE:
                t = _nearest_ally(pos, hp, b, n, n_agents, MARINE_FIRE_RANGE)
                target[b, n] = t
            if t >= 0:
                if cd[b, n] <= 0.0:
                    fire_at[n] = t
            else:
                seen = _nearest_ally(pos, hp, b, n, n_agents, SIGHT_RANGE)
                if seen >= 0:  # chase the nearest visible agent
                    want[n, 0] = pos[b, seen, 0]
                    want[n, 1] = pos[b, seen, 1]
                else:
                    want[n, 0] = goal[b, n, 0]
                    want[n, 1] = goal[b, n, 1]
    # 2. shots land simultaneously; cooldowns tick (a ready weapon cannot bank time)
    for n in range(n_units):
        if hp[b, n] <= 0.0:
            continue
        if fire_at[n] >= 0:
            dmg[fire_at[n]] += MARINE_DAMAGE
            cd[b, n] += MARINE_COOLDOWN_LOOPS
            shots[b, n] += 1
        if cd[b, n] > 0.0:
            cd[b, n] -= 1.0
        else:
            cd[b, n] = 0.0
    for n in range(n_units):
        if dmg[n] > 0.0:
            hp[b, n] = max(hp[b, n] - dmg[n], 0.0)
    # 3. walkers move
    for n in range(n_units):
        if hp[b, n] <= 0.0 or np.isnan(want[n, 0]):
            continue
        dx = want[n, 0] - pos[b, n, 0]
        dy = want[n, 1] - pos[b, n, 1]
        d = np.sqrt(dx * dx + dy * dy)
        if d <= MARINE_SPEED_PER_LOOP:
            pos[b, n, 0] = want[n, 0]
            pos[b, n, 1] = want[n, 1]
            if n < n_agents and order[b, n] == MOVE:
                order[b, n] = IDLE
        else:
            pos[b, n, 0] += dx / d * MARINE_SPEED_PER_LOOP
            pos[b, n, 1] += dy / d * MARINE_SPEED_PER_LOOP
    # 4. overlapping units push each other apart, half each; then clamp into the pathable band
    min_d = 2.0 * MARINE_RADIUS
    for i in range(n_units):
        if hp[b, i] <= 0.0:
            continue
        for j in range(i + 1, n_units):
            if hp[b, j] <= 0.0:
                continue
            dx = pos[b, j, 0] - pos[b, i, 0]
            dy = pos[b, j, 1] - pos[b, i, 1]
            d2 = dx * dx + dy * dy
            if d2 >= min_d * min_d:
                continue
            d = np.sqrt(d2)
            if d < 1e-9:  # exactly on top of each other: separate along x, lower index left
                dx, dy, d = 1.0, 0.0, 1.0
            push = 0.5 * (min_d - d) / d
            pos[b, i, 0] -= dx * push
            pos[b, i, 1] -= dy * push
            pos[b, j, 0] += dx * push
            pos[b, j, 1] += dy * push
    for n in range(n_units):
        pos[b, n, 0] = min(max(pos[b, n, 0], MARINE_RADIUS), MAP_SIZE - MARINE_RADIUS)
        pos[b, n, 1] = min(max(pos[b, n, 1], PATHABLE_Y_MIN + MARINE_RADIUS),
                           PATHABLE_Y_MAX - MARINE_RADIUS)


@njit(cache=True)
def step_kernel(actions, active, pos, hp, cd, order, goal, target, shots, prev_hp, dead_seen,
                last_action, ep_step, stats, cfg, n_agents, out_reward, out_term, out_won,
                out_dead_allies, out_dead_enemies, out_limit):
    """Apply the (already validated) actions and advance every active environment by one step.

    Writes SMAC's reward, the termination flag and the info values into the ``out_*`` arrays.
    Inactive environments are left untouched and report reward 0 and ``terminated = False``.
    """
    n_units = pos.shape[1]
    fire_at = np.empty(n_units, np.int64)
    want = np.empty((n_units, 2))
    dmg = np.empty(n_units)
    move_amount = cfg[C_MOVE_AMOUNT]
    for b in range(pos.shape[0]):
        out_reward[b] = 0.0
        out_term[b] = False
        out_won[b] = False
        out_limit[b] = False
        if active[b]:
            # orders (SMAC: stop, move to a point move_amount away, attack a unit)
            for i in range(n_agents):
                a = actions[b, i]
                last_action[b, i] = a
                shots[b, i] = 0
                if hp[b, i] <= 0.0:
                    continue
                if a == 1:
                    order[b, i] = IDLE
                    target[b, i] = -1
                elif 2 <= a <= 5:
                    order[b, i] = MOVE
                    target[b, i] = -1
                    goal[b, i, 0] = pos[b, i, 0]
                    goal[b, i, 1] = pos[b, i, 1]
                    if a == 2:
                        goal[b, i, 1] += move_amount
                    elif a == 3:
                        goal[b, i, 1] -= move_amount
                    elif a == 4:
                        goal[b, i, 0] += move_amount
                    else:
                        goal[b, i, 0] -= move_amount
                elif a >= 6:
                    order[b, i] = ATTACK
                    target[b, i] = n_agents + a - 6
            for n in range(n_agents, n_units):
                shots[b, n] = 0
            for _ in range(int(cfg[C_STEP_MUL])):
                _game_loop(b, pos, hp, cd, order, goal, target, shots, n_agents, fire_at, want, dmg)
            _reward_and_termination(b, hp, prev_hp, dead_seen, ep_step, stats, cfg, n_agents,
                                    out_reward, out_term, out_won, out_limit)
        dead_a = 0
        dead_e = 0
        for n in range(n_units):
            if hp[b, n] <= 0.0:
                if n < n_agents:
                    dead_a += 1
                else:
                    dead_e += 1
        out_dead_allies[b] = dead_a
        out_dead_enemies[b] = dead_e


@njit(cache=True)
def _reward_and_termination(b, hp, prev_hp, dead_seen, ep_step, stats, cfg, n_agents,
                            out_reward, out_term, out_won, out_limit):
    """SMAC's ``reward_battle`` followed by the end-of-battle part of ``StarCraft2Env.step``."""
    n_units = hp.shape[1]
    neg_scale = cfg[C_NEG_SCALE]
    only_positive = cfg[C_ONLY_POSITIVE] != 0.0
    delta_deaths = 0.0
    delta_ally = 0.0
    delta_enemy = 0.0
    alive_a = 0
    alive_e = 0
    for n in range(n_units):
        if hp[b, n] > 0.0:
            if n < n_agents:
                alive_a += 1
            else:
                alive_e += 1
        if dead_seen[b, n]:
            continue
        if n < n_agents:
            if hp[b, n] <= 0.0:
                dead_seen[b, n] = True
                if not only_positive:
                    delta_deaths -= cfg[C_DEATH_VALUE] * neg_scale
                delta_ally += prev_hp[b, n] * neg_scale
            else:
                delta_ally += neg_scale * (prev_hp[b, n] - hp[b, n])
        else:
            if hp[b, n] <= 0.0:
                dead_seen[b, n] = True
                delta_deaths += cfg[C_DEATH_VALUE]
                delta_enemy += prev_hp[b, n]
            else:
                delta_enemy += prev_hp[b, n] - hp[b, n]
        prev_hp[b, n] = hp[b, n]
    if cfg[C_SPARSE] != 0.0:
        reward = 0.0
    elif only_positive:
        reward = abs(delta_enemy + delta_deaths)
    else:
        reward = delta_enemy + delta_deaths - delta_ally
    ep_step[b] += 1
    if alive_a == 0 or alive_e == 0:  # battle over: win, loss, or draw (both sides dead)
        out_term[b] = True
        stats[b, 1] += 1
        if alive_a > 0:
            stats[b, 0] += 1
            out_won[b] = True
            reward = 1.0 if cfg[C_SPARSE] != 0.0 else reward + cfg[C_WIN]
        elif alive_e > 0:
            reward = -1.0 if cfg[C_SPARSE] != 0.0 else reward + cfg[C_DEFEAT]
    elif ep_step[b] >= cfg[C_LIMIT]:
        out_term[b] = True
        out_limit[b] = cfg[C_CONTINUING] != 0.0
        stats[b, 1] += 1
        stats[b, 2] += 1
    if cfg[C_SCALE] != 0.0:
        reward /= cfg[C_SCALE_DIVISOR]
    out_reward[b] = reward


# ----------------------------------------------------------------------------------------------
# Observations, state and availability masks.
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def observe_kernel(pos, hp, cd, last_action, ep_step, cfg, lay, n_agents, n_actions,
                   obs, state, avail):
    """Fill ``obs [B, A, obs_size]``, ``state [B, state_size]`` and ``avail [B, A, n_actions]``
    exactly as SMAC's ``get_obs_agent``, ``get_state`` and ``get_avail_agent_actions``."""
    n_units = pos.shape[1]
    n_enemies = n_units - n_agents
    move_amount = cfg[C_MOVE_AMOUNT]
    limit = cfg[C_LIMIT]
    enemy_feat = lay[L_ENEMY_FEAT]
    ally_feat = lay[L_ALLY_FEAT]
    health_feat = lay[L_ALL_HEALTH] != 0
    cx = MAP_SIZE / 2.0
    cy = MAP_SIZE / 2.0
    obs[:] = 0.0
    state[:] = 0.0
    avail[:] = 0
    for b in range(pos.shape[0]):
        for i in range(n_agents):
            ob = obs[b, i]
            av = avail[b, i]
            if lay[L_OBS_T]:
                ob[lay[L_OBS_SIZE] - 1] = ep_step[b] / limit
            if hp[b, i] <= 0.0:
                av[0] = 1
                continue
            x = pos[b, i, 0]
            y = pos[b, i, 1]
            av[1] = 1
            for k in range(4):
                if _can_move(x, y, k, move_amount):
                    av[2 + k] = 1
                    ob[k] = 1.0
            for e in range(n_enemies):
                t = n_agents + e
                if hp[b, t] > 0.0 and _dist(pos, b, i, t) <= SHOOT_RANGE:
                    av[6 + e] = 1
            if lay[L_PATHING]:
                _pathing_features(ob, x, y, move_amount)
            for e in range(n_enemies):
                t = n_agents + e
                d = _dist(pos, b, i, t)
                if hp[b, t] > 0.0 and d < SIGHT_RANGE:
                    o = lay[L_ENEMY_OFF] + e * enemy_feat
                    ob[o] = av[6 + e]
                    ob[o + 1] = d / SIGHT_RANGE
                    ob[o + 2] = (pos[b, t, 0] - x) / SIGHT_RANGE
                    ob[o + 3] = (pos[b, t, 1] - y) / SIGHT_RANGE
                    if health_feat:
                        ob[o + 4] = hp[b, t] / MARINE_HEALTH
            k = 0
            for j in range(n_agents):
                if j == i:
                    continue
                d = _dist(pos, b, i, j)
                if hp[b, j] > 0.0 and d < SIGHT_RANGE:
                    o = lay[L_ALLY_OFF] + k * ally_feat
                    ob[o] = 1.0
                    ob[o + 1] = d / SIGHT_RANGE
                    ob[o + 2] = (pos[b, j, 0] - x) / SIGHT_RANGE
                    ob[o + 3] = (pos[b, j, 1] - y) / SIGHT_RANGE
                    o += 4
                    if health_feat:
                        ob[o] = hp[b, j] / MARINE_HEALTH
                        o += 1
                    if lay[L_OBS_LAST] and last_action[b, j] >= 0:
                        ob[o + last_action[b, j]] = 1.0
                k += 1
            if lay[L_OWN_FEAT] > 0:
                ob[lay[L_OWN_OFF]] = hp[b, i] / MARINE_HEALTH
        st = state[b]
        if lay[L_OBS_AS_STATE]:
            size = lay[L_OBS_SIZE]
            for i in range(n_agents):
                st[i * size:(i + 1) * size] = obs[b, i]
            continue
        for i in range(n_agents):
            if hp[b, i] > 0.0:
                st[4 * i] = hp[b, i] / MARINE_HEALTH
                st[4 * i + 1] = max(cd[b, i], 0.0) / MARINE_MAX_COOLDOWN
                st[4 * i + 2] = (pos[b, i, 0] - cx) / MAP_SIZE
                st[4 * i + 3] = (pos[b, i, 1] - cy) / MAP_SIZE
        o = 4 * n_agents
        for e in range(n_enemies):
            t = n_agents + e
            if hp[b, t] > 0.0:
                st[o + 3 * e] = hp[b, t] / MARINE_HEALTH
                st[o + 3 * e + 1] = (pos[b, t, 0] - cx) / MAP_SIZE
                st[o + 3 * e + 2] = (pos[b, t, 1] - cy) / MAP_SIZE
        o += 3 * n_enemies
        if lay[L_STATE_LAST]:
            for i in range(n_agents):
                if last_action[b, i] >= 0:
                    st[o + i * n_actions + last_action[b, i]] = 1.0
            o += n_agents * n_actions
        if lay[L_STATE_T]:
            st[o] = ep_step[b] / limit


@njit(cache=True)
def _pathing_features(ob, x, y, move_amount):
    """SMAC's ``get_surrounding_pathing``: 8 cells around ``(int(x), int(y))``; outside the map
    counts as 1, as in SMAC."""
    ix = float(int(x))
    iy = float(int(y))
    ma = float(int(move_amount))
    px = (ix, ix, ix + 2 * ma, ix - 2 * ma, ix + ma, ix - ma, ix + ma, ix - ma)
    py = (iy + 2 * ma, iy - 2 * ma, iy, iy, iy + ma, iy - ma, iy - ma, iy + ma)
    for k in range(8):
        inside = 0 <= px[k] < MAP_SIZE and 0 <= py[k] < MAP_SIZE
        ob[4 + k] = 1.0 if (not inside or _pathable(px[k], py[k])) else 0.0
