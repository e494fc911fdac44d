"""OMG (reconstruction): behaviour pinned like QLearner's, by hand-computed values and invariants.

Each test names the mistakes it catches; each was checked by breaking the code on purpose once.
"""

from __future__ import annotations

import copy

import pytest
import torch
from conftest import OMG_A as A
from conftest import OMG_N as N
from conftest import RecordingLogger, omg_fake_batch, omg_make_args, omg_make_scheme

import pymarl_explained.run as run_py
from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.learners import REGISTRY as le_REGISTRY
from pymarl_explained.learners.learner_utils import target_update_due
from pymarl_explained.omg.controller import MultiModuleMAC
from pymarl_explained.omg.loop import OMGTrainingLoop


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Tiny networks: one torch thread, as ``torch_threads: 1`` in runs."""


def ego_mac(alg: str = "2iql1qmix1iql_ego", seed: int = 0, **overrides) -> tuple[MultiModuleMAC, object]:
    torch.manual_seed(seed)
    scheme, groups, preprocess = omg_make_scheme()
    args = omg_make_args(alg, **overrides)
    full_scheme = EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme
    return MultiModuleMAC(full_scheme, groups, args, load_teammates=False), args


# ---------------------------------------------------------------------------- QLearner4AM's TD loss
# One pseudo-episode (B = 1) of four slots regrouped from 4 sampled episodes, 2 transitions + the
# bootstrap step. Every slot: online Q t0 [1, 2], t1 [3, 0], t2 [0, 4]; target Q t1 [1, 5], t2 [7, 9];
# the other actions -100; action 1 unavailable at t2; actions t0: 1, t1: 0; rewards 1, 2; gamma 0.5.
# Episodes 0 and 1 end by a death at t1 (terminated), episodes 2 and 3 by the time limit (bootstrap).
# Per slot (QLearner's hand case): death targets [1.5, 2.0], time-out [1.5, 5.5] with double Q;
# without double Q (the target's own max over available actions) [3.5, 2.0] and [3.5, 5.5].
def _table(rows: dict[int, list[float]], T: int = 3) -> torch.Tensor:
    table = torch.full((1, T, N, A), -100.0)
    for t, (a0, a1) in rows.items():
        table[0, t, :, 0], table[0, t, :, 1] = a0, a1
    return table


ONLINE = _table({0: [1.0, 2.0], 1: [3.0, 0.0], 2: [0.0, 4.0]})
TARGET = _table({0: [0.0, 0.0], 1: [1.0, 5.0], 2: [7.0, 9.0]})


def four_episodes_for_one_pseudo_episode() -> EpisodeBatch:
    scheme, groups, preprocess = omg_make_scheme()
    batch = EpisodeBatch(scheme, groups, N, 3, preprocess=preprocess)
    avail = torch.ones(3, N, A, dtype=torch.int)
    avail[2, :, 1] = 0
    for e in range(N):
        batch.update({"avail_actions": avail, "obs": torch.zeros(3, N, 40), "state": torch.zeros(3, 68)}, bs=e)
        batch.update({"actions": torch.tensor([[[1]] * N, [[0]] * N]), "reward": [[1.0], [2.0]],
                      "terminated": [[0], [int(e < 2)]]}, bs=e, ts=slice(0, 2))
        batch.update({"actions": torch.zeros(1, N, 1, dtype=torch.long)}, bs=e, ts=2)
    return batch


def td_learner(double_q: bool):
    mac, args = ego_mac(double_q=double_q, gamma=0.5)
    learner = le_REGISTRY["q_learner_4am"](mac, None, RecordingLogger(), args)
    online = ONLINE.clone().requires_grad_()
    learner._ego_outputs = lambda batch: (online, TARGET)  # the Q-values of the hand case
    return learner, online


@pytest.mark.parametrize("double_q, targets", [(True, [[1.5, 2.0]] * 2 + [[1.5, 5.5]] * 2),
                                               (False, [[3.5, 2.0]] * 2 + [[3.5, 5.5]] * 2)])
def test_q_learner_4am_per_slot_td_targets_by_hand(double_q, targets):
    """Catches: a slot reading another episode's termination, bootstrapping through an unavailable
    action, ignoring double_q, a time-out treated as terminal, a wrong mask or mean."""
    learner, online = td_learner(double_q)
    stats = learner.train(four_episodes_for_one_pseudo_episode(), t_env=0, episode_num=0)
    chosen = torch.tensor([2.0, 3.0])
    expected = sum(((chosen - torch.tensor(t)) ** 2).sum() for t in targets) / 8
    assert stats["loss"] == pytest.approx(expected.item())
    # QLearner's (PyMARL's) definitions: divided by mask elements (8) * n_agents (4)
    assert stats["target_mean"] == pytest.approx(sum(map(sum, targets)) / (8 * N))
    assert stats["q_taken_mean"] == pytest.approx((2 + 3) * N / (8 * N))
    # the gradient reaches only the chosen actions: d loss / d Q(t0, a=1) = 2 * sum_slots (2 - target0) / 8
    grad_t0 = 2 * sum(2.0 - t[0] for t in targets) / 8
    assert online.grad[0, 0, :, 1].sum().item() == pytest.approx(grad_t0)
    assert online.grad[0, 2].abs().sum() == 0  # the bootstrap step only bootstraps


def test_q_learner_4am_updates_its_target_after_the_interval_only():
    """Catches: no target update, an update every step, or one counted in env steps not episodes."""
    mac, args = ego_mac(target_update_interval=200, lr=0.01)
    learner = le_REGISTRY["q_learner_4am"](mac, None, RecordingLogger(), args)
    batch = omg_fake_batch(2 * N, T=6, seed=1)

    def same_as_ego() -> bool:
        return all(torch.equal(a, b) for a, b in zip(learner.target_agent.parameters(), learner.ego.parameters(),
                                                     strict=True))

    assert same_as_ego()
    for episode, t_env in [(0, 0), (100, 5000), (199, 9999)]:
        learner.train(batch, t_env, episode)
        assert not same_as_ego(), episode  # the ego moved, the target stayed
    learner.train(batch, 10000, 200)
    assert same_as_ego() and learner.last_target_update_episode == 200
    assert learner.logger.infos == ["Updated target network"]


# ---------------------------------------------------------------------------- acting
def test_the_ego_explores_and_the_teammates_act_greedily():
    """Under epsilon 1 (t_env 0) the ego's unit takes random available actions; every teammate
    takes the argmax of its own network. Catches: a greedy ego, exploring teammates, an ego
    exploring on the wrong unit, and acting that records a graph."""
    mac, _ = ego_mac(agent_shift=1, epsilon_start=1.0)
    batch = omg_fake_batch(1, T=4, seed=2)
    assert mac.ego_unit == 0  # slot 3 rotated by agent_shift 1
    draws = []
    for _ in range(200):
        mac.init_hidden(1)
        draws.append(mac.select_actions(batch, t_ep=0, t_env=0)[0])
    draws = torch.stack(draws)  # (200, N)
    assert mac.hidden_states[mac.main_alg_idx].grad_fn is None
    with torch.no_grad():
        mac.init_hidden(1)
        q = mac.forward(batch, 0)[0]  # (N, A), every unit's own algorithm
    teammates = [u for u in range(N) if u != mac.ego_unit]
    assert (draws[:, teammates] == q[teammates].argmax(-1)).all()
    assert len(set(draws[:, mac.ego_unit].tolist())) >= 6  # uniform over 10 available actions
    # greedy at test time
    mac.init_hidden(1)
    assert torch.equal(mac.select_actions(batch, 0, 0, test_mode=True)[0], q.argmax(-1))


# ---------------------------------------------------------------------------- OMG's loss weights
def omg_learner(seed: int = 0, **overrides):
    mac, args = ego_mac("2iql1qmix1iql_omg", seed=seed, **overrides)
    mac.agents_model[mac.main_alg_idx].prior_loaded = True  # as if stage 2 had run
    return le_REGISTRY["omg_learner"](mac, None, RecordingLogger(), args)


@pytest.mark.parametrize("kl_weight", [0.0, 2.5])
def test_omg_loss_is_reconstruction_plus_weighted_kl(kl_weight):
    """Catches: omg_kl_weight ignored, or the KL term dropped."""
    learner = omg_learner(omg_kl_weight=kl_weight)
    torch.manual_seed(5)
    stats = learner.train(omg_fake_batch(2 * N, T=8, seed=3), 0, 0)
    assert stats["omg_kl"] > 0
    assert stats["omg_loss"] == pytest.approx(stats["omg_recon"] + kl_weight * stats["omg_kl"], rel=1e-6)


def test_the_kl_weight_changes_the_inference_models_update():
    """The same batch and seed with omg_kl_weight 0 and 1: the inference model's new weights differ."""
    cvaes = []
    for weight in (0.0, 1.0):
        learner = omg_learner(omg_kl_weight=weight)
        torch.manual_seed(5)
        learner.train(omg_fake_batch(2 * N, T=8, seed=3), 0, 0)
        cvaes.append(copy.deepcopy(learner.am.cvae.state_dict()))
    assert any(not torch.equal(cvaes[0][k], cvaes[1][k]) for k in cvaes[0])


@pytest.mark.parametrize("am_loss_weight", [0.0, 1.0])
def test_am_loss_weight_alone_trains_the_inference_model(am_loss_weight):
    """The TD loss reads the subgoal detached, so with am_loss_weight 0 the inference model gets no
    gradient and keeps its weights; with 1 it moves. The ego network moves in both cases.
    Catches: am_loss_weight ignored, or the subgoal not detached from the TD loss."""
    learner = omg_learner(am_loss_weight=am_loss_weight, lr=0.01)
    cvae_before = copy.deepcopy(learner.am.cvae.state_dict())
    ego_before = copy.deepcopy(learner.ego.state_dict())
    learner.train(omg_fake_batch(2 * N, T=8, seed=3), 0, 0)
    cvae_moved = any(not torch.equal(v, learner.am.cvae.state_dict()[k]) for k, v in cvae_before.items())
    assert cvae_moved == (am_loss_weight > 0)
    assert any(not torch.equal(v, learner.ego.state_dict()[k]) for k, v in ego_before.items())


# ---------------------------------------------------------------------------- the loop's batch sizing
class CountingRunner:
    """A runner whose episodes all last ``length`` env steps."""

    def __init__(self, length: int):
        self.length, self.t_env, self.batch_size, self.played = length, 0, 1, 0

    def run(self, test_mode=False):
        if not test_mode:  # as PyMARL's runners: test episodes do not advance t_env
            self.t_env += self.length
            self.played += 1
        scheme, groups, preprocess = omg_make_scheme()  # with agent_idx
        return EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess)


class ListBuffer:
    def __init__(self):
        self.episodes = []

    def insert_episode_batch(self, batch):
        self.episodes.append(batch)


def test_omg_loop_scales_sizes_and_collects_n_agents_episodes_per_iteration():
    """The OMG batch-sizing notes: t_max and batch_size x n_agents before anything is built, n_agents
    episodes per iteration, each with its agent_shift in agent_idx; a plain composite (am_learner) is
    not scaled. Catches: scaling forgotten, one episode per iteration, agent_idx not recorded."""
    loop = OMGTrainingLoop()
    args = omg_make_args("2iql1qmix1iql_ego", t_max=1000, batch_size=32, agent_shift=2)
    loop.prepare(args)
    assert (args.n_agents, args.t_max, args.batch_size) == (4, 4000, 128)
    runner, buffer = CountingRunner(length=20), ListBuffer()
    assert loop.collect(args, runner, buffer) == 4 and runner.played == 4 and runner.t_env == 80
    assert all(ep["agent_idx"].flatten().tolist() == [2] for ep in buffer.episodes)

    scheme = {}
    loop.extend_scheme(scheme, args)
    assert scheme["agent_idx"]["episode_const"] is True

    pre = omg_make_args("2iql1qmix1iql_omg", learner="am_learner", t_max=1000, batch_size=32)
    loop.prepare(pre)
    assert (pre.t_max, pre.batch_size) == (1000, 32)
    assert loop.collect(pre, CountingRunner(20), ListBuffer()) == 1


class StubSample:
    device = "cpu"

    def max_t_filled(self):
        return 2

    def __getitem__(self, item):
        return self


class SampleAlwaysBuffer(ListBuffer):
    def can_sample(self, batch_size):
        return True

    def sample(self, batch_size):
        return StubSample()


class TargetCountingLearner:
    """Counts train calls and the hard target updates a PyMARL learner would make (same test)."""

    def __init__(self, interval: int):
        self.interval, self.steps, self.updates, self.last_update = interval, 0, 0, 0

    def train(self, batch, t_env, episode_num):
        self.steps += 1
        if target_update_due(episode_num, self.last_update, self.interval):
            self.updates, self.last_update = self.updates + 1, episode_num


class StubLogger(RecordingLogger):
    """Logger's interface as run_sequential uses it (``stats`` is a dict of lists there)."""

    def log_stat(self, key, value, t, to_sacred=True):
        self.stats.setdefault(key, []).append((t, value))

    def print_recent_stats(self):
        pass


def run_counting_loop(monkeypatch, tmp_path, loop_name: str, learner_name: str) -> tuple[TargetCountingLearner, int]:
    args = omg_make_args("2iql1qmix1iql_ego", t_max=4000, learner=learner_name, target_update_interval=200,
                         test_interval=10**9, log_interval=10**9, progress_bar=False)
    args.run, args.run_dir, args.unique_token, args.local_results_path = loop_name, str(tmp_path), "t", str(tmp_path)
    runner, learner = CountingRunner(length=20), TargetCountingLearner(interval=200)
    runner.close_env = lambda: None
    monkeypatch.setattr(run_py, "build_components", lambda args, logger, loop: (runner, SampleAlwaysBuffer(), learner))
    logger = StubLogger()
    logger.stats = {}
    summary = run_py.run_sequential(args, logger)
    return learner, summary["episodes"]


def test_omg_scaling_keeps_gradient_steps_but_updates_targets_n_agents_times_as_often(monkeypatch, tmp_path):
    """What the OMG loop's scaling does to the clocks, counted on the real run_sequential with stub
    components (episodes of 20 env steps, t_max 4000, target_update_interval 200): the same number of
    gradient steps as PyMARL's loop on a plain learner, but n_agents times the episodes, so
    n_agents times the target updates per gradient step. Catches: a loop that does not scale t_max,
    one that collects one episode per iteration, or an episode counter that ignores the extra episodes."""
    plain, plain_episodes = run_counting_loop(monkeypatch, tmp_path, "default", "q_learner")
    omg, omg_episodes = run_counting_loop(monkeypatch, tmp_path, "omg", "q_learner_4am")
    assert plain.steps == omg.steps == 4000 // 20 + 1
    assert omg_episodes == N * plain_episodes == N * plain.steps
    # plain: train sees episodes 0..200, one update (at 200); OMG: 0, 4, ..., 800, an update every 50 steps
    assert plain.updates == 1 and omg.updates == N * plain.updates == 4
