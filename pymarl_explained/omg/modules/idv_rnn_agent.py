"""IdvRNNAgent: one recurrent network per agent, no parameter sharing (the OMG fork's ``idv_rnn``).

Reconstruction note: the OMG fork's code is not public. Its file list names ``idv_rnn_agent.py``
next to ``rnn_agent.py``; this module is our reconstruction from that name and the fork's
description ("separate fc1/rnn/fc2 per agent, no sharing").
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn


class IdvRNNAgent(nn.Module):
    """``n_agents`` independent copies of RNNAgent's fc1 -> ReLU -> GRUCell -> fc2.

    The weights are stored stacked along a leading agent dimension (``fc1_w`` is
    ``(n_agents, input_shape, H)``), so one ``einsum`` applies agent ``i``'s weights to agent
    ``i``'s rows. Rows arrive in the controller's order ``(batch * n_agents, ...)``: row
    ``b * n_agents + i`` belongs to agent ``i``. The GRU equations are torch's GRUCell's::

        r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        h' = (1 - z) * n + z * h
    """

    def __init__(self, input_shape: int, args):
        super().__init__()
        self.args = args
        self.n_agents = args.n_agents
        hidden, n, n_actions = args.rnn_hidden_dim, args.n_agents, args.n_actions
        self.fc1_w = nn.Parameter(torch.empty(n, input_shape, hidden))
        self.fc1_b = nn.Parameter(torch.empty(n, hidden))
        self.w_ih = nn.Parameter(torch.empty(n, hidden, 3 * hidden))
        self.w_hh = nn.Parameter(torch.empty(n, hidden, 3 * hidden))
        self.b_ih = nn.Parameter(torch.empty(n, 3 * hidden))
        self.b_hh = nn.Parameter(torch.empty(n, 3 * hidden))
        self.fc2_w = nn.Parameter(torch.empty(n, hidden, n_actions))
        self.fc2_b = nn.Parameter(torch.empty(n, n_actions))
        self._reset_parameters(input_shape, hidden)

    def _reset_parameters(self, input_shape: int, hidden: int) -> None:
        """torch's defaults for Linear and GRUCell: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
        for w, b, fan_in in ((self.fc1_w, self.fc1_b, input_shape), (self.fc2_w, self.fc2_b, hidden)):
            bound = 1.0 / math.sqrt(fan_in)
            nn.init.uniform_(w, -bound, bound)
            nn.init.uniform_(b, -bound, bound)
        bound = 1.0 / math.sqrt(hidden)
        for p in (self.w_ih, self.w_hh, self.b_ih, self.b_hh):
            nn.init.uniform_(p, -bound, bound)

    def init_hidden(self) -> torch.Tensor:
        """A zero hidden state (1, rnn_hidden_dim); the controller expands it per agent."""
        return self.fc1_w.new_zeros(1, self.args.rnn_hidden_dim)

    def forward(self, inputs: torch.Tensor, hidden_state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """inputs (B * n_agents, input_shape), hidden (B * n_agents, H) -> q (B * n_agents, n_actions), h."""
        n, hdim = self.n_agents, self.args.rnn_hidden_dim
        x = inputs.reshape(-1, n, inputs.shape[-1])  # (B, n, in)
        h = hidden_state.reshape(-1, n, hdim)
        x = torch.relu(torch.einsum("bni,nih->bnh", x, self.fc1_w) + self.fc1_b)
        gi = torch.einsum("bnh,nhg->bng", x, self.w_ih) + self.b_ih
        gh = torch.einsum("bnh,nhg->bng", h, self.w_hh) + self.b_hh
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        new = torch.tanh(i_n + r * h_n)
        h = (1 - z) * new + z * h
        q = torch.einsum("bnh,nha->bna", h, self.fc2_w) + self.fc2_b
        return q.reshape(-1, q.shape[-1]), h.reshape(-1, hdim)
