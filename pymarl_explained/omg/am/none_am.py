"""NoneAM: "no agent model", the default ``am_model`` of every algorithm (an empty output).

Reconstruction note: the OMG fork's code is not public; the agent-model interface below
(``output_dim``, ``init_hidden``, ``forward``, ``forward_sequence``, ``am_loss``, save/load)
is this package's reconstruction of what its controller and learners need.
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn


class AgentModel(nn.Module):
    """Interface of an agent model (``am_REGISTRY``): what one agent knows about the others.

    ``forward(batch, t)`` returns ``(B, n_agents, output_dim)``; the controller appends it,
    detached, to the agent network's input. ``forward_sequence(batch)`` returns it for every
    step ``(B, T, n_agents, output_dim)`` starting from a fresh hidden state. ``am_loss(batch)``
    is the model's own training loss (0 for models without one), ``trainable_parameters()``
    what the ego's optimiser updates.
    """

    output_dim: int = 0

    def __init__(self, scheme: dict, args):
        super().__init__()
        self.args = args
        self.n_agents = args.n_agents

    def init_hidden(self, batch_size: int) -> None:
        """Reset any recurrent state for a batch of ``batch_size`` episodes."""

    def forward(self, batch, t: int) -> torch.Tensor:  # noqa: D102 (documented on the class)
        return batch["obs"].new_zeros(batch.batch_size, self.n_agents, 0)

    def forward_sequence(self, batch) -> torch.Tensor:
        """The outputs for every step, (B, T, n_agents, output_dim)."""
        obs = batch["obs"]
        return obs.new_zeros(*obs.shape[:3], 0)

    def am_loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """(loss, stats) of the model's own objective on ``batch``; a zero loss by default."""
        return batch["obs"].new_zeros(()), {}

    def trainable_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def save_models(self, path: str | os.PathLike) -> None:
        """Write the model's files into ``path`` (nothing for a model without parameters)."""

    def load_models(self, path: str | os.PathLike) -> None:
        """Read what :meth:`save_models` wrote."""


class NoneAM(AgentModel):
    """No agent model: the agent network sees its usual inputs only."""
