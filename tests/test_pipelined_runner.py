"""PipelinedRunner: the worker's episodes are the episode runner's for the weights each request
carried, one training episode ahead; training with it is deterministic; failures are clear."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
import torch as th

from pymarl_explained import load_config, train
from pymarl_explained.errors import ConfigError, EnvironmentSetupError
from pymarl_explained.runners.fast_episode_runner import FastEpisodeRunner
from tests.test_runners import make_runner


def _nudge(mac, step: int) -> None:
    """Change every weight of the controller, differently at each step (a stand-in for training)."""
    with th.no_grad():
        for i, p in enumerate(mac.agent.parameters()):
            p.add_(0.05 * np.sin(step + i))


def _seed_like_the_worker(seed: int) -> None:
    import random

    random.seed(seed)
    np.random.seed(seed)
    th.manual_seed(seed)


def test_each_episode_is_the_episode_runners_for_the_weights_of_its_request():
    """Training episode k+1 is played with the weights of the k-th call (one update behind); a test
    episode with the weights of its own call, after the training episode in flight; t_env and
    every logged stat are the episode runner's."""
    overrides = {"test_nepisode": 1, "runner_log_interval": 0}
    runner, mac, logger = make_runner("pipelined", config_overrides=overrides)
    ref, ref_mac, ref_logger = make_runner(runner_class=FastEpisodeRunner, config_overrides=overrides)
    try:
        calls = [False, False, True, False, False, True, False]  # test_mode of each run() call
        got, weights_at_call = [], []
        for i, test_mode in enumerate(calls):
            _nudge(mac, i)
            weights_at_call.append({k: v.clone() for k, v in mac.agent.state_dict().items()})
            got.append((runner.run(test_mode=test_mode), runner.t_env))

        # what the worker played, in its order: (test_mode, the call whose weights the request
        # carried, how many training episodes the main process had received: its t_env)
        plays = [(False, 0, 0), (False, 0, 1), (False, 1, 2), (True, 2, 2), (False, 3, 3), (False, 4, 4),
                 (True, 5, 4), (False, 6, 5)]
        _seed_like_the_worker(runner.args.seed)
        played, t_env_after, ref_stats = [], [0], None
        for n, (test_mode, call, received) in enumerate(plays):
            if n == len(plays) - 1:  # still in flight at the end: its stats never reached the main process
                ref_stats = {k: list(v) for k, v in ref_logger.stats.items()}
            ref_mac.agent.load_state_dict(weights_at_call[call])
            ref.t_env = t_env_after[received]
            played.append(ref.run(test_mode=test_mode))
            if not test_mode:
                t_env_after.append(ref.t_env)
        # the calls returned: train 1, train 2, a test, train 3, train 4, a test, train 5
        expected = [(played[0], t_env_after[1]), (played[1], t_env_after[2]), (played[3], t_env_after[2]),
                    (played[2], t_env_after[3]), (played[4], t_env_after[4]), (played[6], t_env_after[4]),
                    (played[5], t_env_after[5])]
        for (batch, t_env), (want, want_t_env) in zip(got, expected, strict=True):
            assert t_env == want_t_env
            assert set(batch.data.transition_data) == set(want.data.transition_data)
            for key in want.data.transition_data:
                assert th.equal(batch[key], want[key]), key
        assert not th.equal(got[0][0]["actions"], got[1][0]["actions"])  # the episodes differ
        assert logger.stats == ref_stats and "test_return_mean" in ref_stats and "epsilon" in ref_stats
    finally:
        runner.close_env()
        ref.close_env()


def _train(tmp_path, name: str, **overrides):
    config = load_config("qmix", "sc2", {
        "env_args.map_name": "MarineMicro_MvsM_4", "env_args.backend": "builtin", "runner": "pipelined",
        "t_max": 600, "batch_size": 4, "buffer_size": 16, "test_interval": 200, "test_nepisode": 2,
        "log_interval": 200, "runner_log_interval": 200, "learner_log_interval": 200, "seed": 4,
        "progress_bar": False, "local_results_path": str(tmp_path / name), **overrides})
    summary = train(config)
    metrics = (tmp_path / name / "runs").glob("*/metrics.jsonl")
    return summary, [json.loads(line) for line in next(metrics).read_text().splitlines()]


def test_training_with_the_pipelined_runner_is_deterministic_and_ends_with_a_battle(tmp_path):
    """Two runs with one seed log the same metrics, whatever the timing of the two processes; the
    battle animation is played by the worker's env."""
    first, metrics = _train(tmp_path, "a", save_battle_animation=True)
    _, again = _train(tmp_path, "b")
    strip = [{k: v for k, v in m.items() if k != "wall_time"} for m in metrics]
    assert strip == [{k: v for k, v in m.items() if k != "wall_time"} for m in again]
    keys = {m["key"] for m in metrics}
    assert {"loss", "return_mean", "test_return_mean", "epsilon", "episode"} <= keys
    assert first.t_env > 600
    assert (first.run_dir / "battle.gif").stat().st_size > 0


def test_the_pipelined_runner_plays_one_env(tmp_path):
    config = load_config("qmix", "sc2", {"env_args.map_name": "3m", "env_args.backend": "builtin",
                                         "runner": "pipelined", "batch_size_run": 2, "t_max": 10,
                                         "local_results_path": str(tmp_path)})
    with pytest.raises(ConfigError, match="runner=pipelined needs batch_size_run=1"):
        train(config)
    assert not (tmp_path / "runs").exists()


def test_a_dead_worker_is_a_clear_error_not_a_hang():
    runner, _, _ = make_runner("pipelined")
    try:
        runner.run()
        os.kill(runner.process.pid, signal.SIGKILL)
        with pytest.raises(EnvironmentSetupError, match="worker .* died"):
            runner.run()
    finally:
        runner.close_env()
    assert not runner.process.is_alive()


def test_a_failure_in_the_worker_comes_back_with_its_traceback():
    runner, _, _ = make_runner("pipelined")
    try:
        with pytest.raises(EnvironmentSetupError, match="(?s)worker failed.*size mismatch"):
            runner._ask("run", (False, 0, {"fc1.weight": np.zeros((1, 1), np.float32)}))
    finally:
        runner.close_env()


def test_a_clear_error_in_the_worker_is_raised_as_itself():
    """The package's own errors (here: StarCraft II's backend without SMAC) reach the user as they
    are, not wrapped in the worker's traceback."""
    with pytest.raises(EnvironmentSetupError, match="needs the StarCraft Multi-Agent Challenge") as caught:
        make_runner("pipelined", backend="starcraft")
    assert "worker failed" not in str(caught.value)
