"""OneHot, the epsilon schedule, the action selectors and the atomic writers."""

from __future__ import annotations

import math
import os
from types import SimpleNamespace

import pytest
import torch

from pymarl_explained.components.action_selectors import REGISTRY as selectors
from pymarl_explained.components.epsilon_schedules import DecayThenFlatSchedule
from pymarl_explained.components.transforms import OneHot
from pymarl_explained.errors import ConfigError
from pymarl_explained.utils.atomic import atomic_save, atomic_write_text


def selector_args(**overrides):
    args = dict(epsilon_start=1.0, epsilon_finish=0.05, epsilon_anneal_time=50000, test_greedy=True,
                mask_before_softmax=True)
    args.update(overrides)
    return SimpleNamespace(**args)


# ---------------------------------------------------------------------- OneHot
def test_onehot_transform_and_output_info():
    onehot = OneHot(4)
    out = onehot.transform(torch.tensor([[[2], [0]], [[3], [1]]]))
    assert out.dtype == torch.float32 and tuple(out.shape) == (2, 2, 4)
    assert out.tolist() == [[[0, 0, 1, 0], [1, 0, 0, 0]], [[0, 0, 0, 1], [0, 1, 0, 0]]]
    assert onehot.infer_output_info((1,), torch.long) == ((4,), torch.float32)


# ---------------------------------------------------------------------- schedule
def test_linear_schedule_values_of_qmix():
    schedule = DecayThenFlatSchedule(1.0, 0.05, 50000, decay="linear")
    assert schedule.eval(0) == 1.0
    assert schedule.eval(25000) == pytest.approx(0.525)
    assert schedule.eval(10000) == pytest.approx(1.0 - 0.95 * 0.2)
    assert schedule.eval(50000) == pytest.approx(0.05)
    assert schedule.eval(10**7) == 0.05


def test_exp_schedule_values():
    schedule = DecayThenFlatSchedule(1.0, 0.05, 1000)  # PyMARL's default decay is "exp"
    assert schedule.eval(0) == 1.0
    assert schedule.eval(500) == pytest.approx(math.sqrt(0.05))
    assert schedule.eval(1000) == pytest.approx(0.05)
    assert schedule.eval(5000) == 0.05
    capped = DecayThenFlatSchedule(0.5, 0.05, 1000, decay="exp")
    assert capped.eval(0) == 0.5  # min(start, ...)


def test_schedule_bad_input():
    with pytest.raises(ConfigError, match="decay"):
        DecayThenFlatSchedule(1.0, 0.1, 10, decay="cosine")
    assert DecayThenFlatSchedule(1.0, 0.1, 0, decay="linear").eval(0) == 0.1


# ---------------------------------------------------------------------- selectors
def random_inputs(batch=64, n_agents=3, n_actions=6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, n_agents, n_actions, generator=gen)
    avail = (torch.rand(batch, n_agents, n_actions, generator=gen) < 0.5).int()
    avail[..., 0] = torch.where(avail.sum(-1) == 0, 1, avail[..., 0])  # at least one available
    return q, avail


def test_epsilon_greedy_never_picks_unavailable_actions_and_is_greedy_in_test_mode():
    selector = selectors["epsilon_greedy"](selector_args())
    q, avail = random_inputs()
    torch.manual_seed(0)
    for t_env in (0, 20000, 10**6):
        actions = selector.select_action(q, avail, t_env)
        assert actions.dtype == torch.int64 and tuple(actions.shape) == (64, 3)
        assert bool(avail.gather(2, actions.unsqueeze(2)).all())
    assert selector.epsilon == pytest.approx(0.05)
    greedy = selector.select_action(q, avail, 0, test_mode=True)
    assert selector.epsilon == 0.0
    expected = q.masked_fill(avail == 0, -float("inf")).argmax(dim=2)
    assert torch.equal(greedy, expected)


def test_epsilon_one_is_uniform_over_available_actions():
    selector = selectors["epsilon_greedy"](selector_args(epsilon_start=1.0, epsilon_finish=1.0))
    q = torch.zeros(4000, 1, 4)
    q[..., 3] = 10.0  # greedy would always pick 3, which is unavailable
    avail = torch.tensor([1, 1, 0, 0], dtype=torch.int).expand(4000, 1, 4)
    torch.manual_seed(1)
    actions = selector.select_action(q, avail, 0).flatten()
    counts = torch.bincount(actions, minlength=4).tolist()
    assert counts[2] == counts[3] == 0
    assert abs(counts[0] - 2000) < 200


def test_evaluation_epsilon_and_seeding():
    selector = selectors["epsilon_greedy"](selector_args(evaluation_epsilon=0.3))
    q, avail = random_inputs()
    selector.select_action(q, avail, 0, test_mode=True)
    assert selector.epsilon == 0.3
    torch.manual_seed(5)
    first = selector.select_action(q, avail, 100)
    torch.manual_seed(5)
    assert torch.equal(first, selector.select_action(q, avail, 100))


def test_selector_rejects_agents_without_any_available_action():
    selector = selectors["epsilon_greedy"](selector_args())
    with pytest.raises(ValueError, match="no available action"):
        selector.select_action(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3, dtype=torch.int), 0)


def test_multinomial_selector():
    selector = selectors["multinomial"](selector_args(epsilon_start=0.5, epsilon_finish=0.01,
                                                      epsilon_anneal_time=100000))
    probs = torch.softmax(torch.randn(500, 2, 5, generator=torch.Generator().manual_seed(2)), dim=-1)
    avail = torch.ones(500, 2, 5, dtype=torch.int)
    avail[:, :, 1] = 0
    torch.manual_seed(0)
    actions = selector.select_action(probs, avail, 50000)
    assert selector.epsilon == pytest.approx(0.5 - 0.49 * 0.5)
    assert not bool((actions == 1).any())
    greedy = selector.select_action(probs, avail, 0, test_mode=True)
    assert torch.equal(greedy, probs.masked_fill(avail == 0, 0).argmax(dim=2))
    # test_greedy=False samples in test mode too
    sampling = selectors["multinomial"](selector_args(test_greedy=False))
    torch.manual_seed(0)
    sampled = sampling.select_action(probs, avail, 0, test_mode=True)
    assert not bool((sampled == 1).any()) and not torch.equal(sampled, greedy)


# ---------------------------------------------------------------------- atomic writes
def test_atomic_save_and_write_text(tmp_path):
    target = tmp_path / "models" / "100" / "agent.th"
    atomic_save({"w": torch.arange(3)}, target)
    assert torch.equal(torch.load(target)["w"], torch.arange(3))
    atomic_write_text(tmp_path / "out.json", '{"a": 1}\n')
    assert (tmp_path / "out.json").read_text() == '{"a": 1}\n'
    atomic_write_text(tmp_path / "out.json", "second")
    assert (tmp_path / "out.json").read_text() == "second"
    assert sorted(os.listdir(tmp_path)) == ["models", "out.json"]  # no temp files left


def test_atomic_save_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "opt.th"
    atomic_save([1], target)

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_save(Unpicklable(), target)
    assert torch.load(target, weights_only=False) == [1]
    assert os.listdir(tmp_path) == ["opt.th"]
