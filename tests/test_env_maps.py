"""SMAC's 23 maps in the built-in simulator: sizes, map data, unit types, terrain, determinism."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from pymarl_explained.envs import BatchedMarineEnv, MarineBattleEnv
from pymarl_explained.envs import kernels as K
from pymarl_explained.envs.mapdata import generate as gen
from pymarl_explained.envs.maps import SMAC_MAPS
from pymarl_explained.envs.scenario import build_scenario

MAPS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "smac-maps"

# SMAC's sizes (its own get_obs_size / get_state_size, run on every map): defaults, then with every
# optional feature on (obs_last_action, obs_pathing_grid, obs_terrain_height, obs_timestep_number,
# state_timestep_number), from the reference notes.
SMAC_SIZES = {
    "3m": (30, 48, 66, 49), "8m": (80, 168, 196, 169), "25m": (250, 950, 1012, 951),
    "5m_vs_6m": (55, 98, 121, 99), "8m_vs_9m": (85, 179, 208, 180), "10m_vs_11m": (105, 243, 276, 244),
    "27m_vs_30m": (285, 1170, 1239, 1171), "MMM": (160, 290, 322, 291), "MMM2": (176, 322, 356, 323),
    "2s3z": (80, 120, 142, 121), "3s5z": (128, 216, 244, 217), "3s5z_vs_3s6z": (136, 230, 259, 231),
    "3s_vs_3z": (36, 54, 72, 55), "3s_vs_4z": (42, 61, 80, 62), "3s_vs_5z": (48, 68, 88, 69),
    "1c3s5z": (162, 270, 300, 271), "2m_vs_1z": (16, 26, 41, 27), "corridor": (156, 282, 324, 283),
    "6h_vs_8z": (78, 140, 166, 141), "2s_vs_1sc": (17, 27, 42, 28), "so_many_baneling": (202, 397, 448, 398),
    "bane_vs_bane": (336, 984, 1044, 985), "2c_vs_64zg": (332, 342, 420, 343),
}
ALL_FLAGS = {"obs_last_action": True, "obs_pathing_grid": True, "obs_terrain_height": True,
             "obs_timestep_number": True, "state_timestep_number": True}
BIG_CD = 1e9  # a weapon cooldown that never ends


def make(map_name: str, **kw) -> MarineBattleEnv:
    return MarineBattleEnv(map_name=map_name, seed=kw.pop("seed", 0), **kw)


def random_actions(avail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.argmax(rng.random(avail.shape) * avail, axis=-1)


def far_row(n: int, x: float, y0: float = 9.0) -> list[tuple[float, float]]:
    return [(x, y0 + 0.9 * k) for k in range(n)]


# ------------------------------------------------------------------------------------ sizes
@pytest.mark.parametrize("map_name", list(SMAC_MAPS))
def test_sizes_equal_smac_formulas(map_name):
    mp = SMAC_MAPS[map_name]
    A, E, b = mp.n_agents, mp.n_enemies, mp.unit_type_bits
    sa, se = int(mp.a_race == "P"), int(mp.b_race == "P")
    n_actions = 6 + E
    env = make(map_name)
    info = env.get_env_info()
    obs = 4 + E * (5 + b + se) + (A - 1) * (5 + b + sa) + (1 + sa + b)
    state = A * (4 + sa + b) + E * (3 + se + b) + A * n_actions
    assert (info["n_actions"], info["obs_shape"], info["state_shape"]) == (n_actions, obs, state)
    assert (obs, state) == SMAC_SIZES[map_name][:2]
    assert info["episode_limit"] == mp.limit and info["n_agents"] == A
    assert len(info["agent_features"]) == 4 + sa + b and len(info["enemy_features"]) == 3 + se + b
    o, s = env.reset()
    assert len(o) == A and o[0].shape == (obs,) and s.shape == (state,)
    full = make(map_name, **ALL_FLAGS)
    assert (full.get_obs_size(), full.get_state_size()) == SMAC_SIZES[map_name][2:]
    assert full.get_obs()[0].shape == (full.get_obs_size(),)  # our vector has the declared size


def test_interface_fixes():
    # SMAC: obs_all_health=True forces obs_own_health on
    assert make("3m", obs_own_health=False).get_obs_size() == 30
    assert make("3m", obs_own_health=False, obs_all_health=False).get_obs_size() == 30 - 3 * 1 - 2 * 1 - 1
    assert make("2s3z", obs_own_health=False).get_obs_size() == 80
    # obs_timestep_number: t / limit is the last element, in the slot SMAC's size counts
    env = make("3m", obs_timestep_number=True)
    env.step([1, 1, 1])
    env.step([1, 1, 1])
    assert env.get_obs_size() == 31 and env.get_obs()[0][-1] == np.float32(2 / 60)
    assert env.get_obs()[0][-2] == 1.0  # own health, just before


def test_distance_uses_math_hypot():
    """SMAC measures with math.hypot. For these positions sqrt(dx² + dy²) says 6.000000000000001
    (attack unavailable) and 9.0 (not visible), math.hypot 6.0 and 8.999999999999998."""
    ally = (10.0, 16.0)
    e6 = (14.203635083940913, 11.718709063721425)
    e9 = (15.386538036067627, 8.789923163655141)
    for (ex, ey), h, s in ((e6, 6.0, 6.000000000000001), (e9, 8.999999999999998, 9.0)):
        dx, dy = ex - ally[0], ey - ally[1]
        assert (math.hypot(dx, dy), math.sqrt(dx * dx + dy * dy)) == (h, s)
        assert K.hypot(dx, dy) == h
    env = make("3m")
    env.set_units(ally_pos=[ally, (2, 9), (2, 11)], ally_health=[45, 0, 0],
                  enemy_pos=[e6, e9, (30, 11)], enemy_health=[45, 45, 0])
    assert env.get_avail_agent_actions(0)[6:] == [1, 0, 0]
    obs = env.get_obs()[0]
    assert obs[4] == 1.0 and obs[5] == np.float32(6 / 9)
    assert obs[9] == 0.0 and obs[10] == np.float32(8.999999999999998 / 9)  # enemy 1 visible


# --------------------------------------------------------------------------------- map data
def test_map_data_matches_the_map_files_facts():
    data = json.loads(gen.DATA_FILE.read_text())["maps"]
    assert list(data) == list(SMAC_MAPS)
    cells = {m: sum(r.count(".") for r in d["pathing"]) for m, d in data.items()}
    assert cells["3m"] == cells["2s3z"] == cells["MMM"] == 512 and cells["3s_vs_5z"] == 1024
    assert cells["2m_vs_1z"] == cells["bane_vs_bane"] == 352 and cells["2c_vs_64zg"] == 336
    assert (cells["2s_vs_1sc"], cells["6h_vs_8z"], cells["corridor"], cells["so_many_baneling"]) == (896, 904, 332, 300)
    band = data["3m"]["pathing"]
    assert all(row == "." * 32 for row in band[8:24]) and all(row == "#" * 32 for row in band[:8] + band[24:])
    assert data["corridor"]["enemy_order"] == {"kind": "point", "xy": [4.47, 4.3298], "name": "Attack Point"}
    assert data["2c_vs_64zg"]["enemy_order"]["kind"] == "attack_units"
    assert data["2s_vs_1sc"]["enemy_order"] == {"kind": "none"}
    assert data["2m_vs_1z"]["enemy_order"]["points"] == [[13.0, 12.0], [19.0, 12.0]]
    assert [(u["player"], u["type"], u["count"]) for u in data["MMM2"]["units"]] == [
        (1, "Marine_RL", 7), (1, "Marauder_RL", 2), (1, "Medivac_RL", 1),
        (2, "Marine", 8), (2, "Marauder", 3), (2, "Medivac", 1)]
    assert data["6h_vs_8z"]["ally_unit_data"]["Hydralisk_RL"]["LifeMax"] == 80
    assert data["MMM"]["ally_unit_data"]["Medivac_RL"]["Speed"] == 2.75
    cliff = data["2c_vs_64zg"]["cliff"]  # rows from the south, 2 hex digits per cell
    assert cliff[16][32:34] == "80" and cliff[9][32:34] == "40" and cliff[16][8:14] == "485868"  # 128, 64, ramps


@pytest.mark.skipif(not MAPS_DIR.is_dir(), reason="SMAC's .SC2Map files (../shared/smac-maps) are absent")
def test_regenerated_map_data_equals_committed():
    pytest.importorskip("mpyq")
    assert gen.dumps(gen.generate(MAPS_DIR)) == gen.DATA_FILE.read_text()


# ------------------------------------------------------------------------ units and order
def test_agent_order_and_type_bits():
    env = make("MMM")
    names = env._core.unit_type_names
    assert names[:10] == ["Marauder_RL"] * 2 + ["Marine_RL"] * 7 + ["Medivac_RL"]
    assert names[10:] == ["Marine"] * 7 + ["Marauder"] * 2 + ["Medivac"]
    sc = build_scenario("2s3z")
    tbit = sc.uprop[:, 26].astype(int).tolist()
    assert tbit == [0, 0, 1, 1, 1, 1, 1, 0, 0, 0]  # allies: stalker 0, zealot 1; enemies reversed (SMAC)
    state = make("2s3z").get_state()
    assert state[5:7].tolist() == [1, 0] and state[2 * 7 + 5:2 * 7 + 7].tolist() == [0, 1]
    assert state[35 + 4:35 + 6].tolist() == [0, 1]  # enemy 0 is a stalker: [0, 1]
    assert build_scenario("1c3s5z").uprop[9:, 26].astype(int).tolist() == [0, 1, 1, 1, 2, 2, 2, 2, 2]


@pytest.mark.parametrize("map_name", ["3m", "2s3z", "MMM2", "corridor", "bane_vs_bane", "2c_vs_64zg"])
def test_fixed_spawns_by_default_random_offset_optional(map_name):
    a, b = make(map_name, seed=1), make(map_name, seed=2)
    np.testing.assert_array_equal(a._core.pos, b._core.pos)
    c = make(map_name, seed=1, builtin_spawn_spread=1.0)
    assert not np.array_equal(a._core.pos, c._core.pos)
    pos, sc = a._core.pos[0], build_scenario(map_name)
    walk = sc.terrain.walk
    for n, t in enumerate(sc.unit_types):
        assert walk[t.mover, int(pos[n, 0]), int(pos[n, 1])]
    A = a.n_agents
    keys = [(sc.ally_block[i], pos[i, 0], pos[i, 1]) for i in range(A)]
    assert keys == sorted(keys)  # SMAC's (type, x, y) order


# ------------------------------------------------------------------------ hand-placed scenes
def test_shield_absorbs_then_health_then_regenerates():
    env = make("2s3z", reward_scale=False)
    env.set_units(ally_pos=[(10, 16), *far_row(4, 2)], ally_health=[80, 0, 0, 0, 0],
                  enemy_pos=[(15, 16), *far_row(4, 30)], enemy_health=[80, 0, 0, 0, 0],
                  enemy_shield=[10, 0, 0, 0, 0], enemy_cooldown=[BIG_CD] * 5)
    core = env._core
    r, _, _ = env.step([6, 0, 0, 0, 0])  # stalker vs stalker: 13 + 5 (armoured) = 18
    assert (core.sh[0, 5], core.hp[0, 5]) == (0.0, 80 - (18 - 10 - 1))  # 10 absorbed, 8 - armour 1
    assert r == 18 - 1
    for _ in range(19):
        env.step([1, 0, 0, 0, 0])
    assert core.sh[0, 5] == 0.0  # no regeneration for 10 game seconds (20 steps) after a hit
    env.step([1, 0, 0, 0, 0])
    env.step([1, 0, 0, 0, 0])
    assert 0 < core.sh[0, 5] <= 2 * 8 * 0.125 and core.hp[0, 5] == 73  # 2 per game second


def test_bonus_damage_and_armour_per_hit():
    env = make("MMM", reward_scale=False)
    dead = [0] * 9
    # a marauder (10 + 10 vs armoured) on an enemy marauder (armoured, armour 1): 19
    env.set_units(ally_pos=[(10, 16), *far_row(9, 2)], ally_health=[125, *dead],
                  enemy_pos=[*far_row(7, 30), (15, 16), (30, 23), (30, 22)],
                  enemy_health=[0] * 7 + [125, 0, 0], enemy_cooldown=[BIG_CD] * 10)
    r, _, _ = env.step([13, *dead])
    assert env._core.hp[0, 17] == 125 - 19 and r == 19
    # on an enemy marine (light, armour 0): 10
    env.set_units(enemy_health=[45] + [0] * 9, enemy_pos=[(15, 16), *far_row(9, 30)])
    env._core.cd[0, 0] = 0
    r, _, _ = env.step([6, *dead])
    assert r == 10
    # zealot: two hits of 8, armour 1 subtracted from each: 14 on a zealot without shields
    env = make("2s3z", reward_scale=False)
    env.set_units(ally_pos=[(2, 9), (2, 10), (10, 16), (2, 11), (2, 12)], ally_health=[0, 0, 100, 0, 0],
                  enemy_pos=[*far_row(2, 30), (10.9, 16), *far_row(2, 30, 20)],
                  enemy_health=[0, 0, 100, 0, 0], enemy_shield=[0] * 5, enemy_cooldown=[BIG_CD] * 5)
    r, _, _ = env.step([0, 0, 8, 0, 0])
    assert env._core.hp[0, 7] == 100 - 14 and r == 14


def test_colossus_line_splash():
    env = make("1c3s5z", reward_scale=False)
    dead = [0] * 8
    # colossus at (10, 16) fires east at enemy zealot 4 at (15, 16); line across (x = 15, y 14.6-17.4)
    enemy_pos = [(30, 9), (30, 10), (30, 11), (30, 12), (15, 16), (15, 17.8), (15.7, 16), (15, 13.6), (30, 13)]
    env.set_units(ally_pos=[(10, 16), *far_row(8, 2)], ally_health=[200, *dead],
                  enemy_pos=enemy_pos, enemy_health=[0, 0, 0, 0, 100, 100, 100, 100, 0],
                  enemy_shield=[0] * 9, enemy_cooldown=[BIG_CD] * 9)
    env.step([6 + 4, *dead])
    hp = env._core.hp[0, 9:]
    # 2 hits of 10 + 5 (light) - 1 armour = 28 on the target and on the zealot 1.8 along the line
    # (its edge, 0.5 away, touches the 1.4 half-length); the one 0.7 behind (0.5 - 0.15 short) and
    # the one 2.4 along the line are missed
    assert hp[4] == 72 and hp[5] == 72 and hp[6] == 100 and hp[7] == 100


def test_baneling_explosion_radius_and_self_kill():
    env = make("bane_vs_bane", reward_scale=False)
    A = 24
    ally_health = [30, 0, 0, 0] + [35] + [0] * 19
    ally_pos = [(10, 16), *far_row(3, 7, 20), (9.5, 16.6), *[(7 + 0.8 * (k % 10), 9 + k // 10) for k in range(19)]]
    # enemy zerglings: the target 0.5 away (in reach at once: the blast comes before anyone moves),
    # one whose edge is 2.5 - 0.375 = 2.125 from the blast, one at 2.6 - 0.375 = 2.225
    enemy_pos = [(10.5, 16), (12.5, 16), (10, 18.6)] + far_row(21, 24, 7.5)
    env.set_units(ally_pos=ally_pos, ally_health=ally_health, enemy_pos=enemy_pos,
                  enemy_health=[35, 35, 35] + [0] * 21, enemy_cooldown=[BIG_CD] * 24)
    core = env._core
    r, _, info = env.step([6] + [0] * 3 + [1] + [0] * 19)
    assert core.hp[0, 0] == 0 and info["dead_allies"] == 23  # the baneling is gone
    # 20 + 15 vs light = 35 kills a zergling whose edge is within 2.2 of the blast; the third
    # survives (Zerg regeneration aside); the agents' own zergling nearby is untouched
    hp = core.hp[0, A:A + 3]
    assert hp[0] == 0 and hp[1] == 0 and hp[2] == 35 and core.hp[0, 4] == 35
    assert r == 2 * (35 + 10)


def test_baneling_killed_bursts_too():
    env = make("bane_vs_bane", reward_scale=False)
    ally_pos = [(10, 16), *far_row(3, 7, 20), *[(7 + 0.8 * (k % 10), 9 + k // 10) for k in range(20)]]
    # enemy baneling at (11, 16) with 1 hp next to our zergling 4: our zergling kills it, it bursts
    ally_health = [0, 0, 0, 0] + [35] + [0] * 19
    ally_pos[4] = (10.2, 16)
    enemy_pos = far_row(20, 24, 7.5) + [(11.0, 16), (24, 25), (25, 25), (26, 25)]
    env.set_units(ally_pos=ally_pos, ally_health=ally_health, enemy_pos=enemy_pos,
                  enemy_health=[0] * 20 + [1, 0, 0, 0], enemy_cooldown=[BIG_CD] * 24)
    _, term, info = env.step([0, 0, 0, 0, 6 + 20] + [0] * 19)
    assert env._core.hp[0, 24 + 20] == 0 and env._core.hp[0, 4] == 0  # it burst on our zergling
    assert term and info["dead_allies"] == 24 and info["dead_enemies"] == 24  # a draw


def test_medivac_heals_allies_and_cannot_attack():
    env = make("MMM", reward_scale=False)
    core = env._core
    ally_pos = [(10, 16), (10, 17), *far_row(7, 2), (11, 15)]
    env.set_units(ally_pos=ally_pos, ally_health=[100, 125] + [0] * 7 + [150],
                  enemy_pos=[(17, 15), *far_row(9, 30)], enemy_health=[45] * 7 + [125, 125, 0],
                  enemy_cooldown=[BIG_CD] * 10)
    avail = env.get_avail_agent_actions(9)
    # heal actions 6 + t target allies 0 and 1 (alive, within 6); never itself nor a dead marine
    assert avail[6:8] == [1, 1] and sum(avail[8:]) == 0
    assert env.get_obs()[9][4] == 1.0  # SMAC's quirk: enemy row 0's first column = "ally 0 healable"
    assert env.get_state()[9 * 7 + 1] == pytest.approx(50 / 200)  # energy / 200 in the state
    for _ in range(2):
        env.step([1, 1] + [0] * 7 + [6])
    assert core.hp[0, 0] == pytest.approx(100 + 2 * 8 * 9 / 16)  # 9 health per game second
    assert core.en[0, 9] == pytest.approx(50 - 2 * 8 * 3 / 16 + 2 * 8 * 0.5625 / 16)
    assert core.hp[0, 10:].sum() == 7 * 45 + 2 * 125  # no damage to the enemies
    with pytest.raises(Exception, match="cannot take action 8"):
        env.step([1, 1] + [0] * 7 + [8])


def test_mmm_outcome_rules():
    env = make("MMM")
    # only the agents' medivac left: a loss, even while enemies remain
    env.set_units(ally_health=[0] * 9 + [150])
    _, term, info = env.step([0] * 9 + [1])
    assert term and not info["battle_won"]
    # only the enemy medivac left: a win
    env.reset()
    env.set_units(enemy_health=[0] * 9 + [150])
    _, term, info = env.step([1] * 10)
    assert term and info["battle_won"]


def test_flying_units_ignore_cliffs_and_cliffs_block_walking():
    env = make("MMM")
    env.set_units(ally_pos=[*far_row(9, 10), (20, 22.9)], enemy_pos=far_row(10, 30), enemy_health=[0] * 9 + [150])
    env._core.hp[0, 10:19] = 0
    for _ in range(3):
        env.step([1] * 9 + [2 if env.get_avail_agent_actions(9)[2] else 1])
    # the ground grid says north is blocked above y = 23 (SMAC checks the ground grid for everyone) ...
    assert env.get_avail_agent_actions(9)[2] == 0
    # ... but the medivac flew over the void: the earlier order took it past the band
    assert env._core.pos[0, 9, 1] > 24
    env = make("6h_vs_8z")
    env.set_units(ally_pos=[(8.9, 12), *far_row(5, 15, 10)], enemy_pos=far_row(8, 16, 14), enemy_health=[100] * 8,
                  enemy_cooldown=[BIG_CD] * 8)
    for _ in range(4):  # walk west into the platform's wall: x stays >= 8 + radius
        env.step([5 if env.get_avail_agent_actions(0)[5] else 1] + [1] * 5)
    assert env._core.pos[0, 0, 0] >= 8 + 0.625 - 1e-9
    assert env.get_avail_agent_actions(0)[5] == 0  # int(x - 1) = 7: unpathable


def advance(env: MarineBattleEnv, n_steps: int) -> None:
    """Advance ``n_steps`` steps leaving every agent's current order as it is (as action 0 would)."""
    core = env._core
    tr = core.scenario.terrain
    won, term, limit, dead_a, dead_e = core._out
    for _ in range(n_steps):
        K.step_kernel(np.zeros((1, core.n_agents), np.int64), np.ones(1, np.bool_), core.pos, core.hp, core.sh,
                      core.en, core.cd, core.calm, core.order, core.goal, core.target, core.shots, core.prev_hp,
                      core.dead_seen, core.last_action, core.ep_step, core.stats, core._cfg, core.scenario.uprop,
                      core.scenario.pair, tr.walk, tr.wbox, tr.clear, tr.dist, core.n_agents, core._out_reward,
                      term, won, dead_a, dead_e, limit)


def test_colossus_walks_down_a_cliff_ground_units_cannot():
    # 2c_vs_64zg: plateau (level 2) at y >= 13, cliff face cells y = 12-13, low ground below
    env = make("2c_vs_64zg")
    env.set_units(ally_pos=[(16, 14.5), (20, 17)], enemy_pos=[(3, 7)] * 64, enemy_health=[0] * 63 + [35],
                  enemy_cooldown=[BIG_CD] * 64)
    assert env.get_avail_agent_actions(0)[3] == 0  # SMAC: int(y - 1) = 13 is not pathable
    core = env._core
    core.order[0, 0] = K.MOVE
    core.goal[0, 0] = (16, 10.5)
    advance(env, 4)
    assert core.pos[0, 0, 1] == pytest.approx(10.5)  # straight down the cliff
    # a zergling (ground) ordered the same way from the plateau stops at the cliff edge
    sc = build_scenario("2c_vs_64zg")
    assert sc.terrain.walk[0, 16, 13] == 0 and sc.terrain.walk[2, 16, 13] == 1 and sc.terrain.walk[2, 16, 12] == 1


def test_zerglings_find_the_way_up_the_ramps():
    """2c_vs_64zg: the zerglings reach a colossus on the plateau only via a side passage and a ramp."""
    env = make("2c_vs_64zg")
    env.set_units(ally_pos=[(16, 16), (17, 18)], ally_cooldown=[BIG_CD] * 2,
                  enemy_pos=[(16, 9)] * 64, enemy_health=[35] + [0] * 63)
    for _ in range(40):
        if env.step([1, 1])[1]:
            break
    core = env._core
    assert (core.hp + core.sh)[0, :2].sum() < 2 * (200 + 150)  # the zergling reached and hit a colossus
    assert core.pos[0, 2, 1] > 13


def test_corridor_choke_point_is_passable():
    env = make("corridor")
    env.set_units(ally_pos=[(3, 3)] + far_row(5, 3, 5), ally_health=[100] + [0] * 5, ally_cooldown=[BIG_CD] * 6,
                  enemy_pos=[(27, 27)] + [(28, 28)] * 23, enemy_health=[35] + [0] * 23)
    for _ in range(40):
        env.step([1] + [0] * 5)
    assert env._core.pos[0, 6, 0] < 12 and env._core.pos[0, 6, 1] < 12  # through the 2 x 2 link


def test_enemy_acquisition_and_pursuit_parameters():
    place = dict(ally_pos=[(15, 16), (2, 9), (2, 11)], ally_health=[45, 0, 0], ally_cooldown=[BIG_CD] * 3,
                 enemy_pos=[(23, 20), (30, 9), (30, 11)], enemy_health=[45, 0, 0])
    # the agent stands 8.9 from the enemy and 8.6 off the enemy's way to (9, 16)... the enemy marine
    # (sight 9) pursues it by default; with an acquisition range of 5 it walks to its attack point
    runs = {}
    for kw in ({}, {"builtin_acquire_range": 5.0}, {"builtin_enemy_pursuit": False}):
        env = make("3m", **kw)
        env.set_units(**place)
        env.step([1, 0, 0])
        runs[str(kw)] = env._core.goal[0, 3].copy(), env._core.pos[0, 3].copy()
    d = [np.hypot(*(p - np.array([15, 16]))) for _, p in runs.values()]
    assert d[0] < d[1] and d[1] == pytest.approx(d[2])


# -------------------------------------------------------------------- determinism, batching
def rollout(env: MarineBattleEnv, seed: int, n_steps: int) -> list:
    rng = np.random.default_rng(seed)
    out = [env.reset()[1]]
    for _ in range(n_steps):
        r, term, _ = env.step(random_actions(np.array(env.get_avail_actions()), rng))
        out += [r, np.concatenate(env.get_obs()), env.get_state()]
        if term:
            out.append(env.reset()[1])
    return out


@pytest.mark.parametrize("map_name", ["2s3z", "MMM2", "2m_vs_1z", "bane_vs_bane", "corridor"])
def test_same_seed_same_episodes(map_name):
    a = rollout(make(map_name, seed=7, builtin_spawn_spread=0.5), seed=1, n_steps=60)
    b = rollout(make(map_name, seed=7, builtin_spawn_spread=0.5), seed=1, n_steps=60)
    c = rollout(make(map_name, seed=8, builtin_spawn_spread=0.5), seed=1, n_steps=60)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("map_name", list(SMAC_MAPS))
def test_batched_equals_single(map_name):
    B, seed = 2, 11
    batch = BatchedMarineEnv(B, seed=seed, map_name=map_name, builtin_spawn_spread=0.3)
    singles = [MarineBattleEnv(map_name=map_name, seed=seed + i, builtin_spawn_spread=0.3) for i in range(B)]
    rng = np.random.default_rng(0)
    for _ in range(30):
        if batch.done.all():
            batch.reset()
            for e in singles:
                e.reset()
        actions = random_actions(batch.get_avail_actions(), rng)
        active = ~batch.done
        rewards, terms, info = batch.step(actions)
        for i, e in enumerate(singles):
            if active[i]:
                r, t, _ = e.step(actions[i])
                assert np.float32(r) == rewards[i] and t == terms[i]
                np.testing.assert_array_equal(np.stack(e.get_obs()), batch.get_obs()[i])
                np.testing.assert_array_equal(e.get_state(), batch.get_state()[i])
                np.testing.assert_array_equal(np.array(e.get_avail_actions()), batch.get_avail_actions()[i])


STATE_ARRAYS = ("pos", "hp", "sh", "en", "cd", "calm", "order", "goal", "target", "shots", "prev_hp", "dead_seen",
                "last_action", "ep_step", "stats")


def assert_twins_equal(fast: BatchedMarineEnv, general: BatchedMarineEnv) -> None:
    for name in STATE_ARRAYS:
        np.testing.assert_array_equal(getattr(fast, name), getattr(general, name), err_msg=name)
    np.testing.assert_array_equal(fast.get_obs(), general.get_obs())
    np.testing.assert_array_equal(fast.get_state(), general.get_state())
    np.testing.assert_array_equal(fast.get_avail_actions(), general.get_avail_actions())


def validation_codes(env: BatchedMarineEnv, rng: np.random.Generator) -> list:
    """What validating each single action (every action id, and two out of range) of a few agents
    returns, in the actions of ``env.step``: the error message, or None when accepted."""
    codes = []
    base = random_actions(env.get_avail_actions(), rng)
    active = np.ones(env.n_envs, np.bool_)
    uprop, pathing = env.scenario.uprop, env.scenario.terrain.pathing
    for i in rng.choice(env.n_agents, size=min(3, env.n_agents), replace=False):
        for a in range(-1, env.n_actions + 1):
            actions = base.copy()
            actions[:, i] = a
            if env.uniform:
                code = K.uniform_validate_kernel(actions, active, env.pos, env.hp, env._cfg, env.n_agents,
                                                 env.n_actions)
            else:
                code = K.validate_kernel(actions, active, env.pos, env.hp, uprop, pathing, env.n_agents,
                                         env.n_actions, float(env._cfg[K.C_MOVE_AMOUNT]))
            codes.append(code)
    return codes


@pytest.mark.parametrize(("map_name", "extra"), [
    ("3m", {}), ("MarineMicro_MvsM_4", {"obs_last_action": True, "state_timestep_number": True}),
    ("10m_vs_11m", {"obs_timestep_number": True, "reward_only_positive": False, "builtin_acquire_range": 3.0}),
    ("27m_vs_30m", {"obs_all_health": False, "state_last_action": False}),
    ("MarineMicro_MvsM_8_dist_mirror", {"obs_instead_of_state": True, "obs_own_health": False}),
    ("5m_vs_6m", {"builtin_enemy_pursuit": False, "move_amount": 3}),
])
def test_uniform_fast_paths_equal_general_kernels(map_name, extra):
    """The marine maps run kernels specialised for one plain unit type (validate, step, observe);
    on random battles the general kernels must give exactly the same arrays and the same verdicts
    on valid and invalid actions."""
    fast = BatchedMarineEnv(4, seed=3, map_name=map_name, builtin_spawn_spread=0.5, **extra)
    general = BatchedMarineEnv(4, seed=3, map_name=map_name, builtin_spawn_spread=0.5, **extra)
    assert fast.uniform
    general.uniform = False
    general._observe()
    assert_twins_equal(fast, general)
    rng_f, rng_g = np.random.default_rng(0), np.random.default_rng(0)
    for t in range(150):
        if t % 10 == 0:
            assert validation_codes(fast, rng_f) == validation_codes(general, rng_g)
        actions = random_actions(fast.get_avail_actions(), rng_f)
        random_actions(general.get_avail_actions(), rng_g)  # keep both generators in step
        if t % 4 == 0:  # attack whenever possible now and then: battles end sooner, both ways
            attack = fast.get_avail_actions()[..., 6:]
            actions = np.where(attack.any(-1), 6 + np.argmax(attack, -1), actions)
        r1, t1, i1 = fast.step(actions)
        r2, t2, i2 = general.step(actions)
        np.testing.assert_array_equal(fast.reward64, general.reward64)
        np.testing.assert_array_equal(t1, t2)
        for key in i1:
            np.testing.assert_array_equal(i1[key], i2[key])
        assert_twins_equal(fast, general)
        if fast.done.all():
            fast.reset()
            general.reset()
            assert_twins_equal(fast, general)
    assert fast.stats[:, 1].sum() > 0  # whole battles were played


def test_uniform_fast_path_only_on_uniform_maps():
    """The specialised kernels need one plain ground unit type on a rectangle of pathable cells."""
    uniform = {name for name in SMAC_MAPS if BatchedMarineEnv(1, seed=0, map_name=name).uniform}
    assert uniform == {"3m", "8m", "25m", "5m_vs_6m", "8m_vs_9m", "10m_vs_11m", "27m_vs_30m"}
    sc = build_scenario("8m")
    assert sc.terrain.pathing_rect and sc.terrain.pbox == (0, 32, 8, 24)
