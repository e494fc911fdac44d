"""Unit numbers and the game clock (published SC2 unit data, in "normal" game-speed units).

All times inside the simulator are counted in game loops: 16 loops per game second, and one
environment step lasts ``step_mul`` loops (8 by default, i.e. half a game second). Speeds are stored
per loop, cooldowns in loops, regeneration per loop.

:data:`UNIT_TYPES` holds the stock units of SMAC's maps (the enemies are stock units). The agents are
the maps' ``_RL`` copies: the stock unit with the fields the map file overrides (health, shields,
armour, speed, sight, radius, regeneration, energy), read from the generated map data
(:mod:`pymarl_explained.envs.mapdata`). Weapons are never overridden by the maps.

Choices where the sources disagree (patch-dependent numbers; see the reference notes):
baneling 20 damage +15 vs Light (the game's stored Liquipedia revision, not SMAClite's 80),
hydralisk cooldown 0.59 "faster" seconds (older data, closer to SC2 4.6.2 than 0.54), enemy medivac
2.5 per game second (stock; the agents' ``Medivac_RL`` has 2.75 from the map file).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

LOOPS_PER_SECOND = 16
"""Game loops per game second."""
FASTER = 1.4
"""Game seconds per real second at "faster" speed (Liquipedia's unit pages use faster seconds)."""

SIGHT_RANGE = 9.0
"""SMAC's sight range: units at distance < 9 appear in an observation (every unit type)."""
SHOOT_RANGE = 6.0
"""SMAC's shoot range: an attack (or heal) action is available at distance <= 6 (every unit type)."""

# Attribute bits.
LIGHT, ARMORED, BIOLOGICAL, MECHANICAL, MASSIVE, STRUCTURE = 1, 2, 4, 8, 16, 32
ATTRIBUTE_BITS = {"Light": LIGHT, "Armored": ARMORED, "Biological": BIOLOGICAL,
                  "Mechanical": MECHANICAL, "Massive": MASSIVE, "Structure": STRUCTURE}

# Movers: how terrain limits a unit.
GROUND, FLYING, CLIFF_WALKER = 0, 1, 2
# Special attacks.
SPLASH_NONE, SPLASH_LINE, SPLASH_BANELING = 0, 1, 2


@dataclass(frozen=True)
class UnitType:
    """Numbers of one unit type (per game loop, game loops, map cells)."""

    name: str
    race: str
    health: float
    shield: float = 0.0
    armour: float = 0.0
    damage: float = 0.0
    """Damage per hit (0: no weapon)."""
    hits: int = 1
    """Hits per attack (zealot and colossus: 2); armour applies to each."""
    bonus: float = 0.0
    bonus_vs: int = 0
    """Attribute bits the bonus damage applies to."""
    attributes: int = 0
    cooldown: float = 0.0
    """Weapon cooldown in game loops."""
    range: float = 0.0
    """Weapon (or heal) range, edge to edge."""
    speed: float = 0.0
    """Walking speed per game loop."""
    radius: float = 0.5
    sight: float = 9.0
    """The unit's own sight range (used by the enemy's target acquisition only; SMAC's
    observations use :data:`SIGHT_RANGE` for every unit)."""
    mover: int = GROUND
    hits_ground: bool = True
    hits_air: bool = False
    splash: int = SPLASH_NONE
    splash_radius: float = 0.0
    heal_rate: float = 0.0
    """Health healed per loop (medivac); a healer has no weapon."""
    energy_start: float = 0.0
    energy_max: float = 0.0
    energy_regen: float = 0.0
    """Energy regenerated per loop."""
    shield_regen: float = 0.0
    """Shield regenerated per loop, after ``shield_delay`` loops without damage."""
    shield_delay: float = 0.0
    life_regen: float = 0.0
    """Health regenerated per loop (Zerg)."""
    max_cooldown: float = 15.0
    """SMAC's ``unit_max_cooldown``: divisor of the cooldown (medivac: energy) in the state."""
    sources: tuple[str, ...] = field(default=(), compare=False)

    @property
    def fire_range(self) -> float:
        """Weapon range from centre to centre against a unit of the same radius."""
        return self.range + 2 * self.radius


def _per_loop(per_second: float) -> float:
    return per_second / LOOPS_PER_SECOND


def _loops(game_seconds: float) -> float:
    return game_seconds * LOOPS_PER_SECOND


def _faster_loops(faster_seconds: float) -> float:
    return faster_seconds * FASTER * LOOPS_PER_SECOND


SHIELD_REGEN = _per_loop(2.0)
"""Protoss shields regenerate 2 per game second ..."""
SHIELD_DELAY = _loops(10.0)
"""... once no damage was taken for 10 game seconds (160 loops = 20 env steps)."""
ZERG_REGEN = _per_loop(0.2734)
"""Zerg health regeneration, 0.2734 per game second."""

UNIT_TYPES: dict[str, UnitType] = {
    "Marine": UnitType(
        "Marine", "T", 45.0, damage=6.0, attributes=LIGHT | BIOLOGICAL, cooldown=0.8608 * LOOPS_PER_SECOND,
        range=5.0, speed=_per_loop(2.25), radius=0.375, sight=9.0, hits_air=True, max_cooldown=15.0,
        sources=("Liquipedia Marine", "smac-facts")),
    "Marauder": UnitType(
        "Marauder", "T", 125.0, armour=1.0, damage=10.0, bonus=10.0, bonus_vs=ARMORED,
        attributes=ARMORED | BIOLOGICAL, cooldown=_faster_loops(1.07), range=6.0, speed=_per_loop(2.25),
        radius=0.5625, sight=10.0, max_cooldown=25.0, sources=("sc2jpwiki Marauder", "map UnitData")),
    "Medivac": UnitType(
        "Medivac", "T", 150.0, armour=1.0, attributes=ARMORED | MECHANICAL, range=4.0,
        speed=_per_loop(2.5), radius=0.75, sight=11.0, mover=FLYING, hits_ground=False,
        heal_rate=_per_loop(9.0), energy_start=50.0, energy_max=200.0, energy_regen=_per_loop(0.5625),
        max_cooldown=200.0, sources=("Liquipedia Medivac", "map Medivac_RL", "SMAClite heal range")),
    "Stalker": UnitType(
        "Stalker", "P", 80.0, shield=80.0, armour=1.0, damage=13.0, bonus=5.0, bonus_vs=ARMORED,
        attributes=ARMORED | MECHANICAL, cooldown=_faster_loops(1.34), range=6.0,
        speed=_per_loop(2.9531), radius=0.625, sight=10.0, hits_air=True, shield_regen=SHIELD_REGEN,
        shield_delay=SHIELD_DELAY, max_cooldown=35.0, sources=("sc2jpwiki Stalker", "map Stalker_RL")),
    "Zealot": UnitType(
        "Zealot", "P", 100.0, shield=50.0, armour=1.0, damage=8.0, hits=2, attributes=LIGHT | BIOLOGICAL,
        cooldown=_loops(1.2), range=0.1, speed=_per_loop(2.25), radius=0.5, sight=9.0,
        shield_regen=SHIELD_REGEN, shield_delay=SHIELD_DELAY, max_cooldown=22.0,
        sources=("Liquipedia Zealot", "SMAClite radius")),
    "Colossus": UnitType(
        "Colossus", "P", 200.0, shield=150.0, armour=1.0, damage=10.0, hits=2, bonus=5.0, bonus_vs=LIGHT,
        attributes=ARMORED | MECHANICAL | MASSIVE, cooldown=_faster_loops(1.07), range=7.0,
        speed=_per_loop(2.25), radius=1.0, sight=10.0, mover=CLIFF_WALKER, splash=SPLASH_LINE,
        splash_radius=1.4, shield_regen=SHIELD_REGEN, shield_delay=SHIELD_DELAY, max_cooldown=24.0,
        sources=("Liquipedia Colossus", "map Colossus_RL", "SMAClite line")),
    "Hydralisk": UnitType(
        "Hydralisk", "Z", 90.0, damage=12.0, attributes=LIGHT | BIOLOGICAL, cooldown=_faster_loops(0.59),
        range=5.0, speed=_per_loop(2.25), radius=0.625, sight=9.0, hits_air=True, life_regen=ZERG_REGEN,
        max_cooldown=10.0, sources=("Liquipedia Hydralisk", "map Hydralisk_RL")),
    "Zergling": UnitType(
        "Zergling", "Z", 35.0, damage=5.0, attributes=LIGHT | BIOLOGICAL, cooldown=_faster_loops(0.497),
        range=0.1, speed=_per_loop(2.9531), radius=0.375, sight=8.0, life_regen=ZERG_REGEN,
        max_cooldown=11.0, sources=("Liquipedia Zergling", "map Zergling_RL")),
    "Baneling": UnitType(
        "Baneling", "Z", 30.0, damage=20.0, bonus=15.0, bonus_vs=LIGHT, attributes=BIOLOGICAL,
        cooldown=0.0, range=0.25, speed=_per_loop(2.5), radius=0.375, sight=8.0,
        splash=SPLASH_BANELING, splash_radius=2.2, life_regen=ZERG_REGEN, max_cooldown=1.0,
        sources=("Liquipedia Baneling", "map Baneling_RL")),
    "SpineCrawler": UnitType(
        "SpineCrawler", "Z", 300.0, armour=2.0, damage=25.0, bonus=5.0, bonus_vs=ARMORED,
        attributes=ARMORED | BIOLOGICAL | STRUCTURE, cooldown=_faster_loops(1.32), range=7.0, speed=0.0,
        radius=0.5, sight=11.0, life_regen=ZERG_REGEN, max_cooldown=15.0,
        sources=("Liquipedia Spine Crawler", "SMAClite")),
}
"""Stock unit types by their game name (the enemies of SMAC's maps use these unchanged)."""

ALLY_SUFFIX = "_RL"
"""SMAC's maps define the agents' units as copies named ``<Stock>_RL``."""
ALLY_ALIASES = {"Colosus_RL": "Colossus"}
"""1c3s5z spells its colossus copy with one s."""


def stock_name(map_unit: str) -> str:
    """The stock unit a map unit name refers to (``Zealot_RL`` -> ``Zealot``)."""
    if map_unit in ALLY_ALIASES:
        return ALLY_ALIASES[map_unit]
    return map_unit[: -len(ALLY_SUFFIX)] if map_unit.endswith(ALLY_SUFFIX) else map_unit


def ally_unit_type(map_unit: str, fields: dict | None) -> UnitType:
    """The stock type of ``map_unit`` with the numeric fields of its ``_RL`` definition applied.

    ``fields`` are the map file's values (per game second / game seconds, as in ``UnitData.xml``).
    """
    base = UNIT_TYPES[stock_name(map_unit)]
    if not fields:
        return base
    conv = {
        "LifeMax": ("health", 1.0), "ShieldsMax": ("shield", 1.0), "LifeArmor": ("armour", 1.0),
        "LifeRegenRate": ("life_regen", 1 / LOOPS_PER_SECOND),
        "ShieldRegenRate": ("shield_regen", 1 / LOOPS_PER_SECOND),
        "ShieldRegenDelay": ("shield_delay", LOOPS_PER_SECOND),
        "EnergyStart": ("energy_start", 1.0), "EnergyMax": ("energy_max", 1.0),
        "EnergyRegenRate": ("energy_regen", 1 / LOOPS_PER_SECOND),
        "Speed": ("speed", 1 / LOOPS_PER_SECOND), "Sight": ("sight", 1.0), "Radius": ("radius", 1.0),
    }
    changes = {conv[k][0]: float(v) * conv[k][1] for k, v in fields.items() if k in conv}
    return replace(base, name=map_unit, **changes)


# The marine numbers under their historical names (the marine maps, benchmarks and replays use them).
MARINE = UNIT_TYPES["Marine"]
MARINE_HEALTH = MARINE.health
"""Maximum health of a marine (armour 0, no shield)."""
MARINE_DAMAGE = MARINE.damage
"""Damage of one shot: eight shots kill a marine."""
MARINE_RADIUS = MARINE.radius
"""Radius of a marine's footprint; units closer than two radii overlap."""
MARINE_WEAPON_RANGE = MARINE.range
"""Weapon range, edge to edge."""
MARINE_FIRE_RANGE = MARINE.fire_range
"""Weapon range centre to centre (5.75): a marine fires when its target is this close."""
MARINE_COOLDOWN_LOOPS = MARINE.cooldown
"""Weapon cooldown, 0.8608 game seconds = 13.77 loops (about 1.7 environment steps)."""
MARINE_SPEED_PER_LOOP = MARINE.speed
"""Walking speed: 2.25 per game second, 1.125 per default environment step."""
MARINE_MAX_COOLDOWN = MARINE.max_cooldown
"""SMAC's normaliser of the weapon cooldown in the state (``unit_max_cooldown`` for marines)."""
