"""The marine maps the built-in simulator knows, with SMAC's numbers.

Every SMAC marine map is Terran versus Terran, marines only, on the same 32 x 32 map whose
pathable area is the horizontal band ``8 <= y < 24``. Allies spawn around (9, 16), enemies around
(23, 16): 14 apart, beyond the sight range of 9, so nobody sees an enemy on the first steps.

``MarineMicro_MvsM_4`` and ``_8`` come from a user-maps registry of a PyMARL fork, not from SMAC
itself. Their ``_mirror`` variants swap the two sides (allies spawn on the right), and their
``_dist`` variants spread the spawn positions more widely; they share the base map's numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymarl_explained.errors import EnvironmentSetupError

MAP_SIZE = 32.0
"""Width and height of every marine map, in SC2 distance units."""
PATHABLE_Y_MIN = 8.0
"""Lowest pathable y (inclusive)."""
PATHABLE_Y_MAX = 24.0
"""Highest pathable y (exclusive)."""
LEFT_SPAWN = (9.0, 16.0)
RIGHT_SPAWN = (23.0, 16.0)


@dataclass(frozen=True)
class MapParams:
    """Numbers of one marine map (field names follow SMAC's ``get_map_params`` dictionaries)."""

    n_agents: int
    n_enemies: int
    limit: int
    a_race: str = "T"
    b_race: str = "T"
    unit_type_bits: int = 0
    map_type: str = "marines"
    mirror: bool = False
    """Allies spawn on the right and enemies on the left (the ``_mirror`` variants)."""
    spawn_spread: float = 0.5
    """Half-width of the uniform random offset of each side's spawn point."""

    def as_dict(self) -> dict:
        """The SMAC-style dictionary (``n_agents``, ``n_enemies``, ``limit``, ...)."""
        return dict(self.__dict__)


def _marine_micro(n: int, limit: int) -> dict[str, MapParams]:
    base = f"MarineMicro_MvsM_{n}"
    return {
        base: MapParams(n, n, limit),
        base + "_mirror": MapParams(n, n, limit, mirror=True),
        base + "_dist": MapParams(n, n, limit, spawn_spread=2.0),
        base + "_dist_mirror": MapParams(n, n, limit, mirror=True, spawn_spread=2.0),
    }


MAPS: dict[str, MapParams] = {
    "3m": MapParams(3, 3, 60),
    "8m": MapParams(8, 8, 120),
    "25m": MapParams(25, 25, 150),
    "5m_vs_6m": MapParams(5, 6, 70),
    "8m_vs_9m": MapParams(8, 9, 120),
    "10m_vs_11m": MapParams(10, 11, 150),
    "27m_vs_30m": MapParams(27, 30, 180),
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
