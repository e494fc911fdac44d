"""What every learner's ``train`` does around its loss, written once.

PyMARL repeats these lines in each learner; here each learner's ``train`` calls them, so the
page shows the loss and little else:

- :func:`td_batch_fields`: the step-t slices of a sampled batch and the padding mask;
- :func:`agent_outputs`: the controller's outputs over every stored step (one unroll);
- :func:`optimiser_step`: zero_grad, backward, gradient clipping, step;
- :func:`target_update_due`: the hard target update every ``target_update_interval`` episodes;
- :func:`log_stats_when_due`: the learner's stats every ``learner_log_interval`` env steps;
- :func:`q_learning_stats`: loss, td_error_abs, q_taken_mean and target_mean with PyMARL's meaning.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch

_module_logger = logging.getLogger("pymarl_explained.learners")


def td_batch_fields(batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(rewards, actions, terminated, mask)`` for steps 0..T-2; the last stored step only bootstraps.

    ``mask`` is ``filled`` (a float copy) with every step after a real termination set to 0:
    such a step is padding, whatever ``filled`` says. Works for any trailing shape (a refined
    batch regrouped per agent slot has an extra slot dimension).
    """
    rewards = batch["reward"][:, :-1]
    actions = batch["actions"][:, :-1]
    terminated = batch["terminated"][:, :-1].float()
    mask = batch["filled"][:, :-1].float()
    mask[:, 1:] = mask[:, 1:] * (1 - terminated[:, :-1])
    return rewards, actions, terminated, mask


def agent_outputs(mac, batch, args, return_hidden: bool = False):
    """The controller's outputs (B, T, n_agents, n_actions) over every stored step of ``batch``.

    Starts from zero hidden states (``mac.init_hidden``). ``args.learner_fast_unroll`` (default
    True) runs the whole sequence at once; False is PyMARL's loop over ``mac.forward(batch, t)``.
    Both give the same numbers (tested). ``return_hidden=True`` adds the hidden states.
    """
    mac.init_hidden(batch.batch_size)
    per_step = not getattr(args, "learner_fast_unroll", True)
    return mac.forward_sequence(batch, return_hidden=return_hidden, per_step=per_step)


def optimiser_step(optimiser: torch.optim.Optimizer, loss: torch.Tensor, params: Iterable[torch.nn.Parameter],
                   grad_norm_clip: float) -> float:
    """``zero_grad``, ``backward``, clip the gradients to ``grad_norm_clip`` (L2), ``step``.

    Returns the gradient norm before clipping (PyMARL logs it as ``grad_norm``).
    """
    optimiser.zero_grad()
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(params, grad_norm_clip)
    optimiser.step()
    return float(grad_norm)


def target_update_due(count: int, last_update: int, interval: int) -> bool:
    """PyMARL's test for a hard target update: ``interval`` episodes (or steps) since the last one."""
    return (count - last_update) / interval >= 1.0


def log_target_update(logger) -> None:
    """The console line PyMARL prints at each target update."""
    getattr(logger, "console_logger", _module_logger).info("Updated target network")


def log_stats_when_due(learner, stats: dict[str, float], t_env: int) -> None:
    """Send ``stats`` to ``learner.logger`` every ``learner_log_interval`` env steps.

    The clock is ``learner.log_stats_t`` (initialised to ``-learner_log_interval - 1`` so the
    first ``train`` call logs), as in PyMARL.
    """
    if t_env - learner.log_stats_t >= learner.args.learner_log_interval:
        for key, value in stats.items():
            learner.logger.log_stat(key, value, t_env)
        learner.log_stats_t = t_env


def q_learning_stats(loss: torch.Tensor, grad_norm: float, masked_td_error: torch.Tensor,
                     chosen_qvals: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor,
                     n_agents: int) -> dict[str, float]:
    """The Q-learning stats of one step, with PyMARL's definitions and in PyMARL's logging order.

    ``td_error_abs`` is the mean absolute TD error over the mask's elements. ``q_taken_mean`` and
    ``target_mean`` follow PyMARL's quirk, kept so that curves compare with PyMARL's: both divide
    by ``mask elements * n_agents`` even when the values were mixed into one Q_tot per step (and
    for independent learners the mask already counts every agent), so they are not plain means.
    Every Q-learner of the package, the plug-ins' included, reports them this way.
    """
    mask_elems = mask.sum().item()
    return {
        "loss": loss.item(),
        "grad_norm": grad_norm,
        "td_error_abs": masked_td_error.abs().sum().item() / mask_elems,
        "q_taken_mean": (chosen_qvals * mask).sum().item() / (mask_elems * n_agents),
        "target_mean": (targets * mask).sum().item() / (mask_elems * n_agents),
    }
