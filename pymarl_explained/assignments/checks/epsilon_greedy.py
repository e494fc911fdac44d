"""Checks of the epsilon_greedy assignment: ``epsilon_schedule`` and ``EpsilonGreedySelector``.

Expected values are computed by hand: QMIX's schedule decays linearly from 1.0 to 0.05 over
50000 env steps, so at 25000 it is ``1 - 0.95 * 25000 / 50000 = 0.525``. The statistical checks
draw thousands of actions with fixed torch seeds and compare frequencies with their exact
probabilities, within bounds of about six standard deviations.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch

from pymarl_explained.assignments.checking import Check, expect, make_check_decorator

CHECKS: list[Check] = []
schedule_check = make_check_decorator("epsilon_greedy", "schedule", CHECKS)
selector_check = make_check_decorator("epsilon_greedy", "selector", CHECKS)


def _close(a: float, b: float, tol: float = 1e-9) -> bool:
    return a is not None and math.isfinite(float(a)) and abs(float(a) - b) <= tol


def selector_args(start: float, finish: float = None, anneal: int = 50000) -> SimpleNamespace:
    """The config keys a selector reads (qmix.yaml's names)."""
    return SimpleNamespace(epsilon_start=start, epsilon_finish=start if finish is None else finish,
                           epsilon_anneal_time=anneal, action_selector="epsilon_greedy")


def example_inputs(batch: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Q-values of 2 agents over 5 actions whose overall maximum is an *unavailable* action.

    agent 0: Q = [0.1, 0.9, 0.5, 0.7, 0.2], available [1, 0, 1, 1, 0] -> best available is 3 (0.7)
    agent 1: Q = [0.3, 0.2, 0.8, 0.1, 0.6], available [1, 1, 0, 1, 1] -> best available is 4 (0.6)
    """
    q = torch.tensor([[0.1, 0.9, 0.5, 0.7, 0.2], [0.3, 0.2, 0.8, 0.1, 0.6]]).repeat(batch, 1, 1)
    avail = torch.tensor([[1, 0, 1, 1, 0], [1, 1, 0, 1, 1]], dtype=torch.int).repeat(batch, 1, 1)
    return q, avail


GREEDY = torch.tensor([3, 4])  # the best available actions of example_inputs, by hand


def _draw(selector_cls, args, batch: int, t_env: int = 0, test_mode: bool = False, seed: int = 0) -> torch.Tensor:
    torch.manual_seed(seed)
    q, avail = example_inputs(batch)
    selector = selector_cls(args)
    actions = selector.select_action(q, avail, t_env, test_mode=test_mode)
    expect(isinstance(actions, torch.Tensor), f"select_action must return a tensor, got {type(actions).__name__}")
    expect(tuple(actions.shape) == (batch, 2),
           f"select_action must return one action per agent, shape (batch, n_agents) = ({batch}, 2); "
           f"got {tuple(actions.shape)} (did you keep the action dimension with keepdim=True?)")
    return actions


# ------------------------------------------------------------------ schedule
@schedule_check(hint="epsilon_schedule(0, ...) must be epsilon_start")
def starts_at_start(epsilon_schedule):
    for start, finish, anneal in ((1.0, 0.05, 50000), (0.5, 0.1, 100)):
        value = epsilon_schedule(0, start, finish, anneal)
        expect(_close(value, start),
               f"epsilon_schedule(0, {start}, {finish}, {anneal}) should be {start}, got {value!r}")


@schedule_check(hint="epsilon decays *linearly*: start - (start - finish) * t_env / anneal_time")
def linear_in_between(epsilon_schedule):
    for t, expected in ((25000, 0.525), (10000, 0.81), (40000, 0.24)):  # 1 - 0.95 * t / 50000
        value = epsilon_schedule(t, 1.0, 0.05, 50000)
        expect(_close(value, expected, 1e-6),
               f"epsilon_schedule({t}, 1.0, 0.05, 50000) should be 1 - 0.95 * {t} / 50000 = {expected}, got {value!r}")


@schedule_check(hint="epsilon must stay at its floor epsilon_finish once t_env >= anneal_time (clamp with max)")
def clamped_at_floor(epsilon_schedule):
    for t in (50000, 60000, 1_000_000):
        value = epsilon_schedule(t, 1.0, 0.05, 50000)
        expect(_close(value, 0.05, 1e-9),
               f"epsilon_schedule({t}, 1.0, 0.05, 50000) should stay at the floor 0.05, got {value!r}: epsilon "
               "must be clamped at epsilon_finish once the annealing is over")


@schedule_check(hint="anneal_time 0 means 'already at epsilon_finish' (PyMARL divides by zero there)")
def zero_anneal_time(epsilon_schedule):
    value = epsilon_schedule(0, 1.0, 0.05, 0)
    expect(_close(value, 0.05), f"epsilon_schedule(0, 1.0, 0.05, 0) should be 0.05 (nothing to anneal), got {value!r}")


# ------------------------------------------------------------------ selector
@selector_check(hint="select_action returns an int64 tensor of shape (batch, n_agents)")
def shape_and_dtype(EpsilonGreedySelector):
    actions = _draw(EpsilonGreedySelector, selector_args(0.5), batch=3)
    expect(actions.dtype == torch.int64, f"actions must be int64 (torch.long), got {actions.dtype}")


@selector_check(hint="with epsilon 0 the action is the best *available* one: set unavailable Q-values to -inf "
                     "before the argmax")
def greedy_ignores_unavailable(EpsilonGreedySelector):
    actions = _draw(EpsilonGreedySelector, selector_args(0.0), batch=4)
    expect(torch.equal(actions, GREEDY.repeat(4, 1)),
           f"with epsilon 0, agent 0 (Q=[.1,.9,.5,.7,.2], available [1,0,1,1,0]) must pick 3 and agent 1 "
           f"(Q=[.3,.2,.8,.1,.6], available [1,1,0,1,1]) must pick 4; got {actions[0].tolist()}: the highest Q "
           "belongs to an unavailable action, which must never be chosen")


@selector_check(hint="random actions must be drawn among the available actions only")
def random_never_unavailable(EpsilonGreedySelector):
    actions = _draw(EpsilonGreedySelector, selector_args(1.0), batch=2000, seed=1)
    _, avail = example_inputs(1)
    picked_avail = torch.stack([avail[0, a][actions[:, a]] for a in range(2)], dim=1)
    bad = int((picked_avail == 0).sum())
    expect(bad == 0, f"with epsilon 1, {bad} of 4000 random actions were unavailable: draw random actions among "
                     "the available ones (e.g. Categorical(avail_actions.float()).sample())")


@selector_check(hint="a random action is *uniform* over the available actions (probability 1/n_available each)")
def random_uniform_over_available(EpsilonGreedySelector):
    n = 6000
    actions = _draw(EpsilonGreedySelector, selector_args(1.0), batch=n, seed=2)
    # agent 0 has 3 available actions (0, 2, 3): each should appear n/3 = 2000 times (std about 37)
    for action in (0, 2, 3):
        count = int((actions[:, 0] == action).sum())
        expect(abs(count - n / 3) < 250,
               f"with epsilon 1, agent 0's available actions 0, 2, 3 should each be drawn about {n // 3} times in "
               f"{n} draws; action {action} was drawn {count} times: random actions must be uniform over the "
               "available actions, not weighted by Q or fixed")


@selector_check(hint="with probability epsilon a random available action, else the greedy one (rand < epsilon)")
def explores_with_probability_epsilon(EpsilonGreedySelector):
    n = 8000
    actions = _draw(EpsilonGreedySelector, selector_args(0.2), batch=n, seed=3)
    # P(action != greedy) = epsilon * (1 - 1/n_available) = 0.2 * 2/3 for agent 0 (std about 0.0043)
    rate = float((actions[:, 0] != GREEDY[0]).float().mean())
    expected = 0.2 * 2 / 3
    expect(abs(rate - expected) < 0.03,
           f"with epsilon 0.2, agent 0 should leave its greedy action in 0.2 * (1 - 1/3) = {expected:.3f} of the "
           f"draws; it did in {rate:.3f}: pick the random action where rand < epsilon (not >)")


@selector_check(hint="test_mode=True is greedy (epsilon = args.evaluation_epsilon, 0.0 by default)")
def test_mode_is_greedy(EpsilonGreedySelector):
    torch.manual_seed(4)
    q, avail = example_inputs(500)
    selector = EpsilonGreedySelector(selector_args(1.0, 0.05, 50000))
    actions = selector.select_action(q, avail, 0, test_mode=True)
    expect(torch.equal(actions, GREEDY.repeat(500, 1)),
           "in test_mode the selector must act greedily (epsilon 0) even at t_env=0 where the schedule gives 1.0")
    expect(_close(selector.epsilon, 0.0), f"in test_mode selector.epsilon should be 0.0, got {selector.epsilon!r}")


@selector_check(hint="select_action sets self.epsilon = epsilon_schedule(t_env, ...) from args.epsilon_*")
def epsilon_follows_schedule(EpsilonGreedySelector):
    torch.manual_seed(5)
    q, avail = example_inputs(1)
    selector = EpsilonGreedySelector(selector_args(1.0, 0.05, 50000))
    for t_env, expected in ((25000, 0.525), (1_000_000, 0.05)):
        selector.select_action(q, avail, t_env, test_mode=False)
        expect(_close(selector.epsilon, expected, 1e-6),
               f"after select_action(..., t_env={t_env}) selector.epsilon should be {expected} (QMIX's schedule "
               f"1.0 -> 0.05 over 50000 steps), got {selector.epsilon!r}; the runner logs this value")
