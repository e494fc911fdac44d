"""QLearner4AM (``learner=q_learner_4am``): IQL for one ego among fixed teammates, on enlarged batches.

**Reconstruction.** The OMG fork's ``q_learner_4am.py`` is not public; the fork describes it as
the Q-learner adapted to the enlarged batches of its training loop, used for non-OMG egos
(plain IQL, or IQL with the naive action-prediction model ``base_am``). This module is our
reconstruction; ``omg_learner`` extends it.

The batch sizes (the OMG batch-sizing notes), for 8m with ``batch_size: 32`` in the config:

- ``run_sequential`` multiplies ``batch_size`` (and ``t_max``) by ``n_agents``: 32 * 8 = 256;
- each loop iteration runs n_agents episodes (the runner's batch is 1) and inserts each; the
  buffer is sampled once it holds 256;
- ``train`` gets 256 episodes, ``batch_size = batch.batch_size // n_agents`` = 32, and
  :meth:`_refine_batch` regroups them into 32 pseudo-episodes; then ``mac.init_hidden(32)``.

**What ``_refine_batch`` does is the package's interpretation** (the fork's code is not
available): the ego controls one unit per episode, so only its trajectory is trained on. The
``n_agents * B`` sampled episodes are regrouped into ``B`` pseudo-episodes whose ``n_agents``
slots hold the ego's trajectories from ``n_agents`` *different* episodes (slot ``j`` of pseudo-
episode ``b`` is episode ``b * n_agents + j``). Every field becomes per slot: the ego's obs,
actions, avail_actions; the episode's state, reward, terminated and filled; all units' actions
(``team_actions``, for opponent models); ``ego_unit``, the unit the ego controlled there (its id
one-hot). One update thus sees ``n_agents * B`` ego trajectories, as many agent-trajectories as
a parameter-shared learner sees in ``B`` episodes.

The loss is IQL's on the ego's outputs, per slot (double Q, target network, masks as in
QLearner), plus ``am_loss_weight`` times the agent model's own loss (zero for ``none_am``).
"""

from __future__ import annotations

import copy
import os
from types import SimpleNamespace

import torch
from torch.optim import RMSprop

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.errors import ConfigError
from pymarl_explained.learners.learner_utils import (
    log_stats_when_due,
    log_target_update,
    optimiser_step,
    q_learning_stats,
    target_update_due,
    td_batch_fields,
)
from pymarl_explained.omg.controller import MultiModuleMAC
from pymarl_explained.utils.atomic import atomic_save
from pymarl_explained.utils.checkpoint import load_state_dict_checked
from pymarl_explained.utils.rl_utils import bootstrap_qvals


def refine_batch(batch: EpisodeBatch, n_agents: int, ego_slot: int) -> EpisodeBatch:
    """Regroup ``n_agents * B`` episodes into ``B`` pseudo-episodes of the ego's trajectories (see the module doc).

    The ego's unit in episode ``e`` is ``(ego_slot + agent_idx[e]) % n_agents`` (``agent_idx`` is
    the episode's agent_shift, 0 when absent). Returns an EpisodeBatch of batch size ``B`` whose
    fields are all ``(B, T, n_agents, ...)``, plus ``team_actions`` (B, T, n_agents, n_agents, 1)
    and the episode-constant ``ego_unit`` (B, n_agents, 1).
    """
    total, T = batch.batch_size, batch.max_seq_length
    if total % n_agents:
        raise ConfigError(f"_refine_batch needs a multiple of n_agents={n_agents} episodes, got {total}.")
    bs = total // n_agents
    device = batch["obs"].device
    if "agent_idx" in batch.scheme:
        shift = batch["agent_idx"].reshape(total).long().to(device)
    else:
        shift = torch.zeros(total, dtype=torch.long, device=device)
    unit = (ego_slot + shift) % n_agents  # (N*B,)
    episodes = torch.arange(total, device=device)

    def regroup(x: torch.Tensor) -> torch.Tensor:  # (N*B, T, ...) -> (B, T, N, ...)
        x = x.reshape(bs, n_agents, *x.shape[1:])
        return x.transpose(1, 2).contiguous()

    transition = {}
    for key in ("obs", "actions", "actions_onehot", "avail_actions"):
        transition[key] = regroup(batch[key][episodes, :, unit])
    for key in ("state", "reward", "terminated", "filled"):
        transition[key] = regroup(batch[key])
    transition["team_actions"] = regroup(batch["actions"])
    episode = {"ego_unit": unit.reshape(bs, n_agents, 1)}

    scheme = {key: dict(batch.scheme[key]) for key in transition if key in batch.scheme}
    for key in ("state", "reward", "terminated", "filled"):
        scheme[key]["group"] = "agents"
    scheme["team_actions"] = {"vshape": (n_agents, 1), "group": "agents", "dtype": torch.long}
    scheme["ego_unit"] = {"vshape": (1,), "group": "agents", "dtype": torch.long, "episode_const": True}
    data = SimpleNamespace(transition_data=transition, episode_data=episode)
    return EpisodeBatch(scheme, {"agents": n_agents}, bs, T, data=data, device=batch.device)


class QLearner4AM:
    """IQL on the ego of a ``multi_module_mac`` over refined batches (see the module docstring)."""

    def __init__(self, mac, scheme: dict, logger, args):
        if not isinstance(mac, MultiModuleMAC):
            raise ConfigError(f"learner={args.learner} trains the ego of mac=multi_module_mac "
                              f"(a composite config with --multi_algs), got {type(mac).__name__}.")
        self.args = args
        self.mac = mac
        self.logger = logger
        self.n_agents = args.n_agents
        self.ego = mac.agents[mac.main_alg_idx]
        self.am = mac.agents_model[mac.main_alg_idx]
        self.params = list(mac.parameters())
        self.optimiser = RMSprop(params=self.params, lr=args.lr, alpha=args.optim_alpha, eps=args.optim_eps)
        self.target_agent = copy.deepcopy(self.ego)
        self.last_target_update_episode = 0
        self.log_stats_t = -self.args.learner_log_interval - 1

    def _refine_batch(self, batch: EpisodeBatch) -> EpisodeBatch:
        """``n_agents * B`` episodes -> ``B`` pseudo-episodes of ego trajectories (:func:`refine_batch`)."""
        return refine_batch(batch, self.n_agents, self.mac.ego_slot)

    def _extra_loss(self, batch: EpisodeBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The ego's agent model's own loss (base_am: action prediction; none_am: 0)."""
        return self.am.am_loss(batch)

    def _ego_outputs(self, batch: EpisodeBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """Online and target Q (B, T, n_agents, n_actions) of the ego in every slot."""
        self.mac.init_hidden(batch.batch_size)
        inputs = self.mac.main_alg_inputs_sequence(batch)
        mac_out = self.mac.main_alg_forward_sequence(batch, inputs=inputs)
        with torch.no_grad():
            target_out = self.mac.main_alg_forward_sequence(batch, inputs=inputs, agent=self.target_agent)
        return mac_out, target_out

    def _td_loss(self, batch: EpisodeBatch, mac_out: torch.Tensor, target_out: torch.Tensor
                 ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """IQL's masked one-step TD loss, per slot (each slot is its own episode).

        Every field of a refined batch has a slot dimension: (B, T, n_agents, 1). Returns the loss
        and ``(masked_td_error, chosen, targets, mask)`` for the stats, which have QLearner's
        meaning (:func:`~pymarl_explained.learners.learner_utils.q_learning_stats`).
        """
        rewards, actions, terminated, mask = td_batch_fields(batch)
        rewards, terminated, mask = rewards[..., 0], terminated[..., 0], mask[..., 0]  # one value per slot

        chosen = torch.gather(mac_out[:, :-1], dim=3, index=actions).squeeze(3)
        target_max = bootstrap_qvals(mac_out, target_out, batch["avail_actions"], self.args.double_q)
        targets = rewards + self.args.gamma * (1 - terminated) * target_max  # no gradient: bootstrap_qvals
        masked_td_error = (chosen - targets) * mask
        loss = (masked_td_error**2).sum() / mask.sum()
        return loss, (masked_td_error, chosen, targets, mask)

    def train(self, batch: EpisodeBatch, t_env: int, episode_num: int) -> dict[str, float]:
        """One gradient step on ``n_agents * batch_size`` sampled episodes; returns the step's stats."""
        batch_size = batch.batch_size // self.args.n_agents  # 256 // 8 = 32 on 8m
        batch = self._refine_batch(batch)
        assert batch.batch_size == batch_size
        extra_loss, extra_stats = self._extra_loss(batch)
        mac_out, target_out = self._ego_outputs(batch)  # calls mac.init_hidden(batch.batch_size)
        td_loss, td_parts = self._td_loss(batch, mac_out, target_out)
        loss = td_loss + self.args.am_loss_weight * extra_loss
        grad_norm = optimiser_step(self.optimiser, loss, self.params, self.args.grad_norm_clip)

        if target_update_due(episode_num, self.last_target_update_episode, self.args.target_update_interval):
            self._update_targets()
            self.last_target_update_episode = episode_num
        stats = {**q_learning_stats(td_loss, grad_norm, *td_parts, self.n_agents), **extra_stats,
                 "total_loss": loss.item()}
        log_stats_when_due(self, stats, t_env)
        return stats

    def _update_targets(self) -> None:
        self.target_agent.load_state_dict(self.ego.state_dict())
        log_target_update(self.logger)

    def cuda(self) -> None:
        self.mac.cuda()
        self.target_agent.cuda()

    def save_models(self, path: str | os.PathLike) -> None:
        """One sub-folder per algorithm (the controller) and opt.th, the ego's optimiser."""
        self.mac.save_models(path)
        atomic_save(self.optimiser.state_dict(), os.path.join(path, "opt.th"))

    def load_models(self, path: str | os.PathLike) -> None:
        """Load the ego (its sub-folder) and its optimiser; the teammates come from teammate_checkpoints."""
        self.mac.load_models(path, algs=[self.mac.main_alg])
        self.target_agent.load_state_dict(self.ego.state_dict())
        load_state_dict_checked(self.optimiser, os.path.join(path, "opt.th"))
