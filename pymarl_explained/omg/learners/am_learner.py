"""AMLearner (``learner=am_learner``): pre-trains the ego's standalone agent model, OMG's VAE prior.

**Reconstruction.** The OMG fork's ``am_learner.py`` is not public; the fork describes it as the
learner that pre-trains the standalone agent model (the VAE prior) on collected data and saves
``vae.th``. This is our reconstruction: the run collects episodes with the composite team
(fixed teammates + the untrained, exploring ego), and every ``train`` call takes one Adam step
(``vae_lr``) on the prior's loss, reconstruction MSE + ``vae_beta`` * KL to N(0, I), over the
inputs ``x`` (observations, or the state when ``obs_is_state``) of every unit at every filled
step. Checkpoints hold ``vae.th`` (with the input size it was trained on).
"""

from __future__ import annotations

import os

import torch

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.errors import ConfigError
from pymarl_explained.learners.learner_utils import log_stats_when_due, optimiser_step
from pymarl_explained.omg.am.inputs import slot_field


class AMLearner:
    """Trains ``mac.agents_model[mac.main_alg_idx].prior`` (see the module docstring)."""

    def __init__(self, mac, scheme: dict, logger, args):
        main = getattr(mac, "main_alg_idx", None)
        am = mac.agents_model[main] if main is not None else None
        if am is None or not hasattr(am, "prior"):
            raise ConfigError("learner=am_learner pre-trains the VAE prior of the ego's omg_am: use a composite "
                              "config whose train_alg is iql_omg (e.g. --config=2iql1qmix1iql_omg --multi_algs).")
        self.args = args
        self.mac = mac
        self.logger = logger
        self.am = am
        self.params = list(am.prior.parameters())
        self.optimiser = torch.optim.Adam(self.params, lr=args.vae_lr)
        self.log_stats_t = -self.args.learner_log_interval - 1

    def train(self, batch: EpisodeBatch, t_env: int, episode_num: int) -> dict[str, float]:
        """One Adam step on the prior's loss over every unit's input at every filled step."""
        x = self.am.x_sequence(batch)  # (B, T, n_agents, x_dim)
        mask = slot_field(batch, "filled", self.args.n_agents)[..., 0].float()
        loss, recon, kl = self.am.prior.loss(x, mask, self.args.vae_beta)
        grad_norm = optimiser_step(self.optimiser, loss, self.params, self.args.grad_norm_clip)
        stats = {"vae_loss": loss.item(), "vae_recon": recon.item(), "vae_kl": kl.item(), "grad_norm": grad_norm}
        log_stats_when_due(self, stats, t_env)
        return stats

    def cuda(self) -> None:
        self.am.cuda()

    def save_models(self, path: str | os.PathLike) -> None:
        """``<path>/vae.th``: the prior with the input size and obs_is_state it was trained on."""
        self.am.save_prior(os.path.join(path, "vae.th"))

    def load_models(self, path: str | os.PathLike) -> None:
        self.am.load_prior(os.path.join(path, "vae.th"))
