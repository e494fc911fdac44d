"""Preprocessing transforms that an :class:`EpisodeBatch` applies when data is written.

The runner stores the chosen ``actions`` as integers of shape ``(n_agents, 1)``; the buffer's
``preprocess`` dict ``{"actions": ("actions_onehot", [OneHot(n_actions)])}`` makes every
``update`` also write their one-hot encoding under the new key ``actions_onehot``, which the
controller feeds back to the agents as "last action".
"""

from __future__ import annotations

import torch


class Transform:
    """Interface of a preprocess transform."""

    def transform(self, tensor: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def infer_output_info(self, vshape_in, dtype_in):
        """The ``(vshape, dtype)`` of the output key, from those of the input key."""
        raise NotImplementedError


class OneHot(Transform):
    """One-hot encode the last dimension (of size 1) of an integer tensor into ``out_dim`` floats."""

    def __init__(self, out_dim: int):
        self.out_dim = out_dim

    def transform(self, tensor: torch.Tensor) -> torch.Tensor:
        # (..., 1) integer indices -> (..., out_dim) float32 with a single 1 per row.
        y_onehot = tensor.new_zeros(*tensor.shape[:-1], self.out_dim, dtype=torch.float32)
        y_onehot.scatter_(-1, tensor.long(), 1.0)
        return y_onehot

    def infer_output_info(self, vshape_in, dtype_in) -> tuple[tuple[int], torch.dtype]:
        return (self.out_dim,), torch.float32


def last_actions_onehot(actions_onehot: torch.Tensor, t: int | None = None) -> torch.Tensor:
    """The previous step's one-hot actions, the "last action" an agent sees in its input.

    ``actions_onehot`` is a batch field (B, T, ...). With ``t`` given: the actions of step
    ``t - 1`` (B, ...), zeros at ``t = 0`` (nothing was done before the first step). Without
    ``t``: the same for every step at once, i.e. the field shifted one step later along time,
    (B, T, ...) with zeros at step 0.
    """
    if t is None:
        return torch.cat([torch.zeros_like(actions_onehot[:, :1]), actions_onehot[:, :-1]], dim=1)
    if t == 0:
        return torch.zeros_like(actions_onehot[:, 0])
    return actions_onehot[:, t - 1]
