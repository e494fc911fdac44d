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
