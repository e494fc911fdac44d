"""Return targets shared by the actor-critic learners (COMA).

TD(lambda) in its "forward view" is a weighted average of n-step returns; PyMARL computes it for
a whole batch of episodes with one backward sweep over time, using the recursion

    G_t = r_t + gamma * [ (1 - lambda) * Q(t+1) * (1 - terminated_t) + lambda * G_{t+1} ]

with the masked form below. ``lambda = 0`` gives the one-step target ``r_t + gamma * Q(t+1)`` and
``lambda = 1`` the Monte-Carlo return bootstrapped only at the end of the stored sequence.
"""

from __future__ import annotations

import torch


def build_td_lambda_targets(
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    mask: torch.Tensor,
    target_qs: torch.Tensor,
    n_agents: int,
    gamma: float,
    td_lambda: float,
) -> torch.Tensor:
    """TD(lambda) targets for steps 0..T-2 of a batch of episodes.

    Args:
        rewards, terminated, mask: (B, T-1, 1) (or broadcastable to (B, T-1, n_agents)); ``mask``
            is 0 on the padding after an episode ended.
        target_qs: (B, T, n_agents), the target critic's value of the stored joint action at every
            stored step (the last step is only used to bootstrap).
        n_agents: number of agents (the width of ``target_qs``; kept for PyMARL's signature).
        gamma: discount factor.
        td_lambda: the lambda of TD(lambda), in [0, 1].

    Returns:
        (B, T-1, n_agents) targets.

    The sweep starts from the last stored step: its value is bootstrapped from ``target_qs`` only
    when the episode has not terminated anywhere in the sequence (a time-out), else it is 0. Going
    backwards, a masked step contributes nothing of its own, and only carries
    ``lambda * gamma`` times the later return, which is 0 after a termination; so the target of a
    terminal step is its reward alone, as it should be.
    """
    if target_qs.shape[-1] != n_agents:
        raise ValueError(f"target_qs must have n_agents={n_agents} columns, got shape {tuple(target_qs.shape)}")
    returns = torch.zeros_like(target_qs)
    ever_terminated = terminated.sum(dim=1)  # (B, 1): 1 when the episode really ended
    returns[:, -1] = target_qs[:, -1] * (1 - ever_terminated)
    for t in range(returns.shape[1] - 2, -1, -1):
        one_step = rewards[:, t] + (1 - td_lambda) * gamma * target_qs[:, t + 1] * (1 - terminated[:, t])
        returns[:, t] = td_lambda * gamma * returns[:, t + 1] + mask[:, t] * one_step
    return returns[:, :-1]


UNAVAILABLE_Q = -9999999
"""The value given to an unavailable action wherever one must never be picked: the greedy
choice of the action selectors and of the learners' bootstrap (PyMARL's -9999999), and the
logit of a masked softmax policy (PyMARL used -1e10 there; both give it probability 0 in float32).
Finite on purpose: a masked padding step then stays finite, where -inf times a zero mask is NaN."""


def bootstrap_qvals(mac_out: torch.Tensor, target_mac_out: torch.Tensor, avail_actions: torch.Tensor,
                    double_q: bool) -> torch.Tensor:
    """Per-agent value of the next state for one-step Q-learning targets, steps 1..T-1.

    ``mac_out`` and ``target_mac_out``: online and target Q-values (B, T, n_agents, n_actions) for
    every stored step; ``avail_actions`` the matching 0/1 masks. An unavailable action is never
    the bootstrap action. With ``double_q`` the online network picks the action and the target
    network scores it; otherwise the target network's own maximum. Returns (B, T-1, n_agents),
    without gradient.
    """
    with torch.no_grad():
        target_next = target_mac_out[:, 1:].masked_fill(avail_actions[:, 1:] == 0, UNAVAILABLE_Q)
        if not double_q:
            return target_next.max(dim=3)[0]
        online_next = mac_out[:, 1:].detach().masked_fill(avail_actions[:, 1:] == 0, UNAVAILABLE_Q)
        best_actions = online_next.max(dim=3, keepdim=True)[1]
        return torch.gather(target_next, 3, best_actions).squeeze(3)
