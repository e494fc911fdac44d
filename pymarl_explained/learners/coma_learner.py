"""COMALearner: counterfactual multi-agent policy gradients (Foerster et al., 2018).

One ``train`` call on a batch of B episodes does two things.

**Critic.** ``COMACritic`` estimates Q(s, u) for the joint action, one output per action of the
agent under evaluation. Its targets are TD(lambda) returns built from a *target* critic's value
of the stored joint actions (``utils.rl_utils.build_td_lambda_targets``). With
``critic_train_mode="seq"`` (PyMARL's only mode) the critic takes one gradient step per time step,
walking the sequence backwards from the last step; ``"batch"`` takes one step on all steps at
once. The target critic is a hard copy refreshed every ``target_update_interval`` *critic*
steps (not episodes, unlike the Q-learners).

**Actor.** Each agent's policy pi^a is the controller's softmax output (with the epsilon floor
the action selector uses). For the taken joint action u, agent a's advantage is

    A^a(s, u) = Q(s, u) - sum_{u'} pi^a(u' | tau^a) Q(s, (u^-a, u'))

The second term, the counterfactual baseline, keeps the other agents' actions fixed and averages
over agent a's own alternatives; it does not depend on a's action, so it lowers the variance of
the gradient without biasing it, and it answers "how much better was a's action than a's usual
behaviour, given what the others did". The loss is ``-mean(A * log pi(u^a))`` over real steps.
The Q-values used for the advantages are the critic's outputs computed during its own training
pass of this batch (as in PyMARL).
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
from pymarl_explained.modules.critics.coma import COMACritic
from pymarl_explained.utils.atomic import atomic_save
from pymarl_explained.utils.checkpoint import load_state_dict_checked
from pymarl_explained.utils.rl_utils import build_td_lambda_targets

CRITIC_TRAIN_MODES = ("seq", "batch")
CRITIC_STATS = ("critic_loss", "critic_grad_norm", "td_error_abs", "q_taken_mean", "target_mean")



def policy_over_available(mac_out: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor:
    """Zero the probability of unavailable actions and renormalise each row to sum to 1.

    With ``mask_before_softmax=False`` (COMA's setting) the controller's softmax and its epsilon
    floor spread some probability over unavailable actions; the action selector never samples
    them, so the policy actually followed is this renormalised one.

    Padded steps (after an episode ended) have no available action at all; their rows stay 0
    instead of 0/0 = NaN, which a zero mask would not remove (NaN * 0 is NaN).
    """
    pi = mac_out.masked_fill(avail_actions == 0, 0.0)
    total = pi.sum(dim=-1, keepdim=True)
    return pi / torch.where(total > 0, total, torch.ones_like(total))


def counterfactual_advantages(
    q_vals: torch.Tensor, pi: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """COMA's baseline and advantage of the taken actions.

    Args:
        q_vals: (..., n_actions) critic values Q(s, (u^-a, a')) for every own action a'.
        pi: (..., n_actions) the agent's policy at the same step.
        actions: (..., 1) int64 index of the action taken.

    Returns:
        ``(baseline, q_taken, advantages)``, each of shape (...): baseline = sum_a' pi(a') Q(a'),
        q_taken = Q(u^a), advantages = q_taken - baseline; all three detached from the graph.
    """
    q_vals = q_vals.detach()
    baseline = (pi.detach() * q_vals).sum(dim=-1)
    q_taken = torch.gather(q_vals, dim=-1, index=actions).squeeze(-1)
    return baseline, q_taken, q_taken - baseline


class COMALearner:
    """Trains ``mac`` (the actors, ``agent_output_type="pi_logits"``) and a ``COMACritic``.

    Two RMSprop optimisers: ``lr`` for the agents, ``critic_lr`` for the critic. ``train`` returns
    the stats of its step and sends them to ``logger.log_stat`` every ``learner_log_interval``
    env steps: critic_loss, critic_grad_norm, td_error_abs, q_taken_mean, target_mean (means over
    the critic steps of this call), advantage_mean, coma_loss, agent_grad_norm, pi_max.

    Checkpoints: agent.th (controller), critic.th, agent_opt.th, critic_opt.th.

    Changes from PyMARL: the policy is renormalised without in-place writes into a tensor that
    autograd needs, and padded steps (no available action) get a zero row instead of 0/0: with
    PyMARL's division the logged coma_loss, advantage_mean and pi_max are NaN whenever a batch
    mixes episode lengths (the gradients happen to stay finite, the zero mask blocks them);
    ``critic_train_mode`` is checked (PyMARL read only "seq" and ignored the key),
    and "batch" is offered as a one-step alternative; the target critic is built from the loaded
    critic when a checkpoint is loaded.
    """

    def __init__(self, mac, scheme: dict, logger, args):
        self.args = args
        self.n_agents = args.n_agents
        self.n_actions = args.n_actions
        self.mac = mac
        self.logger = logger

        if args.agent_output_type != "pi_logits":
            raise ConfigError(f"coma_learner needs agent_output_type 'pi_logits', got {args.agent_output_type!r}")
        if args.critic_train_mode not in CRITIC_TRAIN_MODES:
            raise ConfigError(f"critic_train_mode must be one of {CRITIC_TRAIN_MODES}, got {args.critic_train_mode!r}")

        self.last_target_update_step = 0
        self.critic_training_steps = 0
        self.log_stats_t = -args.learner_log_interval - 1

        self.critic = COMACritic(scheme, args)
        self.target_critic = copy.deepcopy(self.critic)

        self.agent_params = list(mac.parameters())
        self.critic_params = list(self.critic.parameters())
        self.params = self.agent_params + self.critic_params

        self.agent_optimiser = RMSprop(params=self.agent_params, lr=args.lr, alpha=args.optim_alpha,
                                       eps=args.optim_eps)
        self.critic_optimiser = RMSprop(params=self.critic_params, lr=args.critic_lr, alpha=args.optim_alpha,
                                        eps=args.optim_eps)

    # ------------------------------------------------------------------ training
    def train(self, batch: EpisodeBatch, t_env: int, episode_num: int) -> dict[str, float]:
        """Critic steps, then one actor step, on ``batch``; returns the stats (see the class docstring)."""
        rewards, _, terminated, mask = td_batch_fields(batch)
        actions = batch["actions"]  # all T steps: the target critic scores the last one too
        avail_actions = batch["avail_actions"][:, :-1]

        q_vals, critic_stats = self._train_critic(batch, rewards, terminated, actions, mask)

        actions = actions[:, :-1]
        mac_out = agent_outputs(self.mac, batch, self.args)[:, :-1]  # (B, T-1, n_agents, n_actions)
        pi = policy_over_available(mac_out, avail_actions)

        agent_mask = mask.expand(-1, -1, self.n_agents)
        _, _, advantages = counterfactual_advantages(q_vals, pi, actions)
        advantages = advantages * agent_mask  # 0 on padding
        pi_taken = torch.gather(pi, dim=-1, index=actions).squeeze(-1)
        # log(1) = 0 on padding, so those steps add nothing (and no NaN from log 0)
        log_pi_taken = torch.log(torch.where(agent_mask > 0, pi_taken, torch.ones_like(pi_taken)))
        coma_loss = -(advantages * log_pi_taken * agent_mask).sum() / agent_mask.sum()

        agent_grad_norm = optimiser_step(self.agent_optimiser, coma_loss, self.agent_params, self.args.grad_norm_clip)

        if target_update_due(self.critic_training_steps, self.last_target_update_step,
                             self.args.target_update_interval):
            self._update_targets()
            self.last_target_update_step = self.critic_training_steps

        n_logged = max(len(critic_stats["critic_loss"]), 1)
        mask_elems = agent_mask.sum().item()
        stats = {key: sum(critic_stats[key]) / n_logged for key in CRITIC_STATS}
        stats.update({
            "advantage_mean": (advantages * agent_mask).sum().item() / mask_elems,
            "coma_loss": coma_loss.item(),
            "agent_grad_norm": agent_grad_norm,
            "pi_max": (pi.max(dim=-1)[0] * agent_mask).sum().item() / mask_elems,
        })
        log_stats_when_due(self, stats, t_env)
        return stats

    def _train_critic(
        self, batch: EpisodeBatch, rewards: torch.Tensor, terminated: torch.Tensor, actions: torch.Tensor,
        mask: torch.Tensor,
    ) -> tuple[torch.Tensor, dict[str, list[float]]]:
        """Fit the critic to TD(lambda) targets; return its Q-values (B, T-1, n_agents, n_actions),
        each taken just before the critic step that used it, and per-step stats."""
        with torch.no_grad():
            target_q_vals = self.target_critic(batch)  # (B, T, n_agents, n_actions)
            targets_taken = torch.gather(target_q_vals, dim=3, index=actions).squeeze(3)
            targets = build_td_lambda_targets(rewards, terminated, mask, targets_taken, self.n_agents,
                                              self.args.gamma, self.args.td_lambda)  # (B, T-1, n_agents)

        n_steps = rewards.shape[1]
        q_vals = torch.zeros_like(target_q_vals[:, :-1])
        running_log: dict[str, list[float]] = {key: [] for key in CRITIC_STATS}

        if self.args.critic_train_mode == "seq":
            # PyMARL: one critic step per time step, from the last step back to the first
            chunks = [slice(t, t + 1) for t in reversed(range(n_steps))]
        else:
            chunks = [slice(0, n_steps)]
        for steps in chunks:
            mask_t = mask[:, steps].expand(-1, -1, self.n_agents)
            if mask_t.sum() == 0:
                continue  # every episode of the batch has ended before these steps
            if steps.stop - steps.start == 1:
                q_t = self.critic(batch, steps.start)
            else:
                q_t = self.critic(batch)[:, steps]
            q_vals[:, steps] = q_t.detach()
            q_taken = torch.gather(q_t, dim=3, index=actions[:, steps]).squeeze(3)
            targets_t = targets[:, steps]

            masked_td_error = (q_taken - targets_t) * mask_t
            loss = (masked_td_error**2).sum() / mask_t.sum()
            grad_norm = optimiser_step(self.critic_optimiser, loss, self.critic_params, self.args.grad_norm_clip)
            self.critic_training_steps += 1

            mask_elems = mask_t.sum().item()
            running_log["critic_loss"].append(loss.item())
            running_log["critic_grad_norm"].append(grad_norm)
            running_log["td_error_abs"].append(masked_td_error.abs().sum().item() / mask_elems)
            running_log["q_taken_mean"].append((q_taken * mask_t).sum().item() / mask_elems)
            running_log["target_mean"].append((targets_t * mask_t).sum().item() / mask_elems)
        return q_vals, running_log

    def _update_targets(self) -> None:
        self.target_critic.load_state_dict(self.critic.state_dict())
        log_target_update(self.logger)

    # ------------------------------------------------------------------ devices and checkpoints
    def cuda(self) -> None:
        self.mac.cuda()
        self.critic.cuda()
        self.target_critic.cuda()

    def save_models(self, path: str | os.PathLike) -> None:
        """agent.th (via the controller), critic.th, agent_opt.th and critic_opt.th, each atomically."""
        self.mac.save_models(path)
        atomic_save(self.critic.state_dict(), os.path.join(path, "critic.th"))
        atomic_save(self.agent_optimiser.state_dict(), os.path.join(path, "agent_opt.th"))
        atomic_save(self.critic_optimiser.state_dict(), os.path.join(path, "critic_opt.th"))

    def load_models(self, path: str | os.PathLike) -> None:
        self.mac.load_models(path)
        load_state_dict_checked(self.critic, os.path.join(path, "critic.th"))
        # the target critic is not saved: it restarts as a copy of the loaded critic
        self.target_critic.load_state_dict(self.critic.state_dict())
        load_state_dict_checked(self.agent_optimiser, os.path.join(path, "agent_opt.th"))
        load_state_dict_checked(self.critic_optimiser, os.path.join(path, "critic_opt.th"))
