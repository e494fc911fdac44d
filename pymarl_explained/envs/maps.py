"""The maps the built-in simulator knows: SMAC's 23 maps and the MarineMicro maps.

Registry values (``n_agents``, ``n_enemies``, ``limit``, races, ``unit_type_bits``, ``map_type``)
are SMAC's (``smac_maps.py``). Everything physical about SMAC's maps (grid, cliffs, heights, spawn
points, the units each side creates, the enemy's order, the ``_RL`` unit fields) comes from the data
generated from SMAC's own ``.SC2Map`` files (:mod:`pymarl_explained.envs.mapdata`).

The seven marine maps share one 32 x 32 map whose pathable area is the horizontal band
``8 <= y < 24``; allies spawn at (9, 16), enemies at (23, 16): 14 apart, beyond the sight range of 9.

``MarineMicro_MvsM_4`` and ``_8`` come from a user-maps registry of a PyMARL fork, not from SMAC
itself; they use the marine maps' terrain. Their ``_mirror`` variants swap the two sides (allies
spawn on the right), and their ``_dist`` variants spread the spawn positions more widely; they share
the base map's numbers. Unlike SMAC's maps they add a random offset to the spawn points by default.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymarl_explained.errors import EnvironmentSetupError

MAP_SIZE = 32.0
"""Width and height of every map, in SC2 distance units (cells)."""
PATHABLE_Y_MIN = 8.0
"""Lowest pathable y (inclusive) of the marine maps' band."""
PATHABLE_Y_MAX = 24.0
"""Highest pathable y (exclusive) of the marine maps' band."""
LEFT_SPAWN = (9.0, 16.0)
RIGHT_SPAWN = (23.0, 16.0)


@dataclass(frozen=True)
class MapParams:
    """Numbers of one map (field names follow SMAC's ``get_map_params`` dictionaries)."""

    n_agents: int
    n_enemies: int
    limit: int
    a_race: str = "T"
    b_race: str = "T"
    unit_type_bits: int = 0
    map_type: str = "marines"
    mirror: bool = False
    """Allies spawn on the right and enemies on the left (the ``_mirror`` variants)."""
    spawn_spread: float = 0.0
    """Default half-width of the uniform random offset of each spawn group (0: SMAC's fixed points).
    ``env_args.builtin_spawn_spread`` overrides it."""
    terrain: str = ""
    """The SMAC map whose generated data this map uses ("" for SMAC's maps: their own)."""

    def as_dict(self) -> dict:
        """The SMAC-style dictionary (``n_agents``, ``n_enemies``, ``limit``, ...)."""
        return dict(self.__dict__)

    @property
    def shield_bits_ally(self) -> int:
        """1 exactly when the agents are Protoss (SMAC)."""
        return int(self.a_race == "P")

    @property
    def shield_bits_enemy(self) -> int:
        """1 exactly when the enemies are Protoss (SMAC)."""
        return int(self.b_race == "P")


def _smac(a: int, e: int, limit: int, a_race: str, b_race: str, bits: int, map_type: str) -> MapParams:
    return MapParams(a, e, limit, a_race, b_race, bits, map_type)


SMAC_MAPS: dict[str, MapParams] = {
    "3m": _smac(3, 3, 60, "T", "T", 0, "marines"),
    "8m": _smac(8, 8, 120, "T", "T", 0, "marines"),
    "25m": _smac(25, 25, 150, "T", "T", 0, "marines"),
    "5m_vs_6m": _smac(5, 6, 70, "T", "T", 0, "marines"),
    "8m_vs_9m": _smac(8, 9, 120, "T", "T", 0, "marines"),
    "10m_vs_11m": _smac(10, 11, 150, "T", "T", 0, "marines"),
    "27m_vs_30m": _smac(27, 30, 180, "T", "T", 0, "marines"),
    "MMM": _smac(10, 10, 150, "T", "T", 3, "MMM"),
    "MMM2": _smac(10, 12, 180, "T", "T", 3, "MMM"),
    "2s3z": _smac(5, 5, 120, "P", "P", 2, "stalkers_and_zealots"),
    "3s5z": _smac(8, 8, 150, "P", "P", 2, "stalkers_and_zealots"),
    "3s5z_vs_3s6z": _smac(8, 9, 170, "P", "P", 2, "stalkers_and_zealots"),
    "3s_vs_3z": _smac(3, 3, 150, "P", "P", 0, "stalkers"),
    "3s_vs_4z": _smac(3, 4, 200, "P", "P", 0, "stalkers"),
    "3s_vs_5z": _smac(3, 5, 250, "P", "P", 0, "stalkers"),
    "1c3s5z": _smac(9, 9, 180, "P", "P", 3, "colossi_stalkers_zealots"),
    "2m_vs_1z": _smac(2, 1, 150, "T", "P", 0, "marines"),
    "corridor": _smac(6, 24, 400, "P", "Z", 0, "zealots"),
    "6h_vs_8z": _smac(6, 8, 150, "Z", "P", 0, "hydralisks"),
    "2s_vs_1sc": _smac(2, 1, 300, "P", "Z", 0, "stalkers"),
    "so_many_baneling": _smac(7, 32, 100, "P", "Z", 0, "zealots"),
    "bane_vs_bane": _smac(24, 24, 200, "Z", "Z", 2, "bane"),
    "2c_vs_64zg": _smac(2, 64, 400, "P", "Z", 0, "colossus"),
}
"""SMAC's map registry (``smac/env/starcraft2/maps/smac_maps.py``), in its order."""


def _marine_micro(n: int, limit: int) -> dict[str, MapParams]:
    base = f"MarineMicro_MvsM_{n}"

    def mm(**kw) -> MapParams:
        return MapParams(n, n, limit, terrain="3m", **{"spawn_spread": 0.5, **kw})

    return {
        base: mm(),
        base + "_mirror": mm(mirror=True),
        base + "_dist": mm(spawn_spread=2.0),
        base + "_dist_mirror": mm(mirror=True, spawn_spread=2.0),
    }


MAPS: dict[str, MapParams] = {
    **SMAC_MAPS,
    **_marine_micro(4, 60),
    **_marine_micro(8, 100),
}
"""Map name -> :class:`MapParams`, for every map the built-in simulator can play."""


def get_map_params(name: str) -> MapParams:
    """Return the :class:`MapParams` of ``name``; an unknown name raises a list of the known maps."""
    try:
        return MAPS[name]
    except (KeyError, TypeError):
        known = ", ".join(MAPS)
        raise EnvironmentSetupError(
            f"Unknown map {name!r}. The built-in simulator knows these maps: {known}. "
            "Set env_args.map_name to one of them."
        ) from None
