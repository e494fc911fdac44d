"""FastEpisodeRunner: the EpisodeRunner's episodes bit for bit (batches, random draws, logged stats,
whole training runs), where it applies, and PyMARL's loop where it does not."""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import torch
from conftest import RecordingLogger
from test_runners import make_runner

from pymarl_explained import load_config, train
from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.run import build_components
from pymarl_explained.runners.episode_runner import EpisodeRunner
from pymarl_explained.runners.fast_episode_runner import FastActing, FastEpisodeRunner, StepBatch

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler here")

MIXED_EPSILON = {"epsilon_start": 0.6, "epsilon_finish": 0.05, "epsilon_anneal_time": 150}


def make(runner_class, map_name="MarineMicro_MvsM_4", **overrides):
    runner, mac, _ = make_runner(runner_class=runner_class, config_overrides=overrides, map_name=map_name)
    return runner, mac


def play(runner_class, modes, **kw):
    runner, mac = make(runner_class, **kw)
    torch.manual_seed(1)
    batches = [runner.run(test_mode=test_mode) for test_mode in modes]
    return runner, mac, batches, torch.rand(4)  # the generator's state after them


@pytest.mark.parametrize("map_name", ["MarineMicro_MvsM_4", "3m", "8m"])
def test_episodes_equal_the_episode_runners_bit_for_bit(map_name):
    modes = [False, False, True, False, True, True, False, False, False, False]
    plain = play(EpisodeRunner, modes, map_name=map_name, **MIXED_EPSILON)
    fast = play(FastEpisodeRunner, modes, map_name=map_name, **MIXED_EPSILON)
    assert isinstance(fast[0].mac, FastActing) and all(type(b) is StepBatch for b in fast[2])
    for a, b in zip(plain[2], fast[2], strict=True):
        assert set(a.data.transition_data) == set(b.data.transition_data)
        for key in a.data.transition_data:
            assert torch.equal(a[key], b[key]), key
    assert torch.equal(plain[3], fast[3])  # the same random draws
    assert torch.equal(plain[1].hidden_states, fast[1].hidden_states)
    assert plain[0].t_env == fast[0].t_env
    assert plain[0].logger.stats == fast[0].logger.stats
    epsilons = [v for _, v in fast[0].logger.stats["epsilon"]]
    assert max(epsilons) < 1 and min(epsilons) > 0.05  # greedy and random actions both happened


def test_a_run_trains_to_the_same_numbers_with_and_without_it(tmp_path):
    runs = {}
    for fast in (True, False):
        overrides = {"env_args.map_name": "MarineMicro_MvsM_4", "env_args.backend": "builtin", "t_max": 600,
                     "batch_size": 4, "buffer_size": 8, "test_interval": 300, "test_nepisode": 2,
                     "log_interval": 300, "runner_log_interval": 100, "learner_log_interval": 100,
                     "progress_bar": False, "seed": 3, "fast_acting": fast, **MIXED_EPSILON,
                     "local_results_path": str(tmp_path / str(fast))}
        runs[fast] = train(load_config("qmix", "sc2", overrides)).metrics
    assert runs[True].keys() == runs[False].keys() and "loss" in runs[True]
    for key in runs[True]:
        for a, b in zip(runs[True][key], runs[False][key], strict=True):
            assert (a == b).all(), key


def test_training_uses_it_for_runner_episode_only_where_it_applies():
    def built(alg, **overrides):
        config = load_config(alg, "sc2", {"env_args.map_name": "3m", "env_args.backend": "builtin", "use_cuda": False,
                                          **overrides})
        args = SimpleNamespace(**config, device="cpu")
        runner, _, learner = build_components(args, RecordingLogger())
        try:
            runner.run(test_mode=False)
            return runner, learner
        finally:
            runner.close_env()

    runner, learner = built("qmix")
    assert type(runner) is FastEpisodeRunner and runner.mac.mac is learner.mac
    runner, _ = built("qmix", fast_acting=False)
    assert type(runner) is EpisodeRunner
    # COMA (policy outputs, the multinomial selector) with one env: PyMARL's loop in the same class
    runner, learner = built("coma", runner="episode", batch_size_run=1)
    assert type(runner) is FastEpisodeRunner and runner.mac is learner.mac and type(runner.batch) is EpisodeBatch
    runner, _ = built("coma")  # its own runner=parallel: unchanged
    assert type(runner).__name__ == "ParallelRunner"


def test_step_batch_checks_like_update_and_writes_the_same():
    runner, _ = make(FastEpisodeRunner)
    runner.reset()
    plain_batch = EpisodeBatch(*runner.new_batch.args, **runner.new_batch.keywords)
    batch = runner.batch
    assert type(batch) is StepBatch
    data = {"actions": torch.tensor([[1, 2, 9, 0]]), "reward": [(0.1,)], "terminated": [(True,)],
            "obs": torch.rand(1, 4, 40, dtype=torch.float64)}
    for target in (plain_batch, batch):
        target.update(data, ts=3)
        target.update({"actions": [[3, 3, 3, 3]]}, ts=3)  # rewritten: the old one-hot 1s cleared
        target.update({"reward": [(2.5,)]}, ts=slice(5, 6))  # not the runner's pattern: update itself
    for key in plain_batch.data.transition_data:
        assert torch.equal(plain_batch[key], batch[key]), key
    for bad in ({"obs": torch.zeros(1, 4, 41)}, {"obs": [[1.0, 2.0], [3.0]]}):
        with pytest.raises(ValueError) as plain_error:
            plain_batch.update(bad, ts=4)
        with pytest.raises(ValueError) as fast_error:
            batch.update(bad, ts=4)
        assert str(fast_error.value) == str(plain_error.value)
    for target in (plain_batch, batch):  # an action id past n_actions: the one-hot's error, the same state after
        with pytest.raises(RuntimeError, match="index 10 is out of bounds"):
            target.update({"actions": torch.tensor([[1, 2, 10, 0]])}, ts=4)
    for key in plain_batch.data.transition_data:
        assert torch.equal(plain_batch[key], batch[key]), key
