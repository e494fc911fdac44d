"""What a map puts on the battlefield: units, their numbers, spawn points, the enemy's order, terrain.

:func:`build_scenario` turns a map name into the constant arrays the numba kernels read:

* ``uprop [N, NP]``: every unit's numbers (columns ``P_*`` of :mod:`.kernels`), agents first;
* the spawn formation: each unit's group point and its offset inside the group's grid;
* the agents' type blocks (SMAC sorts agents by unit type, then x, then y);
* the unit-type one-hot index of every unit (SMAC's rules per ``map_type``, quirks included);
* the enemy's order (attack-move to a point, to a random point between two points, attack the
  agents wherever they are, or none) and the terrain grids.

Agent order: SMAC sorts agents by their raw unit-type id, and the maps' ``_RL`` ids are consecutive
in alphabetical order of the ``_RL`` names, so agents are grouped by type in alphabetical order
(e.g. MMM: marauders 0-1, marines 2-8, medivac 9). Enemies keep the order the map creates them in.
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import kernels as K
from .maps import LEFT_SPAWN, RIGHT_SPAWN, MapParams, get_map_params
from .terrain import movement_grids, navigation_tables, parse_grids
from .units import FLYING, GROUND, SPLASH_BANELING, UNIT_TYPES, UnitType, ally_unit_type, stock_name

DATA_FILE = Path(__file__).with_name("mapdata") / "smac_maps.json"

ENEMY_ONE_HOT = {
    "stalkers_and_zealots": {"Zealot": 0, "Stalker": 1},  # SMAC: raw id - 73 (reversed vs allies)
    "colossi_stalkers_zealots": {"Colossus": 0, "Stalker": 1, "*": 2},
    "bane": {"Baneling": 0, "*": 1},
    "MMM": {"Marauder": 0, "Marine": 1, "*": 2},
}
"""SMAC's ``get_unit_type_id`` for enemies (stock raw ids); ``*`` = any other type."""

ORDER_NONE, ORDER_POINT, ORDER_UNITS, ORDER_RANDOM_BETWEEN = 0, 1, 2, 3
ORDER_KINDS = {"none": ORDER_NONE, "point": ORDER_POINT, "attack_units": ORDER_UNITS,
               "random_between": ORDER_RANDOM_BETWEEN}

FORMATION_SPACING = 0.8
"""Distance between neighbouring marines of a spawn formation (just over two radii); groups with
larger units use twice their largest radius plus 0.05."""


@functools.lru_cache(maxsize=1)
def load_map_data() -> dict:
    """The generated data of SMAC's 23 maps (``mapdata/smac_maps.json``), keyed by map name."""
    with open(DATA_FILE, encoding="utf-8") as f:
        return json.load(f)["maps"]


@dataclass(frozen=True)
class Terrain:
    """Grids of one map (see :mod:`.terrain`)."""

    pathing: np.ndarray
    height: np.ndarray
    cliff: np.ndarray
    walk: np.ndarray
    wbox: np.ndarray
    """[3, 4] bounding box (x0, x1, y0, y1) of each mover's walkable cells."""
    rect: tuple[bool, bool, bool]
    """Whether each mover's walkable cells fill their bounding box."""
    pbox: tuple[int, int, int, int]
    """Bounding box (x0, x1, y0, y1) of the pathing grid's pathable cells."""
    pathing_rect: bool
    """Whether the pathable cells fill ``pbox`` (then SMAC's pathing test is four comparisons)."""
    clear: np.ndarray
    dist: np.ndarray
    navigate: bool


@functools.cache
def get_terrain(map_key: str) -> Terrain:
    """Terrain of the SMAC map ``map_key`` (navigation tables only for non-convex maps)."""
    pathing, cliff, height = parse_grids(load_map_data()[map_key])
    walk = movement_grids(pathing, cliff)
    clear, dist, convex = navigation_tables(walk[0])
    if convex:  # straight lines always work: keep tiny tables
        clear, dist = np.ones((1, 1), np.uint8), np.zeros((1, 1), np.int16)
    wbox = np.zeros((3, 4))
    rect = []
    for m in range(3):
        xs, ys = np.nonzero(walk[m])
        wbox[m] = [xs.min(), xs.max() + 1, ys.min(), ys.max() + 1]
        rect.append(bool(walk[m][xs.min():xs.max() + 1, ys.min():ys.max() + 1].all()))
    xs, ys = np.nonzero(pathing)
    pbox = (int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1)
    pathing_rect = bool(pathing[pbox[0]:pbox[1], pbox[2]:pbox[3]].all())
    for arr in (pathing, height, cliff, walk, wbox, clear, dist):
        arr.setflags(write=False)
    return Terrain(pathing, height, cliff, walk, wbox, tuple(rect), pbox, pathing_rect, clear, dist, not convex)


@dataclass(frozen=True)
class Scenario:
    """Everything constant about one map, as the kernels need it."""

    params: MapParams
    terrain: Terrain
    unit_types: tuple[UnitType, ...]
    uprop: np.ndarray
    pair: np.ndarray
    """[3, N, N] weapon reach, can-hit and overlap distance of every pair (``kernels.PAIR_*``)."""
    flags: dict
    """Which mechanics the map needs (``kernels.C_HAS_*``, ``C_RECT``) -> 0/1."""
    group_points: np.ndarray
    """[G, 2] spawn points of the unit groups (with the mirror applied)."""
    unit_group: np.ndarray
    """[N] group of every unit."""
    unit_offset: np.ndarray
    """[N, 2] offset of every unit from its group point (the formation)."""
    spawn_order: np.ndarray
    """[N] units in the order their random jitter is drawn (creation order)."""
    ally_block: np.ndarray
    """[A] type block of every agent (agents are sorted by position inside a block)."""
    order_kind: int
    order_points: np.ndarray
    """[2, 2] attack-move point (first row) or the two points of a random point between them."""

    @property
    def n_units(self) -> int:
        return len(self.unit_types)


def _formation(n_units: int, spacing: float) -> list[tuple[float, float]]:
    """Offsets of a compact grid of ``n_units`` (columns of ``rows`` units, centred)."""
    cols = int(math.ceil(math.sqrt(n_units)))
    rows = (n_units + cols - 1) // cols
    out = []
    for k in range(n_units):
        col, row = k // rows, k % rows
        out.append(((col - (cols - 1) / 2.0) * spacing, (row - (rows - 1) / 2.0) * spacing))
    return out


def _unit_rows(params: MapParams, name: str) -> tuple[list, list, dict]:
    """``(ally creations, enemy creations, order)`` as ``[(map unit name, count, point)]``."""
    if params.terrain:  # MarineMicro: the marine band, marines on both sides
        ally, enemy = (RIGHT_SPAWN, LEFT_SPAWN) if params.mirror else (LEFT_SPAWN, RIGHT_SPAWN)
        return ([("Marine_RL", params.n_agents, ally)], [("Marine", params.n_enemies, enemy)],
                {"kind": "point", "xy": list(ally)})
    data = load_map_data()[name]
    ally = [(u["type"], u["count"], tuple(u["xy"])) for u in data["units"] if u["player"] == 1]
    enemy = [(u["type"], u["count"], tuple(u["xy"])) for u in data["units"] if u["player"] == 2]
    return ally, enemy, data["enemy_order"]


def build_scenario(name: str) -> Scenario:
    """The :class:`Scenario` of map ``name`` (cached)."""
    return _build(name)


@functools.cache
def _build(name: str) -> Scenario:
    params = get_map_params(name)
    terrain_key = params.terrain or name
    data = load_map_data()[terrain_key]
    ally_rows, enemy_rows, order = _unit_rows(params, name)
    ally_fields = data["ally_unit_data"]
    # agents: one block per _RL type, alphabetical (= SMAC's raw-id order); enemies: creation order
    ally_names = sorted({u for u, _, _ in ally_rows})
    ally_index = {u: i for i, u in enumerate(ally_names)}
    counts = {u: sum(c for v, c, _ in ally_rows if v == u) for u in ally_names}
    first = {}
    start = 0
    for u in ally_names:
        first[u] = start
        start += counts[u]
    n_agents = start
    n_enemies = sum(c for _, c, _ in enemy_rows)
    if (n_agents, n_enemies) != (params.n_agents, params.n_enemies):
        raise ValueError(f"{name}: map data has {n_agents} v {n_enemies}, registry "
                         f"{params.n_agents} v {params.n_enemies}")
    types: list[UnitType | None] = [None] * (n_agents + n_enemies)
    tbit = np.full(n_agents + n_enemies, -1, np.int64)
    creation: list[tuple[int, tuple[float, float]]] = []  # (unit index, point) in creation order
    taken = dict.fromkeys(ally_names, 0)
    for u, count, point in ally_rows:
        utype = ally_unit_type(u, ally_fields.get(u))
        for _ in range(count):
            idx = first[u] + taken[u]
            taken[u] += 1
            types[idx] = utype
            if params.unit_type_bits:
                tbit[idx] = ally_index[u]
            creation.append((idx, point))
    idx = n_agents
    one_hot = ENEMY_ONE_HOT.get(params.map_type, {})
    for u, count, point in enemy_rows:
        stock = stock_name(u)
        for _ in range(count):
            types[idx] = UNIT_TYPES[stock]
            if params.unit_type_bits:
                tbit[idx] = one_hot.get(stock, one_hot.get("*", -1))
            creation.append((idx, point))
            idx += 1
    # spawn groups: all units created at one point form one formation, in creation order
    points: list[tuple[float, float]] = []
    members: dict[int, list[int]] = {}
    for i, point in creation:
        if point not in points:
            points.append(point)
        members.setdefault(points.index(point), []).append(i)
    unit_group = np.zeros(len(types), np.int64)
    unit_offset = np.zeros((len(types), 2))
    centre = [np.mean([p for i, p in creation if (i < n_agents) == side], axis=0) for side in (True, False)]
    for g, units in members.items():
        ground = [i for i in units if types[i].mover != FLYING]
        r_max = max((types[i].radius for i in ground), default=0.0)
        spacing = FORMATION_SPACING if r_max <= 0.375 else 2 * r_max + 0.05
        # the first created units stand at the back, away from the other side (SMAC's maps only:
        # the MarineMicro maps keep their historical layout)
        foe = centre[1] if units[0] < n_agents else centre[0]
        flip = -1.0 if (not params.terrain and foe[0] < points[g][0]) else 1.0
        for i, off in zip(ground, _formation(len(ground), spacing), strict=True):
            unit_offset[i] = (flip * off[0], off[1])
        for i in units:
            unit_group[i] = g
    ally_block = np.array([ally_index[types[i].name] if types[i].name in ally_index else 0
                           for i in range(n_agents)], np.int64)
    order_points = np.zeros((2, 2))
    kind = ORDER_KINDS[order["kind"]]
    if kind == ORDER_POINT:
        order_points[0] = order["xy"]
    elif kind == ORDER_RANDOM_BETWEEN:
        order_points[:] = order["points"]
    healer_rule = params.map_type == "MMM"
    uprop = np.stack([_props(t, tbit[i], healer_rule) for i, t in enumerate(types)])
    pair = _pairs(types)
    terrain = get_terrain(terrain_key)
    flags = {K.C_HAS_SHIELD: any(t.shield > 0 for t in types),
             K.C_HAS_LIFE_REGEN: any(t.life_regen > 0 for t in types),
             K.C_HAS_ENERGY: any(t.energy_regen > 0 for t in types),
             K.C_HAS_HEAL: any(t.heal_rate > 0 for t in types),
             K.C_HAS_BANE: any(t.splash == SPLASH_BANELING for t in types),
             K.C_RECT: all(terrain.rect[t.mover] for t in types)}
    plain = (bool(np.all(uprop == uprop[0])) and types[0].mover == GROUND and types[0].splash == 0
             and types[0].heal_rate == 0 and types[0].shield == 0 and types[0].life_regen == 0
             and types[0].speed > 0 and types[0].damage > 0 and types[0].hits_ground)
    no_shield_bits = params.shield_bits_ally == 0 and params.shield_bits_enemy == 0
    flags[K.C_UNIFORM] = (plain and flags[K.C_RECT] and kind == ORDER_POINT and terrain.pathing_rect
                          and no_shield_bits and params.map_type != "MMM")
    for arr in (uprop, pair, unit_group, unit_offset, ally_block, order_points):
        arr.setflags(write=False)
    return Scenario(params, terrain, tuple(types), uprop, pair, flags, np.array(points, float),
                    unit_group, unit_offset, np.array([i for i, _ in creation], np.int64), ally_block,
                    kind, order_points)


def _pairs(types: list) -> np.ndarray:
    """``pair [3, N, N]``: reach (range + both radii), can-hit (air/ground), overlap distance."""
    n = len(types)
    pair = np.zeros((3, n, n))
    for i, a in enumerate(types):
        for j, t in enumerate(types):
            pair[K.PAIR_REACH, i, j] = a.range + a.radius + t.radius
            hits = a.hits_air if t.mover == FLYING else a.hits_ground
            pair[K.PAIR_HIT, i, j] = a.damage > 0 and hits
            if i != j and a.mover == t.mover:  # same layer: ground, air, colossi
                pair[K.PAIR_SEP, i, j] = a.radius + t.radius
    return pair


def _props(t: UnitType, tbit: int, healer_rule: bool) -> np.ndarray:
    """One row of ``uprop`` (column indices ``K.P_*``)."""
    row = np.zeros(K.NP)
    row[K.P_HP_MAX] = t.health
    row[K.P_SH_MAX] = t.shield
    row[K.P_ARMOUR] = t.armour
    row[K.P_DAMAGE] = t.damage
    row[K.P_HITS] = t.hits
    row[K.P_BONUS] = t.bonus
    row[K.P_BONUS_VS] = t.bonus_vs
    row[K.P_ATTR] = t.attributes
    row[K.P_COOLDOWN] = t.cooldown
    row[K.P_RANGE] = t.range
    row[K.P_SPEED] = t.speed
    row[K.P_RADIUS] = t.radius
    row[K.P_SIGHT] = t.sight
    row[K.P_MOVER] = t.mover
    row[K.P_HITS_GROUND] = t.hits_ground
    row[K.P_HITS_AIR] = t.hits_air
    row[K.P_SPLASH] = t.splash
    row[K.P_SPLASH_R] = t.splash_radius
    row[K.P_HEAL] = t.heal_rate
    row[K.P_EN_START] = t.energy_start
    row[K.P_EN_MAX] = t.energy_max
    row[K.P_EN_REGEN] = t.energy_regen
    row[K.P_SH_REGEN] = t.shield_regen
    row[K.P_SH_DELAY] = t.shield_delay
    row[K.P_LIFE_REGEN] = t.life_regen
    row[K.P_MAX_CD] = t.max_cooldown
    row[K.P_TBIT] = tbit
    row[K.P_ENERGY_STATE] = healer_rule and t.heal_rate > 0
    return row
