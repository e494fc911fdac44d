"""QLearner: the mask, the targets and the loss by hand; fast unroll == PyMARL's loop; checkpoints."""

from __future__ import annotations

import copy
import os
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import RecordingLogger, TableMAC, empty_batch

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.controllers.basic_controller import BasicMAC
from pymarl_explained.errors import ConfigError
from pymarl_explained.learners import REGISTRY as learner_REGISTRY
from pymarl_explained.learners.q_learner import QLearner


def make_args(**overrides):
    args = dict(
        n_agents=1, n_actions=2, state_shape=3, obs_shape=2, mixer=None, double_q=True, gamma=0.5,
        lr=0.0005, optim_alpha=0.99, optim_eps=1e-5, grad_norm_clip=10, target_update_interval=200,
        learner_log_interval=2000, learner_fast_unroll=True,
        agent="rnn", rnn_hidden_dim=8, obs_last_action=True, obs_agent_id=True, agent_output_type="q",
        action_selector="epsilon_greedy", epsilon_start=1.0, epsilon_finish=0.05, epsilon_anneal_time=50000,
        mixing_embed_dim=4, hypernet_layers=2, hypernet_embed=8, device="cpu",
    )
    args.update(overrides)
    return SimpleNamespace(**args)


def make_batch(batch_size, T, n_agents, n_actions, state_shape=3, obs_shape=2):
    return empty_batch(batch_size, T, n_agents, n_actions, state_shape, obs_shape)


def stub_learner(online, target, **arg_overrides):
    """A learner on a TableMAC, with the target network's table replaced by ``target``."""
    args = make_args(**arg_overrides)
    logger = RecordingLogger()
    learner = QLearner(TableMAC(online), None, logger, args)
    learner.target_mac.table = target
    return learner, logger


def hand_batch(terminated_at_1: bool) -> EpisodeBatch:
    """One episode, one agent, two actions, 2 transitions + the bootstrap step (T = 3).

    Online Q: t0 [1, 2], t1 [3, 0], t2 [0, 4]; target Q: t1 [1, 5], t2 [7, 9]; action 1 is
    unavailable at t2. Actions t0: 1, t1: 0; rewards 1, 2. Either the agent died at t1
    (terminated) or the episode hit the time limit there (not terminated, bootstrap).
    """
    batch = make_batch(1, 3, 1, 2)
    batch.update({"avail_actions": [[[1, 1]], [[1, 1]], [[1, 0]]], "obs": np.zeros((3, 1, 2))}, bs=0)
    batch.update({"actions": [[[1]], [[0]]], "reward": [[1.0], [2.0]],
                  "terminated": [[0], [int(terminated_at_1)]]}, bs=0, ts=slice(0, 2))
    batch.update({"actions": [[[0]]]}, bs=0, ts=2)  # the runner's action after the last step
    assert batch["filled"].flatten().tolist() == [1, 1, 1]
    return batch


ONLINE = torch.tensor([[[1.0, 2.0]], [[3.0, 0.0]], [[0.0, 4.0]]]).unsqueeze(0)  # (1, T=3, 1, 2)
TARGET = torch.tensor([[[0.0, 0.0]], [[1.0, 5.0]], [[7.0, 9.0]]]).unsqueeze(0)


@pytest.mark.parametrize(
    "terminated_at_1, double_q, expected_loss, expected_targets",
    [
        # death: target0 = 1 + 0.5 * Qt(t1, argmax online t1 = 0) = 1.5; target1 = r1 = 2
        (True, True, ((2 - 1.5) ** 2 + (3 - 2) ** 2) / 2, [1.5, 2.0]),
        # time-out: target1 = 2 + 0.5 * Qt(t2, argmax of online t2 over *available* = 0) = 5.5
        (False, True, ((2 - 1.5) ** 2 + (3 - 5.5) ** 2) / 2, [1.5, 5.5]),
        # no double-Q: max of the target, unavailable action 1 at t2 (Q 9) excluded
        (False, False, ((2 - 3.5) ** 2 + (3 - 5.5) ** 2) / 2, [3.5, 5.5]),
        (True, False, ((2 - 3.5) ** 2 + (3 - 2) ** 2) / 2, [3.5, 2.0]),
    ],
)
def test_loss_and_double_q_target_by_hand(terminated_at_1, double_q, expected_loss, expected_targets):
    learner, logger = stub_learner(ONLINE, TARGET, double_q=double_q)
    stats = learner.train(hand_batch(terminated_at_1), t_env=0, episode_num=0)
    assert stats["loss"] == pytest.approx(expected_loss)
    assert stats["target_mean"] == pytest.approx(sum(expected_targets) / 2)  # n_agents 1, 2 steps
    assert stats["q_taken_mean"] == pytest.approx((2 + 3) / 2)
    assert stats["td_error_abs"] == pytest.approx(
        (abs(2 - expected_targets[0]) + abs(3 - expected_targets[1])) / 2)
    # gradient wrt the scale: d/ds sum((s*q - y)^2)/2 = sum(q * (q - y)) at s = 1
    grad = (2 * (2 - expected_targets[0]) + 3 * (3 - expected_targets[1])) / 1
    assert stats["grad_norm"] == pytest.approx(abs(grad))
    logged = [s[0] for s in logger.stats]
    assert logged == ["loss", "grad_norm", "td_error_abs", "q_taken_mean", "target_mean"]


def reference_loss(online, target, batch, gamma, double_q, mixer=None, target_mixer=None):
    """PyMARL's loss written with explicit loops over episodes, steps and agents."""
    B, T, n, _ = online.shape
    filled, term = batch["filled"][..., 0], batch["terminated"][..., 0].float()
    avail, acts, rew = batch["avail_actions"], batch["actions"][..., 0], batch["reward"][..., 0]
    chosen = torch.zeros(B, T - 1, n)
    best = torch.zeros(B, T - 1, n)
    mask = torch.zeros(B, T - 1)
    for b in range(B):
        for t in range(T - 1):
            mask[b, t] = filled[b, t] * (1 if t == 0 else 1 - term[b, t - 1])
            for a in range(n):
                chosen[b, t, a] = online[b, t, a, acts[b, t, a]]
                ok = [i for i in range(online.shape[3]) if avail[b, t + 1, a, i]]
                if double_q:
                    pick = max(ok, key=lambda i: online[b, t + 1, a, i].item())
                    best[b, t, a] = target[b, t + 1, a, pick]
                else:
                    best[b, t, a] = max(target[b, t + 1, a, i].item() for i in ok)
    if mixer is not None:
        chosen = mixer(chosen, batch["state"][:, :-1])
        best = target_mixer(best, batch["state"][:, 1:])
    total, count = 0.0, 0.0
    for b in range(B):
        for t in range(T - 1):
            for a in range(chosen.shape[2]):
                y = rew[b, t] + gamma * (1 - term[b, t]) * best[b, t, a]
                total += mask[b, t] * (chosen[b, t, a] - y) ** 2
                count += mask[b, t]
    return total / count, mask


def padded_batch(n_agents=2, n_actions=3, seed=0):
    """Episode 0 dies at t=1 (filled 0..2), episode 1 times out (filled 0..4), T = 5."""
    gen = torch.Generator().manual_seed(seed)
    batch = make_batch(2, 5, n_agents, n_actions)
    avail = (torch.rand(2, 5, n_agents, n_actions, generator=gen) < 0.6).int()
    avail[..., 1] = 1
    batch.update({"state": torch.randn(2, 5, 3, generator=gen), "avail_actions": avail,
                  "obs": torch.randn(2, 5, n_agents, 2, generator=gen),
                  "actions": torch.ones(2, 5, n_agents, 1, dtype=torch.long),
                  "reward": torch.randn(2, 5, 1, generator=gen)}, mark_filled=False)
    batch.data.transition_data["filled"][0, :3] = 1
    batch.data.transition_data["filled"][1, :] = 1
    batch.data.transition_data["terminated"][0, 1] = 1
    return batch


def test_mask_time_out_versus_death():
    batch = padded_batch()
    _, mask = reference_loss(torch.zeros(2, 5, 2, 3), torch.zeros(2, 5, 2, 3), batch, 0.9, True)
    # death at t1: t2 (filled, the bootstrap step) and t3 (padding) are masked out; time-out: nothing
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1]]
    # and the learner agrees: what happens at masked steps never changes the loss
    online = torch.randn(2, 5, 2, 3, generator=torch.Generator().manual_seed(1))
    target = torch.randn(2, 5, 2, 3, generator=torch.Generator().manual_seed(2))
    loss = stub_learner(online, target)[0].train(batch, 0, 0)["loss"]
    online2, target2 = online.clone(), target.clone()
    online2[0, 2:] += 100.0  # chosen Q at masked steps
    target2[0, 3:] -= 100.0  # their bootstrap values
    batch["reward"][0, 2:] = 50.0
    assert stub_learner(online2, target2)[0].train(batch, 0, 0)["loss"] == pytest.approx(loss)


@pytest.mark.parametrize("double_q", [True, False])
def test_iql_loss_matches_the_loop_reference(double_q):
    batch = padded_batch()
    gen = torch.Generator().manual_seed(4)
    online, target = torch.randn(2, 5, 2, 3, generator=gen), torch.randn(2, 5, 2, 3, generator=gen)
    expected, _ = reference_loss(online, target, batch, 0.5, double_q)
    stats = stub_learner(online, target, double_q=double_q, n_agents=2, n_actions=3)[0].train(batch, 0, 0)
    assert stats["loss"] == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("mixer", ["vdn", "qmix"])
def test_mixed_loss_matches_the_loop_reference(mixer):
    torch.manual_seed(0)
    batch = padded_batch()
    gen = torch.Generator().manual_seed(5)
    online, target = torch.randn(2, 5, 2, 3, generator=gen), torch.randn(2, 5, 2, 3, generator=gen)
    learner, _ = stub_learner(online, target, mixer=mixer, n_agents=2, n_actions=3)
    with torch.no_grad():  # make the target mixer differ, to check that each mixer gets its own state
        for p in learner.target_mixer.parameters():
            p.mul_(0.5)
    mixer_before = copy.deepcopy(learner.mixer)
    expected, _ = reference_loss(online, target, batch, 0.5, True, mixer_before, learner.target_mixer)
    assert learner.train(batch, 0, 0)["loss"] == pytest.approx(expected.item(), rel=1e-5)


def test_vdn_by_hand():
    """Two agents, one transition, death: loss = (q1 + q2 - r)^2."""
    batch = make_batch(1, 2, 2, 2)
    batch.update({"avail_actions": np.ones((1, 2, 2)), "actions": [[[0], [1]]], "reward": [[1.0]],
                  "terminated": [[1]]}, bs=0, ts=0)
    batch.update({"avail_actions": np.ones((1, 2, 2))}, bs=0, ts=1)
    online = torch.tensor([[[[2.0, 0.0], [0.0, 0.5]], [[0.0, 0.0], [0.0, 0.0]]]])
    learner, _ = stub_learner(online, online.clone(), mixer="vdn", n_agents=2)
    assert learner.train(batch, 0, 0)["loss"] == pytest.approx((2.0 + 0.5 - 1.0) ** 2)


def test_unknown_mixer_is_a_config_error():
    with pytest.raises(ConfigError, match="qmix"):
        stub_learner(ONLINE, TARGET, mixer="qtran_base")


def test_target_update_every_interval_and_log_interval():
    learner, logger = stub_learner(ONLINE, TARGET, target_update_interval=200, learner_log_interval=100)
    batch = hand_batch(True)
    for episode, t_env in [(0, 0), (50, 60), (199, 150), (200, 210), (250, 250), (400, 400)]:
        learner.train(batch, t_env, episode)
    assert logger.infos == ["Updated target network"] * 2 and learner.last_target_update_episode == 400
    assert torch.equal(learner.target_mac.table, ONLINE)
    logged_at = sorted({t for key, _, t in logger.stats if key == "loss"})
    assert logged_at == [0, 150, 250, 400]


# ---------------------------------------------------------------------- real networks
def real_learner(mixer="qmix", fast=True, seed=0, **overrides):
    torch.manual_seed(seed)
    args = make_args(n_agents=2, n_actions=3, mixer=mixer, learner_fast_unroll=fast, gamma=0.99, **overrides)
    batch = padded_batch(args.n_agents, args.n_actions)
    mac = BasicMAC(batch.scheme, batch.groups, args)
    return learner_REGISTRY["q_learner"](mac, batch.scheme, RecordingLogger(), args), batch


@pytest.mark.parametrize("mixer", [None, "vdn", "qmix"])
def test_fast_unroll_equals_the_per_step_loop(mixer):
    fast, batch = real_learner(mixer, fast=True)
    slow, _ = real_learner(mixer, fast=False)
    slow.mac.agent.load_state_dict(fast.mac.agent.state_dict())
    slow.target_mac.agent.load_state_dict(fast.target_mac.agent.state_dict())
    if mixer is not None:
        slow.mixer.load_state_dict(fast.mixer.state_dict())
        slow.target_mixer.load_state_dict(fast.target_mixer.state_dict())

    # the agents' outputs over the sequence
    fast.mac.init_hidden(2)
    seq = fast.mac.forward_sequence(batch)
    slow.mac.init_hidden(2)
    loop = torch.stack([slow.mac.forward(batch, t) for t in range(5)], dim=1)
    torch.testing.assert_close(seq, loop, atol=1e-5, rtol=0)

    for step in range(2):  # two updates: same loss, same gradients, same weights
        stats_fast = fast.train(batch, t_env=step, episode_num=step)
        stats_slow = slow.train(batch, t_env=step, episode_num=step)
        assert stats_fast["loss"] == pytest.approx(stats_slow["loss"], abs=1e-5)
        assert stats_fast["grad_norm"] == pytest.approx(stats_slow["grad_norm"], abs=1e-5)
        for p, q in zip(fast.params, slow.params, strict=True):
            torch.testing.assert_close(p.grad, q.grad, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-5)


def test_training_reduces_the_loss_on_a_fixed_batch():
    learner, batch = real_learner("qmix", lr=0.01, target_update_interval=10**6)
    first = learner.train(batch, 0, 0)["loss"]
    for i in range(30):
        last = learner.train(batch, i, 0)["loss"]
    assert last < first


def test_save_and_load_models(tmp_path):
    learner, batch = real_learner("qmix")
    learner.train(batch, 0, 0)
    learner.save_models(tmp_path)
    assert sorted(os.listdir(tmp_path)) == ["agent.th", "mixer.th", "opt.th"]

    fresh, _ = real_learner("qmix", seed=1)
    fresh.load_models(tmp_path)
    for p, q in zip(learner.params, fresh.params, strict=True):
        assert torch.equal(p, q)
    # PyMARL left the target mixer random after loading; here it is the saved mixer
    for p, q in zip(learner.mixer.parameters(), fresh.target_mixer.parameters(), strict=True):
        assert torch.equal(p, q)
    for p, q in zip(learner.mac.parameters(), fresh.target_mac.parameters(), strict=True):
        assert torch.equal(p, q)
    assert fresh.optimiser.state_dict()["state"][0]["square_avg"].abs().sum() > 0
    # with the targets synchronised as after loading, the two learners take identical steps
    learner._update_targets()
    a, b = learner.train(batch, 1, 1)["loss"], fresh.train(batch, 1, 1)["loss"]
    assert a == pytest.approx(b)
