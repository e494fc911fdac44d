"""Runners: what is written at each t, t vs t_env, time-outs, parallel == episode, dead workers."""

from __future__ import annotations

import logging
import os
import signal
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch as th

from pymarl_explained import load_config
from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
from pymarl_explained.errors import EnvironmentSetupError
from pymarl_explained.run import build_scheme
from pymarl_explained.runners import REGISTRY as r_REGISTRY
from pymarl_explained.runners.env_pools import SubprocEnvPool


class RecordingLogger:
    def __init__(self):
        self.console_logger = logging.getLogger("test")
        self.stats: dict[str, list] = {}

    def log_stat(self, key, value, t, to_sacred=True):
        self.stats.setdefault(key, []).append((t, value))


def make_runner(runner="episode", batch_size_run=1, seed=5, runner_class=None, config_overrides=None,
                **env_overrides):
    """A runner of QMIX's controller (weights of seed 0) on MarineMicro_MvsM_4 (``map_name`` and other
    env args as keywords); ``runner_class`` instead of the registry's; other config keys in
    ``config_overrides``. Returns (runner, mac, logger)."""
    overrides = {"env_args.map_name": "MarineMicro_MvsM_4", "env_args.backend": "builtin",
                 "runner": runner, "batch_size_run": batch_size_run, "test_nepisode": 2, "seed": seed,
                 **(config_overrides or {})}
    overrides.update({f"env_args.{k}": v for k, v in env_overrides.items()})
    config = load_config("qmix", "sc2", overrides)
    config["env_args"]["seed"] = seed
    args = SimpleNamespace(**config, device="cpu")
    logger = RecordingLogger()
    runner_obj = (runner_class or r_REGISTRY[runner])(args=args, logger=logger)
    env_info = runner_obj.get_env_info()
    args.n_agents, args.n_actions = env_info["n_agents"], env_info["n_actions"]
    args.state_shape, args.obs_shape = env_info["state_shape"], env_info["obs_shape"]
    scheme, groups, preprocess = build_scheme(env_info)
    probe = EpisodeBatch(scheme, groups, 1, env_info["episode_limit"] + 1, preprocess=preprocess)
    th.manual_seed(0)
    mac = mac_REGISTRY["basic_mac"](probe.scheme, groups, args)
    runner_obj.setup(scheme=scheme, groups=groups, preprocess=preprocess, mac=mac)
    return runner_obj, mac, logger


def test_episode_runner_writes_every_step_and_the_extra_action():
    runner, _, _ = make_runner()
    th.manual_seed(1)
    batch = runner.run(test_mode=False)
    T = runner.t  # steps taken
    assert batch.batch_size == 1 and batch.max_seq_length == 61
    filled = batch["filled"][0, :, 0]
    assert filled[: T + 1].tolist() == [1] * (T + 1)  # steps 0..T hold data (T: the final observation)
    assert filled[T + 1:].sum() == 0
    assert batch.max_t_filled() == T + 1
    assert runner.t_env == T  # training episode: t_env grows by the episode length
    terminated = batch["terminated"][0, :, 0]
    assert terminated[:T - 1].sum() == 0 and terminated[T - 1] == 1  # a battle ended at the last step
    assert batch["reward"][0, T:].abs().sum() == 0
    # the action selected after the last step is stored at t = T, and it is available there
    last = batch["actions"][0, T, :, 0]
    avail = batch["avail_actions"][0, T]
    assert all(avail[i, a] == 1 for i, a in enumerate(last.tolist()))
    assert batch["actions_onehot"][0, T].sum() == runner.mac.n_agents


def test_t_env_counts_training_steps_only_and_test_stats_after_test_nepisode():
    runner, _, logger = make_runner()
    runner.run(test_mode=False)
    t_env = runner.t_env
    runner.run(test_mode=True)
    assert runner.t_env == t_env
    assert "test_return_mean" not in logger.stats  # test_nepisode = 2: logged after the second
    runner.run(test_mode=True)
    assert {"test_return_mean", "test_battle_won_mean", "test_ep_length_mean"} <= set(logger.stats)
    assert "return_mean" in logger.stats and "epsilon" in logger.stats  # first training episode logged


class TimeOutEnv:
    """A 2-agent env whose episodes always run into the time limit (5 steps)."""

    episode_limit = 5

    def __init__(self, continuing_episode=False, **kwargs):
        self.continuing = continuing_episode
        self.t = 0

    def reset(self):
        self.t = 0

    def step(self, actions):
        self.t += 1
        done = self.t >= self.episode_limit
        info = {"battle_won": False}
        if done and self.continuing:
            info["episode_limit"] = True
        return 0.5, done, info

    def get_state(self):
        return np.full(3, self.t, dtype=np.float32)

    def get_obs(self):
        return [np.full(2, self.t, dtype=np.float32)] * 2

    def get_avail_actions(self):
        return [[1, 1, 1]] * 2

    def get_env_info(self):
        return {"state_shape": 3, "obs_shape": 2, "n_actions": 3, "n_agents": 2, "episode_limit": 5}

    def close(self):
        pass


@pytest.mark.parametrize("continuing", [False, True])
def test_time_out_is_terminal_only_without_continuing_episode(monkeypatch, continuing):
    """`terminated != episode_limit`: a time-out flagged by the env is stored as not terminal."""
    from pymarl_explained import envs

    monkeypatch.setitem(envs.REGISTRY, "timeout_fake", TimeOutEnv)
    config = load_config("qmix", "sc2", {"batch_size_run": 1})
    config.update(env="timeout_fake", env_args={"continuing_episode": continuing})
    args = SimpleNamespace(**config, device="cpu", n_agents=2, n_actions=3, state_shape=3, obs_shape=2)
    runner = r_REGISTRY["episode"](args=args, logger=RecordingLogger())
    scheme, groups, preprocess = build_scheme(runner.get_env_info())
    probe = EpisodeBatch(scheme, groups, 1, 6, preprocess=preprocess)
    mac = mac_REGISTRY["basic_mac"](probe.scheme, groups, args)
    runner.setup(scheme=scheme, groups=groups, preprocess=preprocess, mac=mac)
    batch = runner.run(test_mode=False)
    assert runner.t == 5 and runner.t_env == 5
    assert batch["terminated"][0, :, 0].tolist() == [0, 0, 0, 0, 0 if continuing else 1, 0]
    assert batch["filled"][0, :, 0].tolist() == [1] * 6
    assert batch["state"][0, :, 0].tolist() == [0, 1, 2, 3, 4, 5]


def test_parallel_runner_equals_episode_runners_with_seed_plus_index():
    """Greedy (test-mode) episodes: env i of the parallel runner is the single env seeded seed + i."""
    par, par_mac, _ = make_runner("parallel", batch_size_run=3, seed=11)
    par_batch = par.run(test_mode=True)
    for i in range(3):
        single, mac, _ = make_runner("episode", seed=11 + i)
        mac.load_state(par_mac)
        one = single.run(test_mode=True)
        T = one.max_t_filled()
        assert par_batch["filled"][i].sum().item() == T
        for key in ("state", "obs", "avail_actions", "actions", "reward", "terminated"):
            assert th.equal(par_batch[key][i, :T], one[key][0, :T]), key


def test_parallel_runner_t_env_is_the_sum_of_episode_lengths():
    par, _, _ = make_runner("parallel", batch_size_run=4)
    batch = par.run(test_mode=False)
    lengths = batch["filled"].sum(dim=(1, 2)) - 1
    assert par.t_env == int(lengths.sum())


def test_dead_subprocess_worker_is_an_error_not_a_hang():
    env_args = {"map_name": "MarineMicro_MvsM_4", "backend": "builtin", "seed": 1}
    pool = SubprocEnvPool("sc2", env_args, 2, timeout_s=60)
    try:
        first = pool.reset()
        assert first["obs"].shape == (2, 4, 40)
        assert not np.array_equal(first["state"][0], first["state"][1])  # seeds differ: seed + i
        os.kill(pool.ps[1].pid, signal.SIGKILL)
        time.sleep(0.5)
        start = time.time()
        with pytest.raises(EnvironmentSetupError, match="worker 1 .* died"):
            pool.step(np.ones((2, 4), dtype=np.int64), np.array([True, True]))
        assert time.time() - start < 10
    finally:
        for p in pool.ps:
            p.kill()
