"""QTRAN-base's joint networks (Son et al., 2019): a joint action-value Q_jt(s, u) and a state value V(s).

QTRAN does not force Q_jt to be a monotonic function of the agents' Q-values (as QMIX does).
Instead it learns an unrestricted Q_jt next to the agents' individual Q_i and ties them with
soft constraints (the learner's "opt" and "nopt" losses): sum_i Q_i(u_i) - Q_jt(u) + V(s) should
be 0 at the greedy joint action and >= 0 elsewhere. When they hold, the agents' greedy actions
are also greedy for Q_jt, so the decentralised policies stay consistent with the joint values.
V(s) absorbs the difference between the two at the greedy action, which a partial observer
cannot see.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

from pymarl_explained.errors import ConfigError

QTRAN_ARCHS = ("qtran_paper", "coma_critic")
NETWORK_SIZES = ("small", "big")


def _mlp(input_size: int, embed_dim: int, hidden_layers: int) -> nn.Sequential:
    """``hidden_layers`` x (Linear -> ReLU) of width ``embed_dim``, then Linear(embed_dim, 1)."""
    layers: list[nn.Module] = []
    width = input_size
    for _ in range(hidden_layers):
        layers += [nn.Linear(width, embed_dim), nn.ReLU()]
        width = embed_dim
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class QTranBase(nn.Module):
    """Q_jt(s, u) and V(s).

    ``qtran_arch="qtran_paper"`` (the paper's network): each agent's GRU hidden state h_i (its
    summary of its action-observation history) and the one-hot of its action u_i pass through a
    shared two-layer encoder; the encodings are *summed* over agents (so Q_jt does not depend on
    the agents' order) and concatenated with the state before Q's MLP.
    ``"coma_critic"`` (PyMARL's alternative): Q's MLP takes the state and the joint one-hot action.

    ``network_size="small"``: two hidden layers of ``mixing_embed_dim`` in Q and in V; ``"big"``:
    three. All hidden layers use ReLU.
    """

    def __init__(self, args):
        super().__init__()
        self.args = args
        self.n_agents = args.n_agents
        self.n_actions = args.n_actions
        self.state_dim = int(np.prod(args.state_shape))
        self.arch = args.qtran_arch
        self.embed_dim = args.mixing_embed_dim

        if self.arch == "qtran_paper":
            q_input_size = self.state_dim + args.rnn_hidden_dim + self.n_actions
        elif self.arch == "coma_critic":
            q_input_size = self.state_dim + self.n_agents * self.n_actions
        else:
            raise ConfigError(f"qtran_arch must be one of {QTRAN_ARCHS}, got {self.arch!r}")

        if args.network_size not in NETWORK_SIZES:
            raise ConfigError(f"network_size must be one of {NETWORK_SIZES}, got {args.network_size!r}")
        hidden_layers = 2 if args.network_size == "small" else 3
        self.Q = _mlp(q_input_size, self.embed_dim, hidden_layers)
        self.V = _mlp(self.state_dim, self.embed_dim, hidden_layers)

        # encoder of one agent's (hidden state, action) pair, width kept
        ae_input = args.rnn_hidden_dim + self.n_actions
        self.action_encoding = nn.Sequential(nn.Linear(ae_input, ae_input), nn.ReLU(), nn.Linear(ae_input, ae_input))

    def forward(
        self, states: torch.Tensor, hidden_states: torch.Tensor, actions_onehot: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Q_jt and V, each (B, T, 1).

        Args:
            states: (B, T, state_dim).
            hidden_states: (B, T, n_agents, rnn_hidden_dim), the agents' GRU outputs at those steps
                (unused by the "coma_critic" architecture).
            actions_onehot: (B, T, n_agents, n_actions), the joint action to evaluate.
        """
        bs, ts = states.shape[:2]
        return self.joint_q(states, hidden_states, actions_onehot), self.V(states.reshape(bs, ts, self.state_dim))

    def joint_q(self, states: torch.Tensor, hidden_states: torch.Tensor, actions_onehot: torch.Tensor) -> torch.Tensor:
        """Q_jt alone, (B, T, 1): where the learner discards V (the target's and the greedy action's Q_jt)."""
        bs, ts = states.shape[:2]
        states = states.reshape(bs, ts, self.state_dim)
        actions_onehot = actions_onehot.to(states.dtype)
        if self.arch == "qtran_paper":
            q_inputs = torch.cat([states, self.summed_action_encoding(hidden_states, actions_onehot)], dim=-1)
        else:
            q_inputs = torch.cat([states, actions_onehot.reshape(bs, ts, -1)], dim=-1)
        return self.Q(q_inputs)

    def summed_action_encoding(self, hidden_states: torch.Tensor, actions_onehot: torch.Tensor) -> torch.Tensor:
        """sum over agents of ``action_encoding([h_i, u_i])``: (B, T, rnn_hidden_dim + n_actions).

        The encoder ends with a Linear layer, and a Linear layer commutes with the sum:
        sum_i (W x_i + b) = W (sum_i x_i) + n_agents * b. So the ReLU layer's outputs are summed
        first and the last layer runs once per step instead of once per agent and step: the same
        values (up to float rounding) with n_agents times fewer rows through that layer.
        """
        first, relu, last = self.action_encoding
        pairs = torch.cat([hidden_states, actions_onehot], dim=-1)  # (B, T, n_agents, H + n_actions)
        summed = relu(first(pairs)).sum(dim=2)
        return last(summed) + (self.n_agents - 1) * last.bias
