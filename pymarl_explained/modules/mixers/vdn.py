"""VDN: the joint value is the sum of the agents' chosen-action values."""

from __future__ import annotations

import torch
import torch.nn as nn


class VDNMixer(nn.Module):
    """Q_tot = sum_a Q_a. No parameters; ``args`` and ``states`` are accepted (and ignored) so it is
    built and called like QMixer."""

    def __init__(self, args=None):
        super().__init__()

    def forward(self, agent_qs: torch.Tensor, states: torch.Tensor | None = None) -> torch.Tensor:
        """agent_qs (B, T, n_agents) -> Q_tot (B, T, 1)."""
        return torch.sum(agent_qs, dim=2, keepdim=True)
