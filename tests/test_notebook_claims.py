"""Statements the notebooks make about PyMARL, pinned on the code (issue 13's corrections).

Each test names the notebook statement it pins. Statement (6) of the issue, the OMG scaling and the
target-update count, is pinned by
``tests/test_omg_behaviour.py::test_omg_scaling_keeps_gradient_steps_but_updates_targets_n_agents_times_as_often``.
"""

from __future__ import annotations

import copy
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import RecordingLogger, empty_batch

import pymarl_explained.main as pm
from pymarl_explained import load_config
from pymarl_explained.controllers.basic_controller import BasicMAC
from pymarl_explained.errors import ConfigError
from pymarl_explained.learners.coma_learner import COMALearner
from pymarl_explained.learners.q_learner import QLearner
from pymarl_explained.notebook_setup import seed_like_my_main
from pymarl_explained.run import args_sanity_check
from pymarl_explained.runners.episode_runner import EpisodeRunner


# (1) notebook 00: "PyMARL's my_main seeds numpy and torch and copies the seed into env_args"
def test_my_main_seeds_numpy_torch_and_hands_the_seed_to_the_env(monkeypatch):
    seen = {}

    def recording_run(_run, config, _log):
        seen["env_args.seed"] = config["env_args"]["seed"]
        seen["numpy"], seen["torch"] = np.random.rand(), torch.rand(1).item()
        return {}

    monkeypatch.setattr(pm, "run", recording_run)
    config = load_config("qmix", "sc2", {"seed": 321})
    assert config["env_args"]["seed"] != 321  # sc2.yaml's value, until my_main copies the seed
    pm.my_main(None, config, logging.getLogger("test"))
    np.random.seed(321)
    torch.manual_seed(321)
    assert seen == {"env_args.seed": 321, "numpy": np.random.rand(), "torch": torch.rand(1).item()}


def test_the_notebooks_seed_helper_seeds_like_my_main(monkeypatch):
    draws = {}
    monkeypatch.setattr(pm, "run",
                        lambda _r, c, _l: draws.setdefault("my_main", (np.random.rand(), c["env_args"]["seed"])))
    pm.my_main(None, load_config("qmix", "sc2", {"seed": 9}), logging.getLogger("test"))
    config = seed_like_my_main(load_config("qmix", "sc2", {"seed": 9}))
    assert draws["my_main"] == (np.random.rand(), config["env_args"]["seed"])


# (2) notebook 00: "--multi_algs is implemented by the OMG plug-in"
def test_multi_algs_command_line_builds_one_algorithm_per_agent_slot():
    config, _ = pm.parse_command_line(["main.py", "--config=2iql1qmix1iql_omg", "--multi_algs", "--env-config=sc2"])
    assert config["agent_algs"] == ["iql", "iql", "qmix", "iql_omg"]
    assert config["learner"] == "omg_learner"


# (3) notebook 00: PyMARL's EpisodeRunner refuses batch_size_run != 1 (it never plays 8 envs)
@pytest.mark.parametrize("batch_size_run", [0, 2, 8])
def test_episode_runner_refuses_batch_size_run_other_than_1_before_building_an_env(batch_size_run):
    # env "no_such_env" would fail in the registry: the batch size is checked first
    args = SimpleNamespace(batch_size_run=batch_size_run, env="no_such_env", env_args={})
    with pytest.raises(ConfigError, match=f"batch_size_run must be 1 \\(got {batch_size_run}\\)"):
        EpisodeRunner(args, RecordingLogger())
    config = load_config("qmix", "sc2", {"batch_size_run": batch_size_run, "use_cuda": False})
    with pytest.raises(ConfigError, match="runner=episode needs batch_size_run=1"):
        args_sanity_check(config, logging.getLogger("test"))


# (5) notebook 02: the extra action at T never changes a Q-learner's loss, but COMA's critic target reads it
N_AGENTS, N_ACTIONS, T = 2, 3, 5


def _args(**overrides) -> SimpleNamespace:
    args = dict(n_agents=N_AGENTS, n_actions=N_ACTIONS, state_shape=5, obs_shape=4, gamma=0.9, lr=0.01,
                critic_lr=0.01, optim_alpha=0.99, optim_eps=1e-5, grad_norm_clip=10, target_update_interval=200,
                learner_log_interval=0, agent="rnn", rnn_hidden_dim=8, obs_last_action=True, obs_agent_id=True,
                device="cpu", double_q=True, mixer="qmix", mixing_embed_dim=4, hypernet_layers=2, hypernet_embed=8,
                agent_output_type="q", action_selector="epsilon_greedy", epsilon_start=1.0, epsilon_finish=0.05,
                epsilon_anneal_time=100, mask_before_softmax=False, td_lambda=0.8, critic_train_mode="seq")
    args.update(overrides)
    return SimpleNamespace(**args)


def _learner(kind: str):
    torch.manual_seed(0)
    if kind == "coma":
        args = _args(agent_output_type="pi_logits", action_selector="multinomial", epsilon_start=0.5)
    else:
        args = _args()
    scheme = empty_batch(1, 2, N_AGENTS, N_ACTIONS).scheme
    mac = BasicMAC(scheme, {"agents": N_AGENTS}, args)
    cls = COMALearner if kind == "coma" else QLearner
    return cls(mac, scheme, RecordingLogger(), args)


def _episode(terminated_at_end: bool):
    """One episode of T rows: T-1 transitions and the final row, every action available."""
    gen = torch.Generator().manual_seed(1)
    batch = empty_batch(1, T, N_AGENTS, N_ACTIONS)
    batch.update({"state": torch.randn(1, T, 5, generator=gen),
                  "obs": torch.randn(1, T, N_AGENTS, 4, generator=gen),
                  "avail_actions": torch.ones(1, T, N_AGENTS, N_ACTIONS, dtype=torch.int),
                  "actions": torch.randint(0, N_ACTIONS, (1, T, N_AGENTS, 1), generator=gen),
                  "reward": torch.randn(1, T, 1, generator=gen)})
    if terminated_at_end:
        batch.data.transition_data["terminated"][0, T - 2] = 1  # a real end: no bootstrap
    return batch


def _with_other_extra_action(batch):
    other = copy.deepcopy(batch)
    new = (batch["actions"][:, T - 1] + 1) % N_ACTIONS
    other.update({"actions": new}, ts=T - 1)
    assert not torch.equal(other["actions"][:, T - 1], batch["actions"][:, T - 1])
    assert torch.equal(other["actions"][:, : T - 1], batch["actions"][:, : T - 1])
    return other


@pytest.mark.parametrize("terminated_at_end", [False, True])
def test_q_learner_loss_never_reads_the_extra_action(one_torch_thread, terminated_at_end):
    learner = _learner("q")
    batch = _episode(terminated_at_end)
    loss = copy.deepcopy(learner).train(batch, 0, 0)["loss"]
    assert copy.deepcopy(learner).train(_with_other_extra_action(batch), 0, 0)["loss"] == loss


def test_coma_critic_target_reads_the_extra_action_when_the_episode_bootstraps(one_torch_thread):
    learner = _learner("coma")
    timed_out = _episode(terminated_at_end=False)  # a time-out stored as non-terminal: bootstraps from row T-1
    loss = copy.deepcopy(learner).train(timed_out, 0, 0)["critic_loss"]
    other = copy.deepcopy(learner).train(_with_other_extra_action(timed_out), 0, 0)["critic_loss"]
    assert other != pytest.approx(loss, rel=1e-6)


def test_coma_critic_ignores_the_extra_action_after_a_real_end(one_torch_thread):
    learner = _learner("coma")
    ended = _episode(terminated_at_end=True)
    loss = copy.deepcopy(learner).train(ended, 0, 0)["critic_loss"]
    assert copy.deepcopy(learner).train(_with_other_extra_action(ended), 0, 0)["critic_loss"] == loss
