"""The compiled fast paths for acting (``agent_step``, ``epsilon_greedy``): the same numbers and the
same random draws as the Python lines they stand for, bit for bit, and the same episodes."""

from __future__ import annotations

import shutil

import pytest
import torch
from test_modules import make_args
from test_runners import make_runner

import pymarl_explained.components.action_selectors as action_selectors
import pymarl_explained.modules.agents.rnn_agent as rnn_agent
from pymarl_explained.components.action_selectors import EpsilonGreedyActionSelector
from pymarl_explained.modules.agents import gru_kernel
from pymarl_explained.modules.agents.rnn_agent import RNNAgent

pytestmark = pytest.mark.skipif(shutil.which("g++") is None, reason="no C++ compiler here")


def python_only(monkeypatch) -> None:
    """Turn the compiled acting paths off: every call runs the Python lines."""
    monkeypatch.setattr(action_selectors, "compiled_for", lambda tensor: None)
    monkeypatch.setattr(rnn_agent, "compiled_for", lambda tensor: None)


def test_the_compiled_acting_paths_are_used_on_the_cpu_without_gradients():
    assert gru_kernel.load_extension() is not None, gru_kernel._load_error
    x = torch.zeros(2, 3)
    assert gru_kernel.compiled_for(x) is gru_kernel.load_extension()
    assert gru_kernel.compiled_for(x.double()) is None


def test_agent_step_equals_the_modules_bit_for_bit():
    torch.manual_seed(0)
    agent = RNNAgent(11, make_args(rnn_hidden_dim=16))
    inputs, hidden = torch.randn(12, 11), torch.randn(12, 16)
    q_python, h_python = agent(inputs, hidden)  # gradients on: the Python lines
    with torch.no_grad():
        q_fast, h_fast = agent(inputs, hidden.reshape(3, 4, 16))  # any shape with N x H elements
    assert not q_fast.requires_grad
    assert torch.equal(q_fast, q_python.detach()) and torch.equal(h_fast, h_python.detach())


@pytest.mark.parametrize("epsilon", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("batch", [1, 4])
def test_epsilon_greedy_equals_the_python_lines_bit_for_bit(monkeypatch, epsilon, batch):
    args = make_args(epsilon_start=epsilon, epsilon_finish=epsilon)
    generator = torch.Generator().manual_seed(batch)
    q = torch.randn(batch, 3, 5, generator=generator)
    avail = (torch.rand(batch, 3, 5, generator=generator) < 0.5).int()
    avail[..., 1] = 1  # at least one available action per agent
    avail[0, 0] = torch.tensor([0, 0, 0, 1, 0])  # a single choice
    drawn = {}
    for path in ("compiled", "python"):
        if path == "python":
            python_only(monkeypatch)
        torch.manual_seed(7)
        selector = EpsilonGreedyActionSelector(args)
        drawn[path] = [selector.select_action(q, avail, t_env=0) for _ in range(50)]
        drawn[path].append(torch.rand(1))  # both consumed the same random numbers
    for fast, slow in zip(drawn["compiled"], drawn["python"], strict=True):
        assert torch.equal(fast, slow)
    actions = torch.stack(drawn["compiled"][:-1])
    assert (actions[:, 0, 0] == 3).all()  # never an unavailable action
    assert avail.expand(len(actions), -1, -1, -1).gather(3, actions.unsqueeze(-1)).all()


def _select_both_ways(monkeypatch, q, avail, epsilon, seed):
    """The compiled and the Python selection from the same generator state: (actions, the next
    random number) for each, so that equal draws show as equal next numbers."""
    args = make_args(epsilon_start=epsilon, epsilon_finish=epsilon)
    results = {}
    with monkeypatch.context() as patch:
        for path in ("compiled", "python"):
            if path == "python":
                python_only(patch)
            torch.manual_seed(seed)
            actions = EpsilonGreedyActionSelector(args).select_action(q, avail, t_env=0)
            results[path] = (actions, torch.rand(2))
    return results["compiled"], results["python"]


def test_epsilon_greedy_equals_the_python_lines_on_many_random_cases(monkeypatch):
    """Sizes from 1 to 32 agents, 2 to 17 actions, int and float masks, epsilons that are not
    floats (compared as torch does, after a cast to float32), ties and NaN among the Q-values."""
    generator = torch.Generator().manual_seed(0)
    for case in range(300):
        batch, n_agents, n_actions = 1 + case % 3, [1, 4, 27, 32][case % 4], 2 + case % 16
        q = torch.randn(batch, n_agents, n_actions, generator=generator)
        if case % 5 == 0:
            q = q.round()  # many equal maxima: the first one wins, as in torch
        if case % 7 == 0:
            q[0, 0, case % n_actions] = float("nan")  # NaN is the max, as in torch
        avail = (torch.rand(batch, n_agents, n_actions, generator=generator) < 0.4).int()
        avail[..., case % n_actions] = 1
        if case % 2:
            avail = avail.float()
        epsilon = [0.0, 1.0, 0.1000000016, float(torch.rand(1, generator=generator))][case % 4]
        fast, slow = _select_both_ways(monkeypatch, q, avail, epsilon, seed=case)
        assert torch.equal(fast[0], slow[0]) and torch.equal(fast[1], slow[1]), case


def test_epsilon_greedy_with_an_agent_without_actions_raises_the_clear_error(monkeypatch):
    avail = torch.ones(1, 3, 4, dtype=torch.int32)
    avail[0, 1] = 0
    for path in ("compiled", "python"):
        if path == "python":
            python_only(monkeypatch)
        with pytest.raises(ValueError, match="avail_actions has an agent with no available action"):
            EpsilonGreedyActionSelector(make_args()).select_action(torch.zeros(1, 3, 4), avail, t_env=0)


def test_episodes_are_the_same_with_and_without_the_compiled_acting_paths(monkeypatch):
    batches = {}
    for path in ("compiled", "python"):
        if path == "python":
            python_only(monkeypatch)
        runner, _, _ = make_runner(seed=5)
        torch.manual_seed(1)
        batches[path] = [runner.run(test_mode=test_mode) for test_mode in (False, False, True)]
    for fast, slow in zip(batches["compiled"], batches["python"], strict=True):
        for key in ("actions", "obs", "state", "reward", "filled", "avail_actions"):
            assert torch.equal(fast[key], slow[key]), key
