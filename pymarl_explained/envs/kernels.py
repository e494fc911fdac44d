"""Numba kernels of the built-in SMAC battle simulator.

Everything that happens per step runs here, over arrays shaped ``[B, ...]`` (``B`` environments
stepped in lockstep; the single environment is ``B = 1``). Units are indexed ``0..A-1`` for the
agents (allies) and ``A..A+E-1`` for the enemies. The per-environment state is:

========== ================ ========================================================
array      shape, dtype     meaning
========== ================ ========================================================
pos        [B, N, 2] f8     unit centres (x, y)
hp         [B, N] f8        health, 0 for a dead unit
sh         [B, N] f8        shield (Protoss)
en         [B, N] f8        energy (medivac)
cd         [B, N] f8        weapon cooldown in game loops (<= 0: ready to fire)
calm       [B, N] f8        game loops since the unit last took damage (shield regeneration)
order      [B, N] i8        IDLE, MOVE, ATTACK (agents) or ATTACK_MOVE (enemies)
goal       [B, N, 2] f8     point of a MOVE order (attack-move point for enemies)
target     [B, N] i8        unit attacked or healed (ATTACK order, or an enemy's target), -1 none
shots      [B, N] i8        attacks made during the last environment step (for replays)
prev_hp    [B, N] f8        health + shield at the previous step (for SMAC's dense reward)
dead_seen  [B, N] bool      SMAC's death tracker: the death was already rewarded
last_action[B, A] i8        last action of each agent, -1 before the first step
ep_step    [B] i8           steps taken in the current episode
rng        [B] u8           state of each environment's own random generator (splitmix64)
stats      [B, 3] i8        battles won, battles played, time-outs
========== ================ ========================================================

Constant arrays: ``uprop [N, NP]`` every unit's numbers (columns ``P_*``), ``cfg`` map and reward
constants (indices ``C_*``), ``lay`` the integer feature layout of
:meth:`pymarl_explained.envs.layout.FeatureLayout.as_array`, and the terrain grids of
:mod:`pymarl_explained.envs.terrain` (``pathing``, ``height``, ``walk``, ``clear``, ``dist``).

One game loop (:func:`_game_loop`) is: every living unit decides from the state at the start of the
loop (attack, heal, explode, walk or stand); the attacks land (shields absorb before health, armour
is subtracted per hit, bonus damage by attribute, the colossus's line and the baneling's area);
banelings that died explode; heals, shields, Zerg health and energy regenerate; the walkers move
(ground units cannot enter unwalkable cells); overlapping units are pushed apart; units are kept off
unwalkable cells.

Enemy behaviour (the built-in AI's rule, a model: the real game's AI is not documented). An enemy
keeps its target while it lives and stays in weapon range; otherwise it targets the nearest agent
it can hit in weapon range. With no target in range it pursues (``C_PURSUIT``) the nearest agent it
can hit within its acquisition range (``C_ACQUIRE``; negative = the unit's own sight range), else it
follows the map's order: walk to the attack-move point, or towards the nearest agent (2c_vs_64zg's
order to attack the colossi), or stand (2s_vs_1sc's spine crawler). An enemy medivac heals the
nearest damaged friend within its sight, else follows the nearest friend.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .units import FLYING, GROUND, SHOOT_RANGE, SIGHT_RANGE, SPLASH_BANELING, SPLASH_LINE

# Orders.
IDLE = 0
MOVE = 1
ATTACK = 2
ATTACK_MOVE = 3

# Enemy order kinds (see scenario.ORDER_*).
ORDER_NONE, ORDER_POINT, ORDER_UNITS, ORDER_RANDOM_BETWEEN = 0, 1, 2, 3

# Indices into ``cfg``.
C_STEP_MUL, C_MOVE_AMOUNT, C_LIMIT, C_CONTINUING = 0, 1, 2, 3
C_DEATH_VALUE, C_WIN, C_DEFEAT, C_NEG_SCALE = 4, 5, 6, 7
C_ONLY_POSITIVE, C_SPARSE, C_SCALE, C_SCALE_DIVISOR = 8, 9, 10, 11
C_SPREAD, C_ORDER_KIND, C_ACQUIRE, C_PURSUIT, C_MMM, C_MAP_X, C_MAP_Y, C_NAVIGATE = 12, 13, 14, 15, 16, 17, 18, 19
C_ORDER_X0, C_ORDER_Y0, C_ORDER_X1, C_ORDER_Y1 = 20, 21, 22, 23
C_HAS_SHIELD, C_HAS_LIFE_REGEN, C_HAS_ENERGY, C_HAS_HEAL, C_HAS_BANE, C_RECT = 24, 25, 26, 27, 28, 29
C_UNIFORM = 30
C_PATH_X0, C_PATH_X1, C_PATH_Y0, C_PATH_Y1 = 31, 32, 33, 34
N_CFG = 35
"""``C_HAS_*``: some unit of the map has shields, Zerg regeneration, energy, heals, bursts (the game
loop skips what no unit has); ``C_RECT``: every unit's walkable area is a rectangle (then keeping
units off unwalkable ground is a clamp into it); ``C_UNIFORM``: every unit is of one plain ground
type on a rectangle with an attack-move order and the pathing grid's pathable cells form a rectangle
(the marine maps), played by the uniform kernels (:func:`uniform_validate_kernel`,
:func:`uniform_step_kernel`, :func:`uniform_observe_kernel`), which compute the same as the general
ones with the unit's numbers held in scalars; ``C_PATH_*``: the bounding box ``[x0, x1) x [y0, y1)``
of the pathing grid's pathable cells (on a uniform map the pathable cells fill it)."""

# Pair tables ``pair [3, N, N]`` (constant per map, see scenario.py).
PAIR_REACH, PAIR_HIT, PAIR_SEP = 0, 1, 2
"""``pair[PAIR_REACH, i, t]``: centre distance at which ``i`` attacks (heals) ``t`` (range + both radii);
``pair[PAIR_HIT, i, t]``: 1 if ``i``'s weapon can hit ``t`` (air or ground); ``pair[PAIR_SEP, i, j]``:
the distance below which ``i`` and ``j`` overlap (sum of radii; 0 when they do not collide: air and
ground units, colossi and small ground units)."""

# Columns of ``uprop``.
(P_HP_MAX, P_SH_MAX, P_ARMOUR, P_DAMAGE, P_HITS, P_BONUS, P_BONUS_VS, P_ATTR, P_COOLDOWN, P_RANGE,
 P_SPEED, P_RADIUS, P_SIGHT, P_MOVER, P_HITS_GROUND, P_HITS_AIR, P_SPLASH, P_SPLASH_R, P_HEAL,
 P_EN_START, P_EN_MAX, P_EN_REGEN, P_SH_REGEN, P_SH_DELAY, P_LIFE_REGEN, P_MAX_CD, P_TBIT,
 P_ENERGY_STATE) = range(28)
NP = 28
"""``P_ENERGY_STATE``: SMAC's medivac rule on map_type MMM (heal actions target allies, the state
shows energy in place of the cooldown)."""

# Indices into ``lay`` (see FeatureLayout.as_array).
L_MOVE, L_ENEMY_FEAT, L_ALLY_FEAT, L_OWN_FEAT = 0, 1, 2, 3
L_OBS_T, L_STATE_LAST, L_STATE_T, L_OBS_AS_STATE = 4, 5, 6, 7
L_ALL_HEALTH, L_OBS_LAST, L_ENEMY_OFF, L_ALLY_OFF, L_OWN_OFF = 8, 9, 10, 11, 12
L_OBS_SIZE, L_STATE_SIZE, L_PATHING, L_HEIGHT, L_BITS = 13, 14, 15, 16, 17
L_SHIELD_A, L_SHIELD_E, L_OWN_HEALTH, L_ALLY_STATE, L_ENEMY_STATE = 18, 19, 20, 21, 22

UNIT_JITTER = 0.1
"""Half-width of the uniform random offset of each unit inside its formation (only when the spawn
points get a random offset)."""
MEDIVAC_FOLLOW = 2.0
"""An enemy medivac with nobody to heal stays this close to its nearest friend."""
LINE_HALF_WIDTH = 0.15
"""Half-width of the colossus's line (2.8 x 0.3, across the colossus-target direction)."""


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
def _len(dx: float, dy: float) -> float:
    """Length of ``(dx, dy)`` for the game's physics."""
    return np.sqrt(dx * dx + dy * dy)


@njit(cache=True)
def _dist(pos: np.ndarray, b: int, i: int, j: int) -> float:
    """Centre distance from unit ``i`` to unit ``j`` for the game's physics."""
    return _len(pos[b, j, 0] - pos[b, i, 0], pos[b, j, 1] - pos[b, i, 1])


@njit(cache=True)
def _two_prod(a: float, b: float) -> tuple:
    """``a * b`` as an unevaluated sum ``p + e`` (Dekker's exact product)."""
    p = a * b
    c = 134217729.0 * a
    ah = c - (c - a)
    al = a - ah
    c = 134217729.0 * b
    bh = c - (c - b)
    bl = b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


@njit(cache=True)
def hypot(dx: float, dy: float) -> float:
    """``sqrt(dx² + dy²)`` correctly rounded, as Python's ``math.hypot`` (SMAC's ``distance``).

    A plain ``sqrt(dx*dx + dy*dy)`` (or C's ``hypot``) can be one unit in the last place off, which
    flips SMAC's tests ``dist <= 6`` (attack availability) and ``dist < 9`` (sight) for units placed
    exactly 6 or 9 apart. The squares are summed exactly and the root is corrected once.
    """
    x = abs(dx)
    y = abs(dy)
    if x < y:
        x, y = y, x
    if x == 0.0:
        return 0.0
    s_hi, s_lo = _two_prod(x, x)
    t_hi, t_lo = _two_prod(y, y)
    hi = s_hi + t_hi
    lo = (s_hi - hi) + t_hi + s_lo + t_lo
    h = math.sqrt(hi)
    hh, hl = _two_prod(h, h)
    return h + (((hi - hh) - hl) + lo) / (2.0 * h)


@njit(cache=True, inline="always")
def _smac_len(dx: float, dy: float) -> float:
    """Length of ``(dx, dy)`` as SMAC's ``distance`` computes it (for observations and availability).

    ``sqrt(dx² + dy²)`` is at most one unit in the last place from ``math.hypot``; it is used as is
    unless it lies within 1e-9 of SMAC's thresholds 6 and 9, where the correctly rounded
    :func:`hypot` decides. The tests ``<= 6`` and ``< 9`` are then exactly SMAC's, and a feature
    ``d / 9`` differs from SMAC's at most in the last bit of a float64, below float32 resolution.
    Inlined by numba (``inline="always"``): as a call, it cost the observation kernel a third of its
    time on the marine maps.
    """
    d = np.sqrt(dx * dx + dy * dy)
    if abs(d - SHOOT_RANGE) < 1e-9 or abs(d - SIGHT_RANGE) < 1e-9:
        return hypot(dx, dy)
    return d


@njit(cache=True)
def _smac_dist(pos: np.ndarray, b: int, i: int, j: int) -> float:
    """Centre distance from unit ``i`` to unit ``j`` as SMAC computes it (:func:`_smac_len`)."""
    return _smac_len(pos[b, j, 0] - pos[b, i, 0], pos[b, j, 1] - pos[b, i, 1])


@njit(cache=True)
def _pathable(pathing: np.ndarray, x: float, y: float) -> bool:
    """SMAC's ``check_bounds`` and pathing-grid test on the cell ``(int(x), int(y))``."""
    ix = int(x)  # int() truncates towards zero, as in SMAC
    iy = int(y)
    return 0 <= ix < pathing.shape[0] and 0 <= iy < pathing.shape[1] and pathing[ix, iy] != 0


@njit(cache=True)
def _in_box(x: float, y: float, x0: float, x1: float, y0: float, y1: float) -> bool:
    """:func:`_pathable` on a map whose pathable cells are exactly the cells ``x0 <= ix < x1``,
    ``y0 <= iy < y1``: four comparisons instead of a grid look-up (the uniform maps only, see
    ``C_UNIFORM`` and ``C_PATH_*``)."""
    ix = int(x)
    iy = int(y)
    return x0 <= ix < x1 and y0 <= iy < y1


@njit(cache=True)
def _move_probe(x: float, y: float, direction: int, move_amount: float) -> tuple:
    """The point half a move ahead in direction 0..3 = north, south, east, west: SMAC makes a move
    available when this point is pathable."""
    m = move_amount / 2.0
    if direction == 0:
        return x, y + m
    if direction == 1:
        return x, y - m
    if direction == 2:
        return x + m, y
    return x - m, y


@njit(cache=True)
def _can_move(pathing: np.ndarray, x: float, y: float, direction: int, move_amount: float) -> bool:
    """Direction 0..3 = north, south, east, west: is the point half a move ahead pathable?"""
    px, py = _move_probe(x, y, direction, move_amount)
    return _pathable(pathing, px, py)


@njit(cache=True)
def _walkable(walk: np.ndarray, mover: int, x: float, y: float) -> bool:
    """May a unit of ``mover`` have its centre at ``(x, y)``?"""
    ix = math.floor(x)
    iy = math.floor(y)
    if ix < 0 or iy < 0 or ix >= walk.shape[1] or iy >= walk.shape[2]:
        return False
    return walk[mover, int(ix), int(iy)] != 0


@njit(cache=True)
def _heals_allies(uprop: np.ndarray, i: int) -> bool:
    return uprop[i, P_ENERGY_STATE] != 0.0


@njit(cache=True)
def _action_available(pos, hp, uprop, pathing, b, i, a, n_agents, move_amount) -> bool:
    """SMAC's availability of action ``a`` for agent ``i`` (``get_avail_agent_actions``)."""
    if hp[b, i] <= 0.0:
        return a == 0
    if a == 0:
        return False
    if a == 1:
        return True
    if a < 6:
        return _can_move(pathing, pos[b, i, 0], pos[b, i, 1], a - 2, move_amount)
    if _heals_allies(uprop, i):  # medivac on MMM maps: heal ally a - 6 (never another medivac)
        t = a - 6
        if t >= n_agents or _heals_allies(uprop, t):
            return False
    else:
        t = n_agents + a - 6
    return hp[b, t] > 0.0 and _smac_dist(pos, b, i, t) <= SHOOT_RANGE


# ----------------------------------------------------------------------------------------------
# Reset.
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def _snap_to_walkable(pos, walk, b, n, mover):
    """Move a unit standing on an unwalkable cell to the centre of the nearest walkable cell."""
    if _walkable(walk, mover, pos[b, n, 0], pos[b, n, 1]):
        return
    best = 1e18
    bx = pos[b, n, 0]
    by = pos[b, n, 1]
    for ix in range(walk.shape[1]):
        for iy in range(walk.shape[2]):
            if walk[mover, ix, iy]:
                dx = ix + 0.5 - pos[b, n, 0]
                dy = iy + 0.5 - pos[b, n, 1]
                d2 = dx * dx + dy * dy
                if d2 < best:
                    best = d2
                    bx = ix + 0.5
                    by = iy + 0.5
    pos[b, n, 0] = bx
    pos[b, n, 1] = by


@njit(cache=True)
def reset_kernel(mask, pos, hp, sh, en, cd, calm, order, goal, target, shots, prev_hp, dead_seen,
                 last_action, ep_step, rng, cfg, uprop, walk, group_points, unit_group, unit_offset,
                 spawn_order, ally_block, n_agents):
    """Start a new episode in every environment ``b`` with ``mask[b]``.

    Every spawn group is laid out in its formation around its point (moved by a random offset when
    ``C_SPREAD`` > 0, each unit then jittered); agents are then sorted by (x, y) inside their type
    block, as SMAC sorts them by (unit type, x, y). Enemies get the map's order.
    """
    n_units = pos.shape[1]
    spread = cfg[C_SPREAD]
    kind = int(cfg[C_ORDER_KIND])
    for b in range(pos.shape[0]):
        if not mask[b]:
            continue
        for g in range(group_points.shape[0]):
            cx = group_points[g, 0]
            cy = group_points[g, 1]
            if spread > 0.0:
                cx += _uniform(rng, b, -spread, spread)
                cy += _uniform(rng, b, -spread, spread)
            for k in range(n_units):
                n = spawn_order[k]
                if unit_group[n] != g:
                    continue
                pos[b, n, 0] = cx + unit_offset[n, 0]
                pos[b, n, 1] = cy + unit_offset[n, 1]
                if spread > 0.0:
                    pos[b, n, 0] += _uniform(rng, b, -UNIT_JITTER, UNIT_JITTER)
                    pos[b, n, 1] += _uniform(rng, b, -UNIT_JITTER, UNIT_JITTER)
        for n in range(n_units):
            _snap_to_walkable(pos, walk, b, n, int(uprop[n, P_MOVER]))
        # insertion sort of the agents by (x, y) inside each type block
        for i in range(1, n_agents):
            x, y = pos[b, i, 0], pos[b, i, 1]
            j = i - 1
            while j >= 0 and ally_block[j] == ally_block[i] and (
                    pos[b, j, 0] > x or (pos[b, j, 0] == x and pos[b, j, 1] > y)):
                pos[b, j + 1, 0] = pos[b, j, 0]
                pos[b, j + 1, 1] = pos[b, j, 1]
                j -= 1
            pos[b, j + 1, 0] = x
            pos[b, j + 1, 1] = y
        gx = cfg[C_ORDER_X0]
        gy = cfg[C_ORDER_Y0]
        if kind == ORDER_RANDOM_BETWEEN:
            f = _uniform(rng, b, 0.0, 1.0)
            gx = cfg[C_ORDER_X0] + f * (cfg[C_ORDER_X1] - cfg[C_ORDER_X0])
            gy = cfg[C_ORDER_Y0] + f * (cfg[C_ORDER_Y1] - cfg[C_ORDER_Y0])
        for n in range(n_units):
            hp[b, n] = uprop[n, P_HP_MAX]
            sh[b, n] = uprop[n, P_SH_MAX]
            en[b, n] = uprop[n, P_EN_START]
            prev_hp[b, n] = hp[b, n] + sh[b, n]
            cd[b, n] = 0.0
            calm[b, n] = 0.0
            target[b, n] = -1
            shots[b, n] = 0
            dead_seen[b, n] = False
            if n < n_agents:
                order[b, n] = IDLE
                goal[b, n, 0] = pos[b, n, 0]
                goal[b, n, 1] = pos[b, n, 1]
            else:
                order[b, n] = ATTACK_MOVE
                if kind == ORDER_POINT or kind == ORDER_RANDOM_BETWEEN:
                    goal[b, n, 0] = gx
                    goal[b, n, 1] = gy
                else:
                    goal[b, n, 0] = pos[b, n, 0]
                    goal[b, n, 1] = pos[b, n, 1]
        for i in range(n_agents):
            last_action[b, i] = -1
        ep_step[b] = 0


# ----------------------------------------------------------------------------------------------
# Step.
# ----------------------------------------------------------------------------------------------
@njit(cache=True)
def validate_kernel(actions, active, pos, hp, uprop, pathing, n_agents, n_actions, move_amount) -> tuple:
    """Return ``(b, i, code)`` of the first bad action (code 1: out of range, 2: unavailable),
    or ``(-1, -1, 0)`` when every active environment's actions are valid."""
    for b in range(actions.shape[0]):
        if not active[b]:
            continue
        for i in range(n_agents):
            a = actions[b, i]
            if a < 0 or a >= n_actions:
                return b, i, 1
            if not _action_available(pos, hp, uprop, pathing, b, i, a, n_agents, move_amount):
                return b, i, 2
    return -1, -1, 0


@njit(cache=True)
def uniform_validate_kernel(actions, active, pos, hp, cfg, n_agents, n_actions) -> tuple:
    """:func:`validate_kernel` for the uniform maps (``C_UNIFORM``, the marine maps).

    Why a second kernel: this check runs before every step, and on the marine maps the general one
    took twice the time of the marine-only simulator it replaced. Here a move's pathing test is
    four comparisons with the rectangle of pathable cells (:func:`_in_box`) instead of a grid
    look-up, there are no healers, and the loop calls only helpers that take numbers: a numba
    helper that takes arrays and calls further helpers is not inlined, and each such call costs
    more than the test it makes. ``tests/test_env_maps.py`` checks that both kernels accept and
    reject the same actions.
    """
    move_amount = cfg[C_MOVE_AMOUNT]
    x0, x1, y0, y1 = cfg[C_PATH_X0], cfg[C_PATH_X1], cfg[C_PATH_Y0], cfg[C_PATH_Y1]
    for b in range(actions.shape[0]):
        if not active[b]:
            continue
        for i in range(n_agents):
            a = actions[b, i]
            if a < 0 or a >= n_actions:
                return b, i, 1
            if hp[b, i] <= 0.0:  # the availability rules of _action_available
                ok = a == 0
            elif a < 2:
                ok = a == 1
            elif a < 6:
                px, py = _move_probe(pos[b, i, 0], pos[b, i, 1], a - 2, move_amount)
                ok = _in_box(px, py, x0, x1, y0, y1)
            else:
                t = n_agents + a - 6
                ok = hp[b, t] > 0.0 and _smac_len(pos[b, t, 0] - pos[b, i, 0],
                                                  pos[b, t, 1] - pos[b, i, 1]) <= SHOOT_RANGE
            if not ok:
                return b, i, 2
    return -1, -1, 0


@njit(cache=True)
def _nearest_foe(pos, hp, pair, b, n, first, last, max_dist, in_reach) -> int:
    """Nearest living unit in ``first..last-1`` that ``n`` can hit, within ``max_dist`` (or, with
    ``in_reach``, within ``n``'s weapon reach of it); -1 if none."""
    best = -1
    best_d = 1e18
    for j in range(first, last):
        if hp[b, j] > 0.0 and pair[PAIR_HIT, n, j] != 0.0:
            d = _dist(pos, b, n, j)
            lim = pair[PAIR_REACH, n, j] if in_reach else max_dist
            if d <= lim and d <= best_d:
                best_d = d
                best = j
    return best


@njit(cache=True)
def _nearest(pos, hp, uprop, b, n, first, last, near, far, skip_healers, damaged_only) -> tuple:
    """The living units ``j != n`` of ``first..last-1`` nearest to unit ``n`` within the distance
    ``near`` and within ``far`` (ties: the last one; -1 for none; a negative distance finds none).
    With ``skip_healers`` healers do not count, with ``damaged_only`` units at full health do not.

    One pass answers the two questions an enemy asks on the marine maps: an agent in weapon range
    to shoot, else one in acquisition range to chase."""
    best_near = -1
    best_far = -1
    d_near = near
    d_far = far
    x = pos[b, n, 0]
    y = pos[b, n, 1]
    for j in range(first, last):
        if j == n or hp[b, j] <= 0.0:
            continue
        if skip_healers and uprop[j, P_HEAL] > 0.0:
            continue
        if damaged_only and hp[b, j] >= uprop[j, P_HP_MAX]:
            continue
        d = _len(pos[b, j, 0] - x, pos[b, j, 1] - y)
        if d <= d_near:
            d_near = d
            best_near = j
        if d <= d_far:
            d_far = d
            best_far = j
    return best_near, best_far


@njit(cache=True)
def _deal(b, t, damage, bonus, bonus_vs, hits, hp, sh, calm, uprop):
    """``hits`` hits of ``damage`` (+ ``bonus`` vs attributes ``bonus_vs``) on unit ``t``: shields
    absorb first; what passes through loses the armour (at least 0.5 per hit) and hits health."""
    per_hit = damage
    if bonus > 0.0 and (int(uprop[t, P_ATTR]) & int(bonus_vs)) != 0:
        per_hit += bonus
    armour = uprop[t, P_ARMOUR]
    for _ in range(hits):
        if hp[b, t] <= 0.0:
            return
        rest = per_hit
        if sh[b, t] > 0.0:
            absorbed = min(sh[b, t], rest)
            sh[b, t] -= absorbed
            rest -= absorbed
        if rest > 0.0:
            hp[b, t] = max(hp[b, t] - max(rest - armour, 0.5 if armour > 0.0 else rest), 0.0)
        calm[b, t] = 0.0


@njit(cache=True)
def _attack(b, n, t, n_agents, pos, hp, sh, calm, uprop, pair):
    """Unit ``n``'s attack on ``t`` lands (with the colossus's line splash)."""
    damage = uprop[n, P_DAMAGE]
    bonus = uprop[n, P_BONUS]
    bonus_vs = uprop[n, P_BONUS_VS]
    hits = int(uprop[n, P_HITS])
    if int(uprop[n, P_SPLASH]) != SPLASH_LINE:
        _deal(b, t, damage, bonus, bonus_vs, hits, hp, sh, calm, uprop)
        return
    # line centred on the target, 2 * splash_radius long, across the attacker -> target direction
    dx = pos[b, t, 0] - pos[b, n, 0]
    dy = pos[b, t, 1] - pos[b, n, 1]
    d = np.sqrt(dx * dx + dy * dy)
    if d < 1e-9:
        dx, dy, d = 1.0, 0.0, 1.0
    ux, uy = dx / d, dy / d
    half_len = uprop[n, P_SPLASH_R]
    first, last = (n_agents, pos.shape[1]) if n < n_agents else (0, n_agents)
    for u in range(first, last):
        if hp[b, u] <= 0.0 or pair[PAIR_HIT, n, u] == 0.0:
            continue
        rx = pos[b, u, 0] - pos[b, t, 0]
        ry = pos[b, u, 1] - pos[b, t, 1]
        across = rx * ux + ry * uy  # along the attack direction: the line's width
        along = -rx * uy + ry * ux  # along the line
        ca = min(max(along, -half_len), half_len)
        cw = min(max(across, -LINE_HALF_WIDTH), LINE_HALF_WIDTH)
        r = uprop[u, P_RADIUS]
        if u == t or (along - ca) ** 2 + (across - cw) ** 2 <= r * r:
            _deal(b, u, damage, bonus, bonus_vs, hits, hp, sh, calm, uprop)


@njit(cache=True)
def _explode(b, n, n_agents, pos, hp, sh, calm, uprop):
    """Baneling ``n`` bursts: it dies and damages every opposing ground unit whose edge is within
    its splash radius of its centre."""
    hp[b, n] = 0.0
    first, last = (n_agents, pos.shape[1]) if n < n_agents else (0, n_agents)
    for u in range(first, last):
        if hp[b, u] <= 0.0 or int(uprop[u, P_MOVER]) == FLYING:
            continue
        if _dist(pos, b, n, u) - uprop[u, P_RADIUS] <= uprop[n, P_SPLASH_R]:
            _deal(b, u, uprop[n, P_DAMAGE], uprop[n, P_BONUS], uprop[n, P_BONUS_VS], 1, hp, sh, calm, uprop)


@njit(cache=True)
def _waypoint(pos, b, n, tx, ty, clear, dist, map_y) -> tuple:
    """Where a ground unit heading for ``(tx, ty)`` walks now: straight if the way is clear, else the
    centre of the neighbouring cell nearest to the goal (navigation tables of :mod:`.terrain`)."""
    x = pos[b, n, 0]
    y = pos[b, n, 1]
    h = int(map_y)
    cx, cy = int(math.floor(x)), int(math.floor(y))
    gx, gy = int(math.floor(tx)), int(math.floor(ty))
    w = clear.shape[0] // h
    if cx < 0 or cy < 0 or gx < 0 or gy < 0 or cx >= w or gx >= w or cy >= h or gy >= h:
        return tx, ty
    c = cx * h + cy
    g = gx * h + gy
    if c == g or clear[c, g] or dist[g, c] < 0:
        return tx, ty
    best = dist[g, c]
    bx, by = tx, ty
    for ddx in range(-1, 2):
        for ddy in range(-1, 2):
            nx, ny = cx + ddx, cy + ddy
            if (ddx == 0 and ddy == 0) or nx < 0 or ny < 0 or nx >= w or ny >= h:
                continue
            dn = dist[g, nx * h + ny]
            if 0 <= dn < best:
                if ddx != 0 and ddy != 0 and (dist[g, (cx + ddx) * h + cy] < 0 or dist[g, cx * h + cy + ddy] < 0):
                    continue
                best = dn
                bx, by = nx + 0.5, ny + 0.5
    return bx, by


@njit(cache=True)
def _game_loop(b, pos, hp, sh, en, cd, calm, order, goal, target, shots, uprop, pair, walk, wbox, clear, dist,
               cfg, n_agents, fire_at, heal_at, want, alive0, start):
    """Advance environment ``b`` by one game loop (1/16 game second)."""
    n_units = pos.shape[1]
    kind = int(cfg[C_ORDER_KIND])
    pursuit = cfg[C_PURSUIT] != 0.0
    # 1. decisions, from the state at the start of the loop
    for n in range(n_units):
        fire_at[n] = -1
        heal_at[n] = -1
        want[n, 0] = np.nan
        alive0[n] = hp[b, n] > 0.0
        start[n, 0] = pos[b, n, 0]
        start[n, 1] = pos[b, n, 1]
        if hp[b, n] <= 0.0:
            continue
        healer = uprop[n, P_HEAL] > 0.0
        bane = int(uprop[n, P_SPLASH]) == SPLASH_BANELING
        if n < n_agents:
            if order[b, n] == ATTACK:
                t = target[b, n]
                if hp[b, t] <= 0.0 or (not healer and pair[PAIR_HIT, n, t] == 0.0):
                    order[b, n] = IDLE  # target dead (order finished) or out of the weapon's reach
                    target[b, n] = -1
                elif _dist(pos, b, n, t) <= pair[PAIR_REACH, n, t]:
                    if healer:
                        heal_at[n] = t
                    elif bane or cd[b, n] <= 0.0:
                        fire_at[n] = t
                else:  # walk into range
                    want[n, 0] = pos[b, t, 0]
                    want[n, 1] = pos[b, t, 1]
            elif order[b, n] == MOVE:
                want[n, 0] = goal[b, n, 0]
                want[n, 1] = goal[b, n, 1]
        elif healer:  # enemy medivac
            t = _nearest(pos, hp, uprop, b, n, n_agents, n_units, uprop[n, P_SIGHT], -1.0, True, True)[0]
            target[b, n] = t
            if t >= 0:
                if _dist(pos, b, n, t) <= pair[PAIR_REACH, n, t]:
                    heal_at[n] = t
                else:
                    want[n, 0] = pos[b, t, 0]
                    want[n, 1] = pos[b, t, 1]
            else:
                f = _nearest(pos, hp, uprop, b, n, n_agents, n_units, 1e18, -1.0, True, False)[0]
                if f >= 0 and _dist(pos, b, n, f) > MEDIVAC_FOLLOW:
                    want[n, 0] = pos[b, f, 0]
                    want[n, 1] = pos[b, f, 1]
        else:  # enemy on its order
            t = target[b, n]
            if t < 0 or hp[b, t] <= 0.0 or _dist(pos, b, n, t) > pair[PAIR_REACH, n, t]:
                t = _nearest_foe(pos, hp, pair, b, n, 0, n_agents, 0.0, True)
                target[b, n] = t
            if t >= 0:
                if bane or cd[b, n] <= 0.0:
                    fire_at[n] = t
            else:
                acquire = cfg[C_ACQUIRE] if cfg[C_ACQUIRE] >= 0.0 else uprop[n, P_SIGHT]
                seen = _nearest_foe(pos, hp, pair, b, n, 0, n_agents, acquire, False) if pursuit else -1
                if seen < 0 and kind == ORDER_UNITS:
                    seen = _nearest_foe(pos, hp, pair, b, n, 0, n_agents, 1e18, False)
                if seen >= 0:  # chase the nearest agent
                    want[n, 0] = pos[b, seen, 0]
                    want[n, 1] = pos[b, seen, 1]
                elif kind == ORDER_POINT or kind == ORDER_RANDOM_BETWEEN:
                    want[n, 0] = goal[b, n, 0]
                    want[n, 1] = goal[b, n, 1]
    # 2. attacks land; cooldowns tick (a ready weapon cannot bank time)
    for n in range(n_units):
        if hp[b, n] <= 0.0:
            continue
        if fire_at[n] >= 0:
            if int(uprop[n, P_SPLASH]) != SPLASH_BANELING:
                cd[b, n] += uprop[n, P_COOLDOWN]
            shots[b, n] += 1
        if cd[b, n] > 0.0:
            cd[b, n] -= 1.0
        else:
            cd[b, n] = 0.0
    for n in range(n_units):
        if fire_at[n] >= 0:
            if int(uprop[n, P_SPLASH]) == SPLASH_BANELING:  # bursts even if killed in this loop
                _explode(b, n, n_agents, pos, hp, sh, calm, uprop)
            else:
                _attack(b, n, fire_at[n], n_agents, pos, hp, sh, calm, uprop, pair)
    # banelings killed this loop burst too (which can kill more banelings)
    burst = cfg[C_HAS_BANE] != 0.0
    while burst:
        burst = False
        for n in range(n_units):
            if alive0[n] and hp[b, n] <= 0.0 and int(uprop[n, P_SPLASH]) == SPLASH_BANELING and fire_at[n] < 0:
                fire_at[n] = n  # mark as burst
                _explode(b, n, n_agents, pos, hp, sh, calm, uprop)
                burst = True
    # heals (medivac: costs 1 energy per 3 health) and regeneration
    for n in range(n_units if cfg[C_HAS_HEAL] != 0.0 else 0):
        t = heal_at[n]
        if t >= 0 and hp[b, n] > 0.0 and hp[b, t] > 0.0:
            amount = min(uprop[n, P_HEAL], uprop[t, P_HP_MAX] - hp[b, t], en[b, n] * 3.0)
            if amount > 0.0:
                hp[b, t] += amount
                en[b, n] -= amount / 3.0
                shots[b, n] += 1
    regen = cfg[C_HAS_SHIELD] != 0.0 or cfg[C_HAS_LIFE_REGEN] != 0.0 or cfg[C_HAS_ENERGY] != 0.0
    for n in range(n_units if regen else 0):
        if hp[b, n] <= 0.0:
            continue
        if uprop[n, P_LIFE_REGEN] > 0.0 and hp[b, n] < uprop[n, P_HP_MAX]:
            hp[b, n] = min(hp[b, n] + uprop[n, P_LIFE_REGEN], uprop[n, P_HP_MAX])
        if uprop[n, P_SH_MAX] > 0.0:
            if calm[b, n] >= uprop[n, P_SH_DELAY] and sh[b, n] < uprop[n, P_SH_MAX]:
                sh[b, n] = min(sh[b, n] + uprop[n, P_SH_REGEN], uprop[n, P_SH_MAX])
            calm[b, n] += 1.0
        if uprop[n, P_EN_REGEN] > 0.0:
            en[b, n] = min(en[b, n] + uprop[n, P_EN_REGEN], uprop[n, P_EN_MAX])
    # 3. walkers move (ground units around obstacles, never into unwalkable cells)
    navigate = cfg[C_NAVIGATE] != 0.0
    for n in range(n_units):
        if hp[b, n] <= 0.0 or np.isnan(want[n, 0]):
            continue
        speed = uprop[n, P_SPEED]
        if speed <= 0.0:
            continue
        mover = int(uprop[n, P_MOVER])
        tx, ty = want[n, 0], want[n, 1]
        if navigate and mover == GROUND:
            tx, ty = _waypoint(pos, b, n, tx, ty, clear, dist, cfg[C_MAP_Y])
        dx = tx - pos[b, n, 0]
        dy = ty - pos[b, n, 1]
        d = np.sqrt(dx * dx + dy * dy)
        if d <= speed:
            nx, ny = tx, ty
        else:
            nx = pos[b, n, 0] + dx / d * speed
            ny = pos[b, n, 1] + dy / d * speed
        if _walkable(walk, mover, nx, ny):
            pos[b, n, 0] = nx
            pos[b, n, 1] = ny
        elif _walkable(walk, mover, nx, pos[b, n, 1]):
            pos[b, n, 0] = nx
        elif _walkable(walk, mover, pos[b, n, 0], ny):
            pos[b, n, 1] = ny
        if d <= speed and n < n_agents and order[b, n] == MOVE and tx == want[n, 0] and ty == want[n, 1]:
            order[b, n] = IDLE
    # 4. overlapping units of the same layer (ground, air, colossi) push each other apart; then
    #    everyone is kept off unwalkable cells (its edge touches no unwalkable cell along x and y)
    for i in range(n_units):
        if hp[b, i] <= 0.0:
            continue
        for j in range(i + 1, n_units):
            min_d = pair[PAIR_SEP, i, j]
            if hp[b, j] <= 0.0 or min_d == 0.0:
                continue
            dx = pos[b, j, 0] - pos[b, i, 0]
            dy = pos[b, j, 1] - pos[b, i, 1]
            d2 = dx * dx + dy * dy
            if d2 >= min_d * min_d:
                continue
            d = np.sqrt(d2)
            if d < 1e-9:  # exactly on top of each other: separate along x, lower index left
                dx, dy, d = 1.0, 0.0, 1.0
            mobile_i = uprop[i, P_SPEED] > 0.0
            mobile_j = uprop[j, P_SPEED] > 0.0
            if mobile_i and mobile_j:
                push = 0.5 * (min_d - d) / d
                pos[b, i, 0] -= dx * push
                pos[b, i, 1] -= dy * push
                pos[b, j, 0] += dx * push
                pos[b, j, 1] += dy * push
            elif mobile_i:
                pos[b, i, 0] -= dx * (min_d - d) / d
                pos[b, i, 1] -= dy * (min_d - d) / d
            elif mobile_j:
                pos[b, j, 0] += dx * (min_d - d) / d
                pos[b, j, 1] += dy * (min_d - d) / d
    rect = cfg[C_RECT] != 0.0
    for n in range(n_units):
        if hp[b, n] > 0.0:
            _keep_clear(pos, walk, wbox, b, n, int(uprop[n, P_MOVER]), uprop[n, P_RADIUS], start[n, 0],
                        start[n, 1], rect)


@njit(cache=True)
def _uniform_game_loops(b, n_loops, pos, hp, cd, order, goal, target, shots, uprop, wbox, cfg, n_agents, fire_at,
                        want):
    """``n_loops`` game loops of :func:`_game_loop` for maps whose units are all of one plain ground
    type (no shields, regeneration, heals, splash) on a rectangular walkable area, with an
    attack-move order: the same rules, with the unit's numbers in scalars read once per step, and
    one pass over the agents for an enemy's two searches (an agent in weapon range, else one in
    acquisition range) where :func:`_game_loop` makes two (``tests/test_env_maps.py`` checks that
    both loops give the same battles)."""
    n_units = pos.shape[1]
    fire_range = uprop[0, P_RANGE] + uprop[0, P_RADIUS] + uprop[0, P_RADIUS]
    damage = uprop[0, P_DAMAGE]
    cooldown = uprop[0, P_COOLDOWN]
    speed = uprop[0, P_SPEED]
    radius = uprop[0, P_RADIUS]
    armour = uprop[0, P_ARMOUR]
    hits = int(uprop[0, P_HITS])
    per_hit = damage - armour if damage - armour > 0.5 or armour <= 0.0 else 0.5
    acquire = cfg[C_ACQUIRE] if cfg[C_ACQUIRE] >= 0.0 else uprop[0, P_SIGHT]
    chase_range = acquire if cfg[C_PURSUIT] != 0.0 else -1.0  # without pursuit: never chase
    min_d = radius + radius  # overlap distance
    x0, x1, y0, y1 = wbox[0, 0] + radius, wbox[0, 1] - radius, wbox[0, 2] + radius, wbox[0, 3] - radius
    for _ in range(n_loops):
        # 1. decisions, from the positions at the start of the loop
        for n in range(n_units):
            fire_at[n] = -1
            want[n, 0] = np.nan
            if hp[b, n] <= 0.0:
                continue
            if n < n_agents:
                if order[b, n] == ATTACK:
                    t = target[b, n]
                    if hp[b, t] <= 0.0:  # target died: the order is finished, the unit idles
                        order[b, n] = IDLE
                        target[b, n] = -1
                    elif _len(pos[b, t, 0] - pos[b, n, 0], pos[b, t, 1] - pos[b, n, 1]) <= fire_range:
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
                seen = -1
                if t < 0 or hp[b, t] <= 0.0 or _len(pos[b, t, 0] - pos[b, n, 0],
                                                    pos[b, t, 1] - pos[b, n, 1]) > fire_range:
                    t, seen = _nearest(pos, hp, uprop, b, n, 0, n_agents, fire_range, chase_range, False, False)
                    target[b, n] = t
                if t >= 0:
                    if cd[b, n] <= 0.0:
                        fire_at[n] = t
                else:
                    if seen >= 0:  # chase the nearest agent in acquisition range
                        want[n, 0] = pos[b, seen, 0]
                        want[n, 1] = pos[b, seen, 1]
                    else:
                        want[n, 0] = goal[b, n, 0]
                        want[n, 1] = goal[b, n, 1]
        # 2. attacks land; cooldowns tick (a ready weapon cannot bank time)
        for n in range(n_units):
            if hp[b, n] <= 0.0:
                continue
            if fire_at[n] >= 0:
                cd[b, n] += cooldown
                shots[b, n] += 1
            if cd[b, n] > 0.0:
                cd[b, n] -= 1.0
            else:
                cd[b, n] = 0.0
        for n in range(n_units):
            t = fire_at[n]
            if t >= 0:
                for _ in range(hits):
                    hp[b, t] = max(hp[b, t] - per_hit, 0.0)
        # 3. walkers move
        for n in range(n_units):
            if hp[b, n] <= 0.0 or np.isnan(want[n, 0]):
                continue
            dx = want[n, 0] - pos[b, n, 0]
            dy = want[n, 1] - pos[b, n, 1]
            d = np.sqrt(dx * dx + dy * dy)
            if d <= speed:
                pos[b, n, 0] = want[n, 0]
                pos[b, n, 1] = want[n, 1]
                if n < n_agents and order[b, n] == MOVE:
                    order[b, n] = IDLE
            else:
                pos[b, n, 0] += dx / d * speed
                pos[b, n, 1] += dy / d * speed
        # 4. overlapping units push each other apart, half each; then clamp into the walkable rectangle
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
            if hp[b, n] > 0.0:
                pos[b, n, 0] = min(max(pos[b, n, 0], x0), x1)
                pos[b, n, 1] = min(max(pos[b, n, 1], y0), y1)


@njit(cache=True)
def _keep_clear(pos, walk, wbox, b, n, mover, r, sx, sy, rect):
    """Keep a unit's footprint off unwalkable ground: clamp its centre into the bounding box of its
    walkable cells (less its radius; on the marine maps this is the whole rule: the band
    ``[r, 32 - r] x [8 + r, 24 - r]``), push its edge back from unwalkable cells east, west, north
    and south of its centre, and if its centre still ends on an unwalkable cell put it back where it
    stood at the start of the loop ``(sx, sy)``."""
    x = min(max(pos[b, n, 0], wbox[mover, 0] + r), wbox[mover, 1] - r)
    y = min(max(pos[b, n, 1], wbox[mover, 2] + r), wbox[mover, 3] - r)
    if rect:
        pos[b, n, 0] = x
        pos[b, n, 1] = y
        return
    if _walkable(walk, mover, x, y):
        if not _walkable(walk, mover, x + r, y):
            x = math.floor(x + r) - r
        if not _walkable(walk, mover, x - r, y):
            x = math.floor(x - r) + 1.0 + r
        if not _walkable(walk, mover, x, y + r):
            y = math.floor(y + r) - r
        if not _walkable(walk, mover, x, y - r):
            y = math.floor(y - r) + 1.0 + r
    if not _walkable(walk, mover, x, y):
        x, y = sx, sy
    pos[b, n, 0] = x
    pos[b, n, 1] = y


@njit(cache=True)
def step_kernel(actions, active, pos, hp, sh, en, cd, calm, order, goal, target, shots, prev_hp,
                dead_seen, last_action, ep_step, stats, cfg, uprop, pair, walk, wbox, clear, dist, n_agents,
                out_reward, out_term, out_won, out_dead_allies, out_dead_enemies, out_limit):
    """Apply the (already validated) actions and advance every active environment by one step.

    Writes SMAC's reward, the termination flag and the info values into the ``out_*`` arrays.
    Inactive environments are left untouched and report reward 0 and ``terminated = False``.
    """
    n_units = pos.shape[1]
    fire_at = np.empty(n_units, np.int64)
    heal_at = np.empty(n_units, np.int64)
    want = np.empty((n_units, 2))
    alive0 = np.empty(n_units, np.bool_)
    start = np.empty((n_units, 2))
    for b in range(pos.shape[0]):
        out_reward[b] = 0.0
        out_term[b] = False
        out_won[b] = False
        out_limit[b] = False
        if active[b]:
            _give_orders(b, actions, pos, hp, order, goal, target, shots, last_action, uprop, cfg, n_agents)
            for _ in range(int(cfg[C_STEP_MUL])):
                _game_loop(b, pos, hp, sh, en, cd, calm, order, goal, target, shots, uprop, pair, walk,
                           wbox, clear, dist, cfg, n_agents, fire_at, heal_at, want, alive0, start)
            _reward_and_termination(b, hp, sh, prev_hp, dead_seen, ep_step, stats, cfg, uprop, n_agents,
                                    out_reward, out_term, out_won, out_limit)
        _count_dead(b, hp, n_agents, out_dead_allies, out_dead_enemies)


@njit(cache=True)
def uniform_step_kernel(actions, active, pos, hp, sh, cd, order, goal, target, shots, prev_hp, dead_seen,
                        last_action, ep_step, stats, cfg, uprop, wbox, n_agents, out_reward, out_term, out_won,
                        out_dead_allies, out_dead_enemies, out_limit):
    """:func:`step_kernel` for the uniform maps (``C_UNIFORM``, the marine maps), with the game loop
    :func:`_uniform_game_loops`.

    Why a second kernel: the marine maps need none of the shields' regeneration delay, energy,
    terrain grids and navigation tables, and every array passed from Python costs time at each call.
    ``tests/test_env_maps.py`` checks that it gives the same battles as :func:`step_kernel`, bit for
    bit.
    """
    n_units = pos.shape[1]
    fire_at = np.empty(n_units, np.int64)
    want = np.empty((n_units, 2))
    for b in range(pos.shape[0]):
        out_reward[b] = 0.0
        out_term[b] = False
        out_won[b] = False
        out_limit[b] = False
        if active[b]:
            _give_orders(b, actions, pos, hp, order, goal, target, shots, last_action, uprop, cfg, n_agents)
            _uniform_game_loops(b, int(cfg[C_STEP_MUL]), pos, hp, cd, order, goal, target, shots, uprop, wbox, cfg,
                                n_agents, fire_at, want)
            _reward_and_termination(b, hp, sh, prev_hp, dead_seen, ep_step, stats, cfg, uprop, n_agents,
                                    out_reward, out_term, out_won, out_limit)
        _count_dead(b, hp, n_agents, out_dead_allies, out_dead_enemies)


@njit(cache=True)
def _give_orders(b, actions, pos, hp, order, goal, target, shots, last_action, uprop, cfg, n_agents):
    """SMAC's orders from the agents' actions in environment ``b`` (stop, move to a point
    ``move_amount`` away, attack or heal a unit); every unit's count of attacks restarts."""
    move_amount = cfg[C_MOVE_AMOUNT]
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
            target[b, i] = a - 6 if _heals_allies(uprop, i) else n_agents + a - 6
    for n in range(n_agents, pos.shape[1]):
        shots[b, n] = 0


@njit(cache=True)
def _count_dead(b, hp, n_agents, out_dead_allies, out_dead_enemies):
    """SMAC's ``dead_allies`` and ``dead_enemies`` of environment ``b``."""
    dead_a = 0
    dead_e = 0
    for n in range(hp.shape[1]):
        if hp[b, n] <= 0.0:
            if n < n_agents:
                dead_a += 1
            else:
                dead_e += 1
    out_dead_allies[b] = dead_a
    out_dead_enemies[b] = dead_e


@njit(cache=True)
def _reward_and_termination(b, hp, sh, prev_hp, dead_seen, ep_step, stats, cfg, uprop, n_agents,
                            out_reward, out_term, out_won, out_limit):
    """SMAC's ``reward_battle`` followed by the end-of-battle part of ``StarCraft2Env.step``
    (``update_units``' outcome rules, with the MMM maps' medivac rules)."""
    n_units = hp.shape[1]
    neg_scale = cfg[C_NEG_SCALE]
    only_positive = cfg[C_ONLY_POSITIVE] != 0.0
    delta_deaths = 0.0
    delta_ally = 0.0
    delta_enemy = 0.0
    alive_a = 0
    alive_e = 0
    fighters_a = 0  # living agents that are not medivacs
    last_e = -1
    for n in range(n_units):
        if hp[b, n] > 0.0:
            if n < n_agents:
                alive_a += 1
                if uprop[n, P_HEAL] <= 0.0:
                    fighters_a += 1
            else:
                alive_e += 1
                last_e = n
        if dead_seen[b, n]:
            continue
        now = hp[b, n] + sh[b, n]
        if n < n_agents:
            if hp[b, n] <= 0.0:
                dead_seen[b, n] = True
                if not only_positive:
                    delta_deaths -= cfg[C_DEATH_VALUE] * neg_scale
                delta_ally += prev_hp[b, n] * neg_scale
            else:
                delta_ally += neg_scale * (prev_hp[b, n] - now)
        else:
            if hp[b, n] <= 0.0:
                dead_seen[b, n] = True
                delta_deaths += cfg[C_DEATH_VALUE]
                delta_enemy += prev_hp[b, n]
            else:
                delta_enemy += prev_hp[b, n] - now
        prev_hp[b, n] = now
    if cfg[C_SPARSE] != 0.0:
        reward = 0.0
    elif only_positive:
        reward = abs(delta_enemy + delta_deaths)
    else:
        reward = delta_enemy + delta_deaths - delta_ally
    ep_step[b] += 1
    mmm = cfg[C_MMM] != 0.0
    lost = (alive_a == 0 and alive_e > 0) or (mmm and fighters_a == 0)
    won = (alive_a > 0 and alive_e == 0) or (mmm and alive_e == 1 and uprop[last_e, P_HEAL] > 0.0)
    if lost or won or (alive_a == 0 and alive_e == 0):  # battle over: loss, win, or draw
        out_term[b] = True
        stats[b, 1] += 1
        if lost:
            reward = -1.0 if cfg[C_SPARSE] != 0.0 else reward + cfg[C_DEFEAT]
        elif won:
            stats[b, 0] += 1
            out_won[b] = True
            reward = 1.0 if cfg[C_SPARSE] != 0.0 else reward + cfg[C_WIN]
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
def observe_kernel(pos, hp, sh, en, cd, last_action, ep_step, cfg, lay, uprop, pathing, height,
                   n_agents, n_actions, obs, state, avail):
    """Fill ``obs [B, A, obs_size]``, ``state [B, state_size]`` and ``avail [B, A, n_actions]``
    exactly as SMAC's ``get_obs_agent``, ``get_state`` and ``get_avail_agent_actions``."""
    n_units = pos.shape[1]
    n_enemies = n_units - n_agents
    move_amount = cfg[C_MOVE_AMOUNT]
    limit = cfg[C_LIMIT]
    enemy_feat = lay[L_ENEMY_FEAT]
    ally_feat = lay[L_ALLY_FEAT]
    health_feat = lay[L_ALL_HEALTH] != 0
    bits = lay[L_BITS]
    shield_a = lay[L_SHIELD_A] != 0
    shield_e = lay[L_SHIELD_E] != 0
    cx = cfg[C_MAP_X] / 2.0
    cy = cfg[C_MAP_Y] / 2.0
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
                if _can_move(pathing, x, y, k, move_amount):
                    av[2 + k] = 1
                    ob[k] = 1.0
            healer = _heals_allies(uprop, i)
            if healer:  # medivac on MMM maps: heal actions 6 + t for allies t
                for a in range(6, n_actions):
                    if _action_available(pos, hp, uprop, pathing, b, i, a, n_agents, move_amount):
                        av[a] = 1
            o = 4
            if lay[L_PATHING]:
                _surrounding(ob, o, pathing, x, y, move_amount, False)
                o += 8
            if lay[L_HEIGHT]:
                _surrounding(ob, o, height, x, y, move_amount, True)
            for e in range(n_enemies):
                t = n_agents + e
                if hp[b, t] <= 0.0:
                    continue
                d = _smac_dist(pos, b, i, t)
                if not healer and d <= SHOOT_RANGE:
                    av[6 + e] = 1
                if d < SIGHT_RANGE:
                    o = lay[L_ENEMY_OFF] + e * enemy_feat
                    ob[o] = av[6 + e]
                    ob[o + 1] = d / SIGHT_RANGE
                    ob[o + 2] = (pos[b, t, 0] - x) / SIGHT_RANGE
                    ob[o + 3] = (pos[b, t, 1] - y) / SIGHT_RANGE
                    o += 4
                    if health_feat:
                        ob[o] = hp[b, t] / uprop[t, P_HP_MAX]
                        o += 1
                        if shield_e:
                            ob[o] = sh[b, t] / uprop[t, P_SH_MAX]
                            o += 1
                    if bits > 0:
                        ob[o + int(uprop[t, P_TBIT])] = 1.0
            k = 0
            for j in range(n_agents):
                if j == i:
                    continue
                if hp[b, j] <= 0.0:
                    k += 1
                    continue
                d = _smac_dist(pos, b, i, j)
                if d < SIGHT_RANGE:
                    o = lay[L_ALLY_OFF] + k * ally_feat
                    ob[o] = 1.0
                    ob[o + 1] = d / SIGHT_RANGE
                    ob[o + 2] = (pos[b, j, 0] - x) / SIGHT_RANGE
                    ob[o + 3] = (pos[b, j, 1] - y) / SIGHT_RANGE
                    o += 4
                    if health_feat:
                        ob[o] = hp[b, j] / uprop[j, P_HP_MAX]
                        o += 1
                        if shield_a:
                            ob[o] = sh[b, j] / uprop[j, P_SH_MAX]
                            o += 1
                    if bits > 0:
                        ob[o + int(uprop[j, P_TBIT])] = 1.0
                        o += bits
                    if lay[L_OBS_LAST] and last_action[b, j] >= 0:
                        ob[o + last_action[b, j]] = 1.0
                k += 1
            o = lay[L_OWN_OFF]
            if lay[L_OWN_HEALTH]:
                ob[o] = hp[b, i] / uprop[i, P_HP_MAX]
                o += 1
                if shield_a:
                    ob[o] = sh[b, i] / uprop[i, P_SH_MAX]
                    o += 1
            if bits > 0:
                ob[o + int(uprop[i, P_TBIT])] = 1.0
        st = state[b]
        if lay[L_OBS_AS_STATE]:
            size = lay[L_OBS_SIZE]
            for i in range(n_agents):
                st[i * size:(i + 1) * size] = obs[b, i]
            continue
        af = lay[L_ALLY_STATE]
        for i in range(n_agents):
            if hp[b, i] > 0.0:
                o = af * i
                st[o] = hp[b, i] / uprop[i, P_HP_MAX]
                if uprop[i, P_ENERGY_STATE] != 0.0:
                    st[o + 1] = en[b, i] / uprop[i, P_MAX_CD]
                else:
                    st[o + 1] = max(cd[b, i], 0.0) / uprop[i, P_MAX_CD]
                st[o + 2] = (pos[b, i, 0] - cx) / cfg[C_MAP_X]
                st[o + 3] = (pos[b, i, 1] - cy) / cfg[C_MAP_Y]
                if shield_a:
                    st[o + 4] = sh[b, i] / uprop[i, P_SH_MAX]
                if bits > 0:
                    st[o + af - bits + int(uprop[i, P_TBIT])] = 1.0
        base = af * n_agents
        ef = lay[L_ENEMY_STATE]
        for e in range(n_enemies):
            t = n_agents + e
            if hp[b, t] > 0.0:
                o = base + ef * e
                st[o] = hp[b, t] / uprop[t, P_HP_MAX]
                st[o + 1] = (pos[b, t, 0] - cx) / cfg[C_MAP_X]
                st[o + 2] = (pos[b, t, 1] - cy) / cfg[C_MAP_Y]
                if shield_e:
                    st[o + 3] = sh[b, t] / uprop[t, P_SH_MAX]
                if bits > 0:
                    st[o + ef - bits + int(uprop[t, P_TBIT])] = 1.0
        o = base + ef * n_enemies
        if lay[L_STATE_LAST]:
            for i in range(n_agents):
                if last_action[b, i] >= 0:
                    st[o + i * n_actions + last_action[b, i]] = 1.0
            o += n_agents * n_actions
        if lay[L_STATE_T]:
            st[o] = ep_step[b] / limit


@njit(cache=True)
def uniform_observe_kernel(pos, hp, cd, last_action, ep_step, cfg, lay, uprop, n_agents, n_actions,
                           obs, state, avail):
    """:func:`observe_kernel` for the uniform maps (``C_UNIFORM``, the marine maps) without the grid
    features (``obs_pathing_grid``, ``obs_terrain_height``: the general kernel computes those).

    Why a second kernel: observations, states and masks are computed after every step, and the
    general kernel's per-unit tables, shields, medivac rules and pathing grid made the marine maps
    slower than with the marine-only simulator it replaced. Here the one unit type's numbers are
    scalars, there are no shields, a move's pathing test is :func:`_in_box`, and each distance is
    computed from differences the features reuse. ``tests/test_env_maps.py`` checks that both
    kernels give identical arrays.
    """
    n_units = pos.shape[1]
    n_enemies = n_units - n_agents
    move_amount = cfg[C_MOVE_AMOUNT]
    limit = cfg[C_LIMIT]
    enemy_feat = lay[L_ENEMY_FEAT]
    ally_feat = lay[L_ALLY_FEAT]
    health_feat = lay[L_ALL_HEALTH] != 0
    bits = lay[L_BITS]
    hp_max = uprop[0, P_HP_MAX]
    max_cd = uprop[0, P_MAX_CD]
    tbit = int(uprop[0, P_TBIT])
    map_x = cfg[C_MAP_X]
    map_y = cfg[C_MAP_Y]
    x0, x1, y0, y1 = cfg[C_PATH_X0], cfg[C_PATH_X1], cfg[C_PATH_Y0], cfg[C_PATH_Y1]
    cx = map_x / 2.0
    cy = map_y / 2.0
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
                px, py = _move_probe(x, y, k, move_amount)
                if _in_box(px, py, x0, x1, y0, y1):
                    av[2 + k] = 1
                    ob[k] = 1.0
            for e in range(n_enemies):
                t = n_agents + e
                if hp[b, t] <= 0.0:
                    continue
                dx = pos[b, t, 0] - x
                dy = pos[b, t, 1] - y
                d = _smac_len(dx, dy)
                if d <= SHOOT_RANGE:
                    av[6 + e] = 1
                if d < SIGHT_RANGE:
                    o = lay[L_ENEMY_OFF] + e * enemy_feat
                    ob[o] = av[6 + e]
                    ob[o + 1] = d / SIGHT_RANGE
                    ob[o + 2] = dx / SIGHT_RANGE
                    ob[o + 3] = dy / SIGHT_RANGE
                    o += 4
                    if health_feat:
                        ob[o] = hp[b, t] / hp_max
                        o += 1
                    if bits > 0:
                        ob[o + tbit] = 1.0
            k = 0
            for j in range(n_agents):
                if j == i:
                    continue
                if hp[b, j] <= 0.0:
                    k += 1
                    continue
                dx = pos[b, j, 0] - x
                dy = pos[b, j, 1] - y
                d = _smac_len(dx, dy)
                if d < SIGHT_RANGE:
                    o = lay[L_ALLY_OFF] + k * ally_feat
                    ob[o] = 1.0
                    ob[o + 1] = d / SIGHT_RANGE
                    ob[o + 2] = dx / SIGHT_RANGE
                    ob[o + 3] = dy / SIGHT_RANGE
                    o += 4
                    if health_feat:
                        ob[o] = hp[b, j] / hp_max
                        o += 1
                    if bits > 0:
                        ob[o + tbit] = 1.0
                        o += bits
                    if lay[L_OBS_LAST] and last_action[b, j] >= 0:
                        ob[o + last_action[b, j]] = 1.0
                k += 1
            o = lay[L_OWN_OFF]
            if lay[L_OWN_HEALTH]:
                ob[o] = hp[b, i] / hp_max
                o += 1
            if bits > 0:
                ob[o + tbit] = 1.0
        st = state[b]
        if lay[L_OBS_AS_STATE]:
            size = lay[L_OBS_SIZE]
            for i in range(n_agents):
                st[i * size:(i + 1) * size] = obs[b, i]
            continue
        af = lay[L_ALLY_STATE]
        for i in range(n_agents):
            if hp[b, i] > 0.0:
                o = af * i
                st[o] = hp[b, i] / hp_max
                st[o + 1] = max(cd[b, i], 0.0) / max_cd
                st[o + 2] = (pos[b, i, 0] - cx) / map_x
                st[o + 3] = (pos[b, i, 1] - cy) / map_y
                if bits > 0:
                    st[o + af - bits + tbit] = 1.0
        base = af * n_agents
        ef = lay[L_ENEMY_STATE]
        for e in range(n_enemies):
            t = n_agents + e
            if hp[b, t] > 0.0:
                o = base + ef * e
                st[o] = hp[b, t] / hp_max
                st[o + 1] = (pos[b, t, 0] - cx) / map_x
                st[o + 2] = (pos[b, t, 1] - cy) / map_y
                if bits > 0:
                    st[o + ef - bits + tbit] = 1.0
        o = base + ef * n_enemies
        if lay[L_STATE_LAST]:
            for i in range(n_agents):
                if last_action[b, i] >= 0:
                    st[o + i * n_actions + last_action[b, i]] = 1.0
            o += n_agents * n_actions
        if lay[L_STATE_T]:
            st[o] = ep_step[b] / limit


@njit(cache=True)
def _surrounding(ob, o, grid, x, y, move_amount, include_self):
    """SMAC's ``get_surrounding_pathing`` / ``get_surrounding_height``: the grid at 8 cells around
    ``(int(x), int(y))`` (N, S, E, W at 2 moves, then NE, SW, SE, NW at one move on each axis), and
    the agent's own cell with ``include_self``; outside the map reads 1, as in SMAC."""
    ix = int(x)
    iy = int(y)
    ma = int(move_amount)
    px = (ix, ix, ix + 2 * ma, ix - 2 * ma, ix + ma, ix - ma, ix + ma, ix - ma, ix)
    py = (iy + 2 * ma, iy - 2 * ma, iy, iy, iy + ma, iy - ma, iy - ma, iy + ma, iy)
    n = 9 if include_self else 8
    for k in range(n):
        inside = 0 <= px[k] < grid.shape[0] and 0 <= py[k] < grid.shape[1]
        ob[o + k] = float(grid[px[k], py[k]]) if inside else 1.0
