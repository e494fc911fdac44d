"""BaseAM: a naive opponent model that predicts the other agents' actions (the ``base_am`` model).

Reconstruction note: the OMG fork's code is not public. Its file list has ``base_am.py`` and the
paper compares OMG with "naive OM" (modelling the others' actions); this module is our
reconstruction of such a model, used by the ``iql_am`` algorithm.

A GRU (``am_hidden_dim``) reads the ego's history (its observation and last action at each
step); a linear head predicts the action every unit of the team takes at that step
(``n_agents * n_actions`` logits). The predicted action distributions, flattened, are appended
(detached) to the ego's input. Its loss is the cross-entropy with the actions actually taken,
over filled steps.
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from pymarl_explained.omg.am.inputs import (
    gru_cell_sequence,
    history_inputs_sequence,
    history_inputs_step,
    slot_field,
)
from pymarl_explained.omg.am.none_am import AgentModel
from pymarl_explained.utils.atomic import atomic_save
from pymarl_explained.utils.checkpoint import load_state_dict_checked


class BaseAM(AgentModel):
    """Action-prediction opponent model: history GRU -> logits over every unit's action."""

    def __init__(self, scheme: dict, args):
        super().__init__(scheme, args)
        hist_in = args.obs_shape + args.n_actions
        self.hidden_dim = args.am_hidden_dim
        self.rnn = nn.GRUCell(hist_in, self.hidden_dim)
        self.head = nn.Linear(self.hidden_dim, args.n_agents * args.n_actions)
        self.output_dim = args.n_agents * args.n_actions
        self.hidden: torch.Tensor | None = None

    def init_hidden(self, batch_size: int) -> None:
        self.hidden = self.head.weight.new_zeros(batch_size * self.n_agents, self.hidden_dim)

    def forward(self, batch, t: int) -> torch.Tensor:
        """Predicted action probabilities (B, n_agents, n_agents * n_actions) at step ``t``."""
        bs = batch.batch_size
        x = history_inputs_step(batch, t).reshape(bs * self.n_agents, -1)
        if self.hidden is None or self.hidden.shape[0] != x.shape[0]:
            self.init_hidden(bs)
        self.hidden = self.rnn(x, self.hidden)
        logits = self.head(self.hidden).view(bs, self.n_agents, self.n_agents, -1)
        return F.softmax(logits, dim=-1).reshape(bs, self.n_agents, -1)

    def _logits_sequence(self, batch) -> torch.Tensor:
        x = history_inputs_sequence(batch)  # (B, T, N, in)
        bs, T, n = x.shape[:3]
        h0 = x.new_zeros(bs * n, self.hidden_dim)
        hs = gru_cell_sequence(self.rnn, x.transpose(0, 1).reshape(T, bs * n, -1), h0)
        return self.head(hs).view(T, bs, n, n, -1).transpose(0, 1)  # (B, T, slot, unit, n_actions)

    def forward_sequence(self, batch) -> torch.Tensor:
        logits = self._logits_sequence(batch)
        return F.softmax(logits, dim=-1).flatten(3)

    def am_loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy between the predicted and the taken actions of every unit, filled steps only."""
        logits = self._logits_sequence(batch)  # (B, T, slot, unit, A)
        if "team_actions" in batch.scheme:
            team = batch["team_actions"][..., 0]  # (B, T, slot, unit)
        else:
            team = batch["actions"][..., 0].unsqueeze(2).expand(*logits.shape[:4])
        mask = slot_field(batch, "filled", self.n_agents)[..., 0].float()  # (B, T, slot)
        ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), team.reshape(-1), reduction="none")
        ce = ce.view(*team.shape).mean(-1)
        loss = (ce * mask).sum() / mask.sum().clamp(min=1)
        accuracy = ((logits.argmax(-1) == team).float().mean(-1) * mask).sum() / mask.sum().clamp(min=1)
        return loss, {"am_loss": loss.item(), "am_accuracy": accuracy.item()}

    def save_models(self, path: str | os.PathLike) -> None:
        atomic_save(self.state_dict(), os.path.join(path, "am.th"))

    def load_models(self, path: str | os.PathLike) -> None:
        load_state_dict_checked(self, os.path.join(path, "am.th"))
