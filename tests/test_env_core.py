"""Built-in SMAC simulator: sizes, features, rewards, termination, seeding, batching, errors."""

from __future__ import annotations

import numpy as np
import pytest

from pymarl_explained.envs import (
    MAPS,
    REGISTRY,
    BatchedMarineEnv,
    MarineBattleEnv,
    get_map_params,
)
from pymarl_explained.errors import EnvironmentSetupError, InvalidActionError

BIG_CD = 1e9  # a weapon cooldown that never ends: the unit cannot fire

SMAC_TABLE = {  # map: (agents, enemies, limit, n_actions, obs, state), from SMAC
    "3m": (3, 3, 60, 9, 30, 48),
    "8m": (8, 8, 120, 14, 80, 168),
    "25m": (25, 25, 150, 31, 250, 950),
    "5m_vs_6m": (5, 6, 70, 12, 55, 98),
    "8m_vs_9m": (8, 9, 120, 15, 85, 179),
    "10m_vs_11m": (10, 11, 150, 17, 105, 243),
    "27m_vs_30m": (27, 30, 180, 36, 285, 1170),
    "MarineMicro_MvsM_4": (4, 4, 60, 10, 40, 68),
    "MarineMicro_MvsM_8": (8, 8, 100, 14, 80, 168),
}


def make(map_name: str = "MarineMicro_MvsM_4", **kw) -> MarineBattleEnv:
    return MarineBattleEnv(map_name=map_name, seed=kw.pop("seed", 0), **kw)


def random_actions(avail: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.argmax(rng.random(avail.shape) * avail, axis=-1)


# ------------------------------------------------------------------------------------ sizes
MARINE_MAPS = sorted(m for m in MAPS if m.replace("_dist", "").replace("_mirror", "") in SMAC_TABLE)


@pytest.mark.parametrize("map_name", MARINE_MAPS)
def test_sizes_match_smac_formulas(map_name):
    env = make(map_name)
    A, E = env.n_agents, env.n_enemies
    info = env.get_env_info()
    assert info["n_actions"] == 6 + E
    assert info["obs_shape"] == 4 + 5 * E + 5 * (A - 1) + 1
    assert info["state_shape"] == 4 * A + 3 * E + A * (6 + E)
    assert info["episode_limit"] == get_map_params(map_name).limit
    base = map_name.replace("_dist", "").replace("_mirror", "")
    assert (A, E, env.episode_limit, info["n_actions"], info["obs_shape"], info["state_shape"]) == (
        SMAC_TABLE[base]
    )
    obs, state = env.reset()
    assert len(obs) == A and all(o.shape == (info["obs_shape"],) and o.dtype == np.float32 for o in obs)
    assert state.shape == (info["state_shape"],) and state.dtype == np.float32
    assert np.asarray(env.get_avail_actions()).shape == (A, 6 + E)


def test_env_info_of_the_study_map():
    env = REGISTRY["sc2"](map_name="MarineMicro_MvsM_4", backend="builtin")
    info = env.get_env_info()
    assert {k: info[k] for k in ("state_shape", "obs_shape", "n_actions", "n_agents", "episode_limit")} == {
        "state_shape": 68, "obs_shape": 40, "n_actions": 10, "n_agents": 4, "episode_limit": 60}
    assert info["agent_features"] == ["health", "energy/cooldown", "rel_x", "rel_y"]
    assert info["enemy_features"] == ["health", "rel_x", "rel_y"]
    assert env.backend == "builtin" and env.backend_reason
    assert env.env_args["backend"] == "builtin" and env.env_args["map_name"] == "MarineMicro_MvsM_4"


def test_optional_feature_sizes():
    A, E, n = 4, 4, 10
    env = make(obs_last_action=True, obs_timestep_number=True, state_timestep_number=True,
               obs_pathing_grid=True, state_last_action=False, obs_all_health=False, obs_own_health=False)
    assert env.get_obs_size() == (4 + 8) + 4 * E + (A - 1) * (4 + n) + 0 + 1
    assert env.get_state_size() == 4 * A + 3 * E + 1
    env = make(obs_instead_of_state=True)
    assert env.get_state_size() == 40 * 4
    np.testing.assert_array_equal(env.get_state(), np.concatenate(env.get_obs()))


def test_every_smac_argument_is_kept():
    env = make(difficulty="3", game_version="4.10", window_size_x=640, debug=True, replay_prefix="x")
    assert env.env_args["difficulty"] == "3" and env.env_args["game_version"] == "4.10"
    assert env.env_args["window_size_x"] == 640 and env.env_args["debug"] is True
    assert env.env_args["seed"] == 0 and env.seed() == 0


# --------------------------------------------------------------------- hand-placed features
def placed_env(**kw) -> MarineBattleEnv:
    env = make(**kw)
    env.set_units(
        ally_pos=[(10, 16), (10, 8.9), (19.1, 23.2), (10, 12)],
        ally_health=[45, 45, 22.5, 0],
        ally_cooldown=[7.5, 0, 0, 0],
        enemy_pos=[(16, 16), (10, 22.5), (19, 16), (11, 16)],
        enemy_health=[45, 30, 45, 0],
    )
    return env


def test_observation_feature_by_feature():
    env = placed_env()
    obs = env.get_obs()
    o = obs[0]
    np.testing.assert_allclose(o[0:4], [1, 1, 1, 1])  # moves north, south, east, west
    enemies = o[4:24].reshape(4, 5)
    np.testing.assert_allclose(enemies[0], [1, 6 / 9, 6 / 9, 0, 1], atol=1e-6)  # d = 6: attackable
    np.testing.assert_allclose(enemies[1], [0, 6.5 / 9, 0, 6.5 / 9, 30 / 45], atol=1e-6)  # d = 6.5
    np.testing.assert_array_equal(enemies[2], 0)  # d = 9: not visible (sight is d < 9)
    np.testing.assert_array_equal(enemies[3], 0)  # dead
    allies = o[24:39].reshape(3, 5)
    np.testing.assert_allclose(allies[0], [1, 7.1 / 9, 0, -7.1 / 9, 1], atol=1e-6)
    np.testing.assert_array_equal(allies[1], 0)  # 11.6 away
    np.testing.assert_array_equal(allies[2], 0)  # dead
    assert o[39] == 1.0  # own health
    # agent 1 at y = 8.9: int(8.9 - 1) = 7 is outside the band, so no move south
    np.testing.assert_allclose(obs[1][0:4], [1, 0, 1, 1])
    # agent 2 at y = 23.2: int(24.2) = 24 is outside the band, so no move north; own health 0.5
    np.testing.assert_allclose(obs[2][0:4], [0, 1, 1, 1])
    assert obs[2][39] == 0.5
    np.testing.assert_array_equal(obs[3], 0)  # a dead agent sees nothing


def test_avail_actions_hand_placed():
    env = placed_env()
    avail = env.get_avail_actions()
    assert avail[0] == [0, 1, 1, 1, 1, 1, 1, 0, 0, 0]  # attack enemy 0 (d = 6) only
    assert avail[1] == [0, 1, 1, 0, 1, 1, 0, 0, 0, 0]
    assert avail[2] == [0, 1, 0, 1, 1, 1, 0, 0, 0, 0]
    assert avail[3] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # dead: no-op only
    assert env.get_avail_agent_actions(0) == avail[0]


def test_map_edge_moves():
    env = make()
    env.set_units(ally_pos=[(0.5, 16), (31.2, 16), (16, 22.9), (16, 9.1)])
    avail = env.get_avail_actions()
    assert avail[0][2:6] == [1, 1, 1, 1]  # int(0.5 - 1) = 0: SMAC's int() truncates towards zero
    assert avail[1][2:6] == [1, 1, 0, 1]  # int(32.2) = 32 is outside the map
    assert avail[2][2:6] == [1, 1, 1, 1]  # int(23.9) = 23 is pathable
    assert avail[3][2:6] == [1, 1, 1, 1]  # int(8.1) = 8 is pathable


def test_state_feature_by_feature():
    env = placed_env()
    s = env.get_state()
    allies = s[:16].reshape(4, 4)
    np.testing.assert_allclose(allies[0], [1, 7.5 / 15, (10 - 16) / 32, 0], atol=1e-6)
    np.testing.assert_allclose(allies[2], [0.5, 0, (19.1 - 16) / 32, (23.2 - 16) / 32], atol=1e-6)
    np.testing.assert_array_equal(allies[3], 0)  # dead
    enemies = s[16:28].reshape(4, 3)
    np.testing.assert_allclose(enemies[1], [30 / 45, (10 - 16) / 32, (22.5 - 16) / 32], atol=1e-6)
    np.testing.assert_array_equal(enemies[3], 0)
    np.testing.assert_array_equal(s[28:], 0)  # no action taken yet


def test_last_action_one_hots():
    env = placed_env(obs_last_action=True)
    env.step([6, 2, 1, 0])
    s = env.get_state()
    last = s[28:].reshape(4, 10)
    np.testing.assert_array_equal(last, np.eye(10)[[6, 2, 1, 0]])
    o = env.get_obs()[0]  # agent 0 sees agent 1 (its last action, 2, is in its ally row)
    ally_feat = 5 + 10
    row = o[4 + 4 * 5: 4 + 4 * 5 + ally_feat]
    assert row[0] == 1 and np.array_equal(row[5:], np.eye(10)[2])


def test_reset_sorts_allies_by_x_then_y():
    for seed in range(5):
        env = make("8m", seed=seed)
        pos = env._core.pos[0, : env.n_agents]
        keys = list(zip(pos[:, 0], pos[:, 1], strict=True))
        assert keys == sorted(keys)
        # spawn points 14 apart, beyond sight: nobody sees an enemy on the first step
        assert np.all(env.get_state()[: 4 * 8].reshape(8, 4)[:, 2] < 0)
        assert all(np.all(o[4:4 + 5 * 8] == 0) for o in env.get_obs())


# ------------------------------------------------------------------------------------ reward
def focus_fire(env: MarineBattleEnv) -> list[int]:
    """Everyone attacks the lowest-id living enemy it can reach, else walks east."""
    actions = []
    for av in env.get_avail_actions():
        if av[0]:
            actions.append(0)
            continue
        attacks = [a for a in range(6, env.n_actions) if av[a]]
        actions.append(attacks[0] if attacks else (4 if av[4] else 1))
    return actions


def play_flawless(env: MarineBattleEnv) -> tuple[list[float], dict]:
    env.set_units(ally_pos=[(12, 15), (12, 16), (12, 17), (12, 18)],
                  enemy_pos=[(16, 15), (16, 16), (16, 17), (16, 18)], enemy_cooldown=[BIG_CD] * 4)
    rewards, term, info = [], False, {}
    while not term:
        r, term, info = env.step(focus_fire(env))
        rewards.append(r)
    return rewards, info


@pytest.mark.parametrize("only_positive", [True, False])
def test_flawless_win_returns_20(only_positive):
    env = make(reward_only_positive=only_positive)
    rewards, info = play_flawless(env)
    assert info["battle_won"] and info["dead_enemies"] == 4 and info["dead_allies"] == 0
    assert sum(rewards) == pytest.approx(20.0, abs=1e-9)
    assert env.get_stats()["battles_won"] == 1


def test_kill_adds_death_bonus():
    env = make(reward_scale=False)
    env.set_units(ally_pos=[(10, 16), (10, 14), (10, 18), (10, 12)],
                  ally_cooldown=[0, BIG_CD, BIG_CD, BIG_CD],
                  enemy_pos=[(15, 16), (22, 10), (22, 14), (22, 18)], enemy_health=[6, 45, 45, 45],
                  enemy_cooldown=[BIG_CD] * 4)
    r, term, info = env.step([6, 1, 1, 1])
    assert r == 6 + 10 and not term and info["dead_enemies"] == 1
    r, term, info = env.step([1, 1, 1, 1])
    assert r == 0.0
    scaled = make()
    assert scaled.max_reward == 4 * 10 + 200 + 4 * 45


def test_damage_without_kill_is_health_drop():
    env = make(reward_scale=False)
    env.set_units(ally_pos=[(10, 16), (10, 14), (10, 18), (10, 12)],
                  ally_cooldown=[0, BIG_CD, BIG_CD, BIG_CD],
                  enemy_pos=[(15, 16), (22, 10), (22, 14), (22, 18)], enemy_cooldown=[BIG_CD] * 4)
    r, _, _ = env.step([6, 1, 1, 1])  # 8 loops < one cooldown (13.8 loops): exactly one shot
    assert r == 6.0
    r, _, _ = env.step([6, 1, 1, 1])  # the second shot comes 13.8 loops after the first
    assert r == 6.0
    r, _, _ = env.step([6, 1, 1, 1])  # loops 16..23: the third shot waits for loop 28
    assert r == 0.0
    r, _, _ = env.step([6, 1, 1, 1])  # loops 24..31
    assert r == 6.0


def one_vs_one(env: MarineBattleEnv, ally_hp: float, enemy_hp: float) -> None:
    env.set_units(ally_pos=[(10, 16), (2, 9), (2, 12), (2, 15)], ally_health=[ally_hp, 0, 0, 0],
                  enemy_pos=[(14, 16), (30, 9), (30, 12), (30, 15)], enemy_health=[enemy_hp, 0, 0, 0])


def test_loss_gets_no_win_bonus():
    env = make(reward_scale=False, reward_defeat=-7)
    one_vs_one(env, ally_hp=6, enemy_hp=45)
    r, term, info = env.step([1, 0, 0, 0])
    assert term and not info["battle_won"] and info["dead_allies"] == 4
    assert r == -7.0
    assert env.get_stats() == {"battles_won": 0, "battles_game": 1, "battles_draw": 0, "win_rate": 0.0,
                               "timeouts": 0, "restarts": 0}


def test_draw_in_the_same_step():
    env = make(reward_scale=False)
    one_vs_one(env, ally_hp=6, enemy_hp=6)
    r, term, info = env.step([6, 0, 0, 0])
    assert term and not info["battle_won"]
    assert info["dead_allies"] == 4 and info["dead_enemies"] == 4
    assert r == 6 + 10  # the kill, no win bonus
    assert env.get_stats()["battles_game"] == 1 and env.get_stats()["battles_won"] == 0


def test_sparse_reward():
    env = make(reward_sparse=True, reward_scale=False)
    one_vs_one(env, ally_hp=45, enemy_hp=6)
    r, term, info = env.step([6, 0, 0, 0])
    assert term and info["battle_won"] and r == 1.0
    env.reset()
    one_vs_one(env, ally_hp=6, enemy_hp=45)
    r, term, info = env.step([1, 0, 0, 0])
    assert term and r == -1.0
    env.reset()
    assert env.step([1, 1, 1, 1])[0] == 0.0
    # with SMAC's default reward_scale, the sparse reward is scaled too (as SMAC does)
    env = make(reward_sparse=True)
    one_vs_one(env, ally_hp=45, enemy_hp=6)
    assert env.step([6, 0, 0, 0])[0] == pytest.approx(1 / 21)


# ------------------------------------------------------------------------------- termination
@pytest.mark.parametrize("continuing", [False, True])
def test_time_out_at_episode_limit(continuing):
    env = make(continuing_episode=continuing)
    env.set_units(ally_cooldown=[BIG_CD] * 4, enemy_cooldown=[BIG_CD] * 4)
    for t in range(1, 61):
        r, term, info = env.step([1, 1, 1, 1])
        assert term == (t == 60)
        assert ("episode_limit" in info) == (continuing and t == 60)
    assert info == ({"battle_won": False, "dead_allies": 0, "dead_enemies": 0} |
                    ({"episode_limit": True} if continuing else {}))
    stats = env.get_stats()
    assert stats["timeouts"] == 1 and stats["battles_game"] == 1 and stats["battles_draw"] == 1


def test_win_terminates_with_info():
    env = make()
    one_vs_one(env, ally_hp=45, enemy_hp=6)
    r, term, info = env.step([6, 0, 0, 0])
    assert term and info == {"battle_won": True, "dead_allies": 3, "dead_enemies": 4}
    assert r == pytest.approx((6 + 10 + 200) / 21)


# -------------------------------------------------------------------------- seeds and batches
def rollout(env: MarineBattleEnv, seed: int, n_steps: int = 80) -> list:
    rng = np.random.default_rng(seed)
    out = [env.reset()[1]]
    for _ in range(n_steps):
        r, term, _ = env.step(random_actions(np.array(env.get_avail_actions()), rng))
        out += [r, np.concatenate(env.get_obs()), env.get_state()]
        if term:
            out.append(env.reset()[1])
    return out


def test_same_seed_same_episodes():
    a = rollout(make(seed=7), seed=1)
    b = rollout(make(seed=7), seed=1)
    c = rollout(make(seed=8), seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_batched_equals_single_step_by_step():
    B, seed = 3, 11
    batch = BatchedMarineEnv(B, seed=seed, map_name="3m")
    singles = [MarineBattleEnv(map_name="3m", seed=seed + i) for i in range(B)]
    rng = np.random.default_rng(0)
    for _ in range(2):  # two episodes each
        batch.reset()
        for e in singles:
            e.reset()
        while not batch.done.all():
            np.testing.assert_array_equal(batch.get_avail_actions(),
                                          np.array([e.get_avail_actions() for e in singles]))
            actions = random_actions(batch.get_avail_actions(), rng)
            active = ~batch.done
            rewards, terms, info = batch.step(actions)
            for i, e in enumerate(singles):
                if not active[i]:
                    assert rewards[i] == 0 and not terms[i]
                    continue
                r, t, inf = e.step(actions[i])
                assert np.float32(r) == rewards[i] and t == terms[i]
                assert inf["battle_won"] == info["battle_won"][i]
                assert inf["dead_allies"] == info["dead_allies"][i]
                np.testing.assert_array_equal(np.stack(e.get_obs()), batch.get_obs()[i])
                np.testing.assert_array_equal(e.get_state(), batch.get_state()[i])
    assert batch.get_stats()["battles_game"] == sum(e.get_stats()["battles_game"] for e in singles)


def test_batched_partial_reset_and_shapes():
    batch = BatchedMarineEnv(4, seed=3, map_name="MarineMicro_MvsM_4", continuing_episode=True)
    assert batch.get_obs().shape == (4, 4, 40) and batch.get_state().shape == (4, 68)
    assert batch.get_avail_actions().shape == (4, 4, 10)
    before = batch.pos.copy()
    batch.reset(np.array([True, False, False, True]))
    assert not np.array_equal(before[0], batch.pos[0]) and np.array_equal(before[1], batch.pos[1])
    r, t, info = batch.step(np.ones((4, 4), int))
    assert r.dtype == np.float32 and r.shape == (4,) and t.dtype == bool
    assert set(info) == {"battle_won", "dead_allies", "dead_enemies", "episode_limit"}
    assert BatchedMarineEnv(2, seed=None, map_name="3m").seed_value >= 0


# ------------------------------------------------------------------------------------ errors
def test_wrong_number_of_actions():
    env = make()
    with pytest.raises(InvalidActionError, match="4 actions, got 3"):
        env.step([1, 1, 1])


def test_unavailable_action_names_agent_and_action():
    env = placed_env()
    with pytest.raises(InvalidActionError) as err:
        env.step([8, 1, 1, 0])  # enemy 2 is 9 away from agent 0
    msg = str(err.value)
    assert "agent 0" in msg and "action 8 (attack enemy 2)" in msg and "6 (attack enemy 0)" in msg
    with pytest.raises(InvalidActionError, match=r"agent 3 \(dead\) cannot take action 1"):
        env.step([1, 1, 1, 1])
    with pytest.raises(InvalidActionError, match="agent 1 .*cannot take action 0"):
        env.step([1, 0, 1, 0])
    with pytest.raises(InvalidActionError, match="out of range 0..9"):
        env.step([1, 1, 12, 0])
    with pytest.raises(InvalidActionError, match="env 1, agent 0"):
        BatchedMarineEnv(2, seed=0, map_name="3m").step(np.array([[1, 1, 1], [0, 1, 1]]))


def test_unknown_map_and_argument():
    with pytest.raises(EnvironmentSetupError, match="Unknown map '3z'.*MarineMicro_MvsM_4"):
        REGISTRY["sc2"](map_name="3z", backend="builtin")
    with pytest.raises(EnvironmentSetupError, match="Unknown env_args \\['map'\\]"):
        REGISTRY["sc2"](map="3m", backend="builtin")
    with pytest.raises(EnvironmentSetupError, match="backend"):
        REGISTRY["sc2"](map_name="3m", backend="sc2")
    with pytest.raises(EnvironmentSetupError, match="heuristic_ai"):
        REGISTRY["sc2"](map_name="3m", backend="builtin", heuristic_ai=True)
    with pytest.raises(EnvironmentSetupError, match="builtin_spawn_spread"):
        REGISTRY["sc2"](map_name="3m", backend="builtin", builtin_spawn_spread=-1)
