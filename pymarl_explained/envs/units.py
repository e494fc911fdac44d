"""Marine numbers and the game clock (published SC2 unit data, in "normal" game speed units).

All times inside the simulator are counted in game loops: 16 loops per game second, and one
environment step lasts ``step_mul`` loops (8 by default, i.e. half a game second).
"""

from __future__ import annotations

LOOPS_PER_SECOND = 16
"""Game loops per game second."""

MARINE_HEALTH = 45.0
"""Maximum health of a marine (armour 0, no shield)."""
MARINE_DAMAGE = 6.0
"""Damage of one shot: eight shots kill a marine."""
MARINE_RADIUS = 0.375
"""Radius of a marine's footprint; units closer than two radii overlap."""
MARINE_WEAPON_RANGE = 5.0
"""Weapon range, edge to edge."""
MARINE_FIRE_RANGE = MARINE_WEAPON_RANGE + 2 * MARINE_RADIUS
"""Weapon range centre to centre (5.75): a marine fires when its target is this close."""
MARINE_COOLDOWN_LOOPS = 0.8608 * LOOPS_PER_SECOND
"""Weapon cooldown, 0.8608 game seconds = 13.77 loops (about 1.7 environment steps)."""
MARINE_SPEED_PER_LOOP = 2.25 / LOOPS_PER_SECOND
"""Walking speed: 2.25 per game second, 1.125 per default environment step."""
MARINE_MAX_COOLDOWN = 15.0
"""SMAC's normaliser of the weapon cooldown in the state (``unit_max_cooldown`` for marines)."""

SIGHT_RANGE = 9.0
"""SMAC's sight range: units at distance < 9 appear in an observation."""
SHOOT_RANGE = 6.0
"""SMAC's shoot range: an attack action is available for an enemy at distance <= 6."""
