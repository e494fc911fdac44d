"""What the agent networks and the agent models read from an episode batch, per agent slot.

Two kinds of batches reach these helpers:

- a plain batch (what the runner fills and the buffer stores): per-agent fields are
  ``(B, T, n_agents, ...)``, episode-wide fields such as ``state``, ``reward`` and ``filled`` are
  ``(B, T, ...)`` and agent ``i`` sits in slot ``i``;
- a refined batch (``QLearner4AM._refine_batch``, the package's interpretation of the OMG fork):
  every field is per slot, ``(B, T, n_agents, ...)``, each slot holds the ego's trajectory from a
  different episode, and ``ego_unit`` (B, n_agents, 1) says which unit the ego controlled there.

:func:`slot_field` hides the difference: it returns any field with a slot dimension.
"""

from __future__ import annotations

import torch

from pymarl_explained.components.transforms import last_actions_onehot

#: Fields that are episode-wide in a plain batch and per slot in a refined batch.
EPISODE_WIDE = ("state", "reward", "terminated", "filled")


def is_refined(batch) -> bool:
    """True for a batch built by ``_refine_batch`` (it carries ``ego_unit``)."""
    return "ego_unit" in batch.scheme


def slot_field(batch, key: str, n_agents: int) -> torch.Tensor:
    """``batch[key]`` as ``(B, T, n_agents, ...)``: episode-wide fields of a plain batch are repeated per slot."""
    value = batch[key]
    if key in EPISODE_WIDE and not is_refined(batch):
        return value.unsqueeze(2).expand(value.shape[0], value.shape[1], n_agents, *value.shape[2:])
    return value


def agent_ids(batch, n_agents: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot unit ids (B, n_agents, n_agents): the identity for a plain batch, the ego's unit for a refined one."""
    if is_refined(batch):
        unit = batch["ego_unit"][..., 0].long()  # (B, n_agents)
        return torch.nn.functional.one_hot(unit, n_agents).to(dtype)
    eye = torch.eye(n_agents, device=batch.device, dtype=dtype)
    return eye.unsqueeze(0).expand(batch.batch_size, -1, -1)


def base_inputs_step(batch, t: int, args) -> torch.Tensor:
    """BasicMAC's inputs at step ``t`` for every slot: (B, n_agents, obs | last action | unit id)."""
    obs = batch["obs"][:, t]
    inputs = [obs]
    if args.obs_last_action:
        inputs.append(last_actions_onehot(batch["actions_onehot"], t).to(obs.dtype))
    if args.obs_agent_id:
        inputs.append(agent_ids(batch, args.n_agents, obs.dtype))
    return torch.cat(inputs, dim=-1)


def base_inputs_sequence(batch, args) -> torch.Tensor:
    """:func:`base_inputs_step` for every step at once: (B, T, n_agents, input_shape)."""
    obs = batch["obs"]
    bs, T = obs.shape[:2]
    inputs = [obs]
    if args.obs_last_action:
        inputs.append(last_actions_onehot(batch["actions_onehot"].to(obs.dtype)))
    if args.obs_agent_id:
        inputs.append(agent_ids(batch, args.n_agents, obs.dtype).unsqueeze(1).expand(bs, T, -1, -1))
    return torch.cat(inputs, dim=-1)


def base_input_shape(scheme: dict, args) -> int:
    """Size of :func:`base_inputs_step`'s last dimension (BasicMAC's input shape)."""
    obs = scheme["obs"]["vshape"]
    size = obs if isinstance(obs, int) else obs[0]
    if args.obs_last_action:
        size += scheme["actions_onehot"]["vshape"][0]
    if args.obs_agent_id:
        size += args.n_agents
    return size


def history_inputs_step(batch, t: int) -> torch.Tensor:
    """What an agent model's history GRU reads at ``t``: (B, n_agents, obs | last action one-hot)."""
    obs = batch["obs"][:, t]
    return torch.cat([obs, last_actions_onehot(batch["actions_onehot"], t).to(obs.dtype)], dim=-1)


def history_inputs_sequence(batch) -> torch.Tensor:
    """:func:`history_inputs_step` for every step: (B, T, n_agents, obs + n_actions)."""
    obs = batch["obs"]
    return torch.cat([obs, last_actions_onehot(batch["actions_onehot"].to(obs.dtype))], dim=-1)


def gru_cell_sequence(cell: torch.nn.GRUCell, x: torch.Tensor, h0: torch.Tensor) -> torch.Tensor:
    """Run ``cell`` over x (T, N, in) from h0 (N, H); returns every hidden state (T, N, H)."""
    h, out = h0, []
    for t in range(x.shape[0]):
        h = cell(x[t], h)
        out.append(h)
    return torch.stack(out, dim=0)
