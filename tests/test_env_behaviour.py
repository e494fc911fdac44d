"""Behavioural sanity of the built-in simulator over hundreds of episodes.

A uniformly random valid policy must lose almost always, quickly; focus fire must win clearly more
often. If this fails, the enemy AI or the unit numbers are off (fix the simulator, not the test).
"""

from __future__ import annotations

import numpy as np
import pytest

from pymarl_explained.envs import BatchedMarineEnv

N_EPISODES = 256


def random_policy(env: BatchedMarineEnv, rng: np.random.Generator) -> np.ndarray:
    avail = env.get_avail_actions()
    return np.argmax(rng.random(avail.shape) * avail, axis=-1)


def focus_fire_policy(env: BatchedMarineEnv, rng: np.random.Generator) -> np.ndarray:
    """Every agent attacks the living enemy nearest to its team's centre if it can, else its own
    nearest attackable enemy, else walks towards the team's target."""
    A, avail, pos, hp = env.n_agents, env.get_avail_actions(), env.pos, env.hp
    alive = hp[:, :A] > 0
    centre = (pos[:, :A] * alive[..., None]).sum(1) / np.maximum(alive.sum(1), 1)[:, None]
    d_team = np.linalg.norm(pos[:, A:] - centre[:, None], axis=-1)
    d_team[hp[:, A:] <= 0] = np.inf
    team_target = np.argmin(d_team, axis=1)  # [B]
    d_own = np.linalg.norm(pos[:, A:, None] - pos[:, None, :A], axis=-1).transpose(0, 2, 1)  # [B, A, E]
    d_own = np.where(avail[:, :, 6:] > 0, d_own, np.inf)
    own_target = np.argmin(d_own, axis=-1)
    step = pos[np.arange(env.n_envs), A + team_target][:, None] - pos[:, :A]  # [B, A, 2]
    walk = np.where(np.abs(step[..., 0]) > np.abs(step[..., 1]),
                    np.where(step[..., 0] > 0, 4, 5), np.where(step[..., 1] > 0, 2, 3))
    walk = np.where(np.take_along_axis(avail, walk[..., None], -1)[..., 0] > 0, walk, 1)
    can_team = np.take_along_axis(avail, (6 + team_target)[:, None, None].repeat(A, 1), -1)[..., 0] > 0
    actions = np.where(can_team, 6 + team_target[:, None],
                       np.where(np.isfinite(d_own.min(-1)), 6 + own_target, walk))
    return np.where(alive, actions, 0)


def play(map_name: str, policy, n_episodes: int = N_EPISODES, n_envs: int = 64) -> dict:
    env = BatchedMarineEnv(n_envs, seed=2024, map_name=map_name)
    rng = np.random.default_rng(0)
    wins, lengths, returns = [], [], []
    for _ in range(n_episodes // n_envs):
        env.reset()
        ret, length, won = np.zeros(n_envs), np.zeros(n_envs), np.zeros(n_envs, bool)
        while not env.done.all():
            active = ~env.done
            r, _, info = env.step(policy(env, rng))
            ret += r * active
            length += active
            won |= info["battle_won"]
        wins += won.tolist()
        lengths += length.tolist()
        returns += ret.tolist()
    return {"win": np.mean(wins), "length": np.mean(lengths), "return": np.mean(returns),
            "limit": env.episode_limit}


@pytest.mark.parametrize("map_name", ["3m", "MarineMicro_MvsM_4"])
def test_random_policy_loses_quickly(map_name):
    res = play(map_name, random_policy)
    assert res["win"] <= 0.02
    assert res["length"] < 0.6 * res["limit"]
    assert 0.5 < res["return"] < 4.0  # SMAC: about 1.5


@pytest.mark.parametrize("map_name", ["3m", "MarineMicro_MvsM_4"])
def test_focus_fire_beats_random(map_name):
    rand = play(map_name, random_policy)
    focus = play(map_name, focus_fire_policy)
    assert focus["win"] >= rand["win"] + 0.15
    assert focus["return"] > 3 * rand["return"]
