"""QTranLearner: QTRAN-base (Son et al., 2019) on sampled episodes.

Notation per step t of a batch (steps 0..T-2; the last stored step only bootstraps):
Q_i are the agents' Q-values (the controller's outputs), Q_jt and V the mixer's joint value
and state value (``modules/mixers/qtran.py``), u the stored joint action and ū the joint action
of every agent's greedy (available) choice. Q_jt-hat means "the same value, detached".

- **td**: ``(Q_jt(s, u) - y)^2`` with ``y = r + gamma * (1 - terminated) * Q_jt_target(s', ū')``,
  where the target mixer uses the target agents' hidden states and ū' is the greedy joint action at
  s' (picked by the online agents with ``double_q``, by the target agents otherwise).
- **opt**: ``(sum_i Q_i(ū_i) - Q_jt-hat(s, ū) + V(s))^2``: at the greedy action the sum of the
  individual values plus V must equal the joint value.
- **nopt_min**: ``min(sum_i Q_i(u_i) - Q_jt-hat(s, u) + V(s), 0)^2``: at the taken action the
  same expression must not be negative.

``loss = td + opt_loss * opt + nopt_min_loss * nopt_min`` (weights from the config); each term is
a mean over the real (masked) steps. Q_jt is detached in the two constraint losses, so they only
move the individual Q_i and V, and the joint network learns from the td loss alone (also through
the agents' hidden states, which it reads). One RMSprop optimiser over agents and mixer, gradient
clipping and a hard target update every ``target_update_interval`` episodes, as in QLearner.
"""

from __future__ import annotations

import copy
import os

import torch
from torch.optim import RMSprop

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.errors import ConfigError
from pymarl_explained.learners.learner_utils import (
    agent_outputs,
    log_stats_when_due,
    log_target_update,
    optimiser_step,
    target_update_due,
    td_batch_fields,
)
from pymarl_explained.modules.mixers.qtran import QTranBase
from pymarl_explained.utils.atomic import atomic_save
from pymarl_explained.utils.checkpoint import load_state_dict_checked
from pymarl_explained.utils.rl_utils import UNAVAILABLE_Q


def qtran_losses(
    joint_qs: torch.Tensor,
    vs: torch.Tensor,
    target_joint_qs: torch.Tensor,
    max_joint_qs: torch.Tensor,
    chosen_qs_sum: torch.Tensor,
    max_qs_sum: torch.Tensor,
    rewards: torch.Tensor,
    terminated: torch.Tensor,
    mask: torch.Tensor,
    gamma: float,
) -> dict[str, torch.Tensor]:
    """QTRAN-base's three losses; every argument has shape (B, T-1, 1).

    Args:
        joint_qs: Q_jt(s, u) of the taken joint action.
        vs: V(s).
        target_joint_qs: the target mixer's Q_jt at the next step and its greedy joint action.
        max_joint_qs: Q_jt(s, ū) of the current greedy joint action (used detached).
        chosen_qs_sum: sum_i Q_i(u_i) of the taken actions.
        max_qs_sum: sum_i max_{available a} Q_i(a).
        rewards, terminated, mask: the batch's, mask 0 on padding.
        gamma: discount factor.

    Returns:
        ``td_loss``, ``opt_loss``, ``nopt_loss`` (scalars), ``masked_td_error`` and ``td_targets``.
    """
    mask_sum = mask.sum()
    td_targets = (rewards + gamma * (1 - terminated) * target_joint_qs).detach()
    masked_td_error = (joint_qs - td_targets) * mask
    td_loss = (masked_td_error**2).sum() / mask_sum

    opt_error = (max_qs_sum - max_joint_qs.detach() + vs) * mask
    opt_loss = (opt_error**2).sum() / mask_sum

    nopt_error = (chosen_qs_sum - joint_qs.detach() + vs).clamp(max=0) * mask
    nopt_loss = (nopt_error**2).sum() / mask_sum
    return {"td_loss": td_loss, "opt_loss": opt_loss, "nopt_loss": nopt_loss,
            "masked_td_error": masked_td_error, "td_targets": td_targets}


def _greedy_onehot(q_values: torch.Tensor) -> torch.Tensor:
    """One-hot (same shape) of the argmax over the last dimension."""
    return torch.zeros_like(q_values).scatter_(-1, q_values.argmax(dim=-1, keepdim=True), 1.0)


class QTranLearner:
    """Trains ``mac`` and a ``QTranBase`` mixer (``mixer="qtran_base"``) with QTRAN-base's losses.

    ``train`` returns the stats of its step and logs them every ``learner_log_interval`` env steps:
    loss, td_loss, opt_loss, nopt_loss, grad_norm, td_error_abs, td_targets, td_chosen_qs, v_mean,
    agent_indiv_qs.

    Checkpoints: agent.th (controller), mixer.th, opt.th, as QLearner.

    Changes from PyMARL: td_targets logged the mean TD *error* and td_chosen_qs / v_mean summed
    padded steps too; here they are masked means of the targets, Q_jt and V. The target mixer is
    also loaded from a checkpoint (PyMARL kept it random until the next target update).
    """

    def __init__(self, mac, scheme: dict, logger, args):
        self.args = args
        self.mac = mac
        self.logger = logger
        self.n_agents = args.n_agents

        if args.mixer != "qtran_base":
            raise ConfigError(f"qtran_learner supports mixer 'qtran_base' only (as PyMARL), got {args.mixer!r}")
        self.mixer = QTranBase(args)
        self.target_mixer = copy.deepcopy(self.mixer)
        self.params = list(mac.parameters()) + list(self.mixer.parameters())
        self.optimiser = RMSprop(params=self.params, lr=args.lr, alpha=args.optim_alpha, eps=args.optim_eps)
        self.target_mac = copy.deepcopy(mac)

        self.last_target_update_episode = 0
        self.log_stats_t = -args.learner_log_interval - 1

    def train(self, batch: EpisodeBatch, t_env: int, episode_num: int) -> dict[str, float]:
        """One gradient step on ``batch``; returns the stats of this step."""
        rewards, actions, terminated, mask = td_batch_fields(batch)
        avail_actions = batch["avail_actions"]
        states = batch["state"]

        # agent outputs and GRU hidden states (B, T, n_agents, H): the mixer reads the hidden states
        mac_out, hidden_states = agent_outputs(self.mac, batch, self.args, return_hidden=True)
        chosen_action_qvals = torch.gather(mac_out[:, :-1], dim=3, index=actions).squeeze(3)  # (B, T-1, n)

        # the online agents' greedy (available) actions and their values, at every step
        masked_mac_out = mac_out.masked_fill(avail_actions == 0, UNAVAILABLE_Q)
        max_qvals = masked_mac_out.max(dim=3)[0]  # differentiable: the opt loss trains the agents
        current_greedy = _greedy_onehot(masked_mac_out.detach())

        joint_qs, vs = self.mixer(states[:, :-1], hidden_states[:, :-1], batch["actions_onehot"][:, :-1])

        with torch.no_grad():
            target_mac_out, target_hidden = agent_outputs(self.target_mac, batch, self.args, return_hidden=True)
            if self.args.double_q:
                next_greedy = current_greedy[:, 1:]
            else:
                next_greedy = _greedy_onehot(target_mac_out.masked_fill(avail_actions == 0, UNAVAILABLE_Q))[:, 1:]
            target_joint_qs = self.target_mixer.joint_q(states[:, 1:], target_hidden[:, 1:], next_greedy)
            # the current network at the current greedy action, as the paper's authors advised PyMARL
            max_joint_qs = self.mixer.joint_q(states[:, :-1], hidden_states[:, :-1], current_greedy[:, :-1])

        losses = qtran_losses(
            joint_qs, vs, target_joint_qs, max_joint_qs,
            chosen_qs_sum=chosen_action_qvals.sum(dim=2, keepdim=True),
            max_qs_sum=max_qvals[:, :-1].sum(dim=2, keepdim=True),
            rewards=rewards, terminated=terminated, mask=mask, gamma=self.args.gamma,
        )
        loss = (losses["td_loss"] + self.args.opt_loss * losses["opt_loss"]
                + self.args.nopt_min_loss * losses["nopt_loss"])

        grad_norm = optimiser_step(self.optimiser, loss, self.params, self.args.grad_norm_clip)

        if target_update_due(episode_num, self.last_target_update_episode, self.args.target_update_interval):
            self._update_targets()
            self.last_target_update_episode = episode_num

        mask_elems = mask.sum().item()
        stats = {
            "loss": loss.item(),
            "td_loss": losses["td_loss"].item(),
            "opt_loss": losses["opt_loss"].item(),
            "nopt_loss": losses["nopt_loss"].item(),
            "grad_norm": grad_norm,
            "td_error_abs": losses["masked_td_error"].abs().sum().item() / mask_elems,
            "td_targets": (losses["td_targets"] * mask).sum().item() / mask_elems,
            "td_chosen_qs": (joint_qs * mask).sum().item() / mask_elems,
            "v_mean": (vs * mask).sum().item() / mask_elems,
            "agent_indiv_qs": (chosen_action_qvals * mask).sum().item() / (mask_elems * self.n_agents),
        }
        log_stats_when_due(self, stats, t_env)
        return stats

    def _update_targets(self) -> None:
        self.target_mac.load_state(self.mac)
        self.target_mixer.load_state_dict(self.mixer.state_dict())
        log_target_update(self.logger)

    def cuda(self) -> None:
        self.mac.cuda()
        self.target_mac.cuda()
        self.mixer.cuda()
        self.target_mixer.cuda()

    def save_models(self, path: str | os.PathLike) -> None:
        """agent.th (via the controller), mixer.th and opt.th in ``path``, each written atomically."""
        self.mac.save_models(path)
        atomic_save(self.mixer.state_dict(), os.path.join(path, "mixer.th"))
        atomic_save(self.optimiser.state_dict(), os.path.join(path, "opt.th"))

    def load_models(self, path: str | os.PathLike) -> None:
        self.mac.load_models(path)
        self.target_mac.load_models(path)
        load_state_dict_checked(self.mixer, os.path.join(path, "mixer.th"))
        load_state_dict_checked(self.target_mixer, os.path.join(path, "mixer.th"))
        load_state_dict_checked(self.optimiser, os.path.join(path, "opt.th"))
