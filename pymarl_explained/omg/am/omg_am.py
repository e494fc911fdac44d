"""OMGAM: opponent modelling based on subgoal inference (the ``omg_am`` agent model).

**Reconstruction.** The OMG fork's code is not public. This module is built from the paper
("Opponent Modeling based on Subgoal Inference", Yu, Jiang and Lu, NeurIPS 2024) and from the
facts collected in the project's reference notes; names follow the quoted fragments
(``omg_loss_func``, ``infer_mu``, ``infer_log_var``, ``subgoal_mode``), the maths is ours.

Two networks:

- the **prior** (:class:`PriorVAE`): a plain VAE over single inputs ``x`` (an observation, or
  the global state when ``obs_is_state``): ``Linear(x -> 128)`` -> (mu, log_var) of a 64-d
  latent; decoder back to ``x``. Pre-trained first by ``am_learner`` and saved as ``vae.th``;
  frozen afterwards. Its posterior mean of a future input is that input's *subgoal embedding*.
- the **inference model** (:class:`SubgoalCVAE`): a conditional VAE. ``x_t`` goes through a
  32-unit linear layer; the condition is the interaction history, a GRU (hidden 96) over the
  ego's observation and last action. Encoding ``(x_t, history)`` gives the inferred subgoal
  ``q(g_hat | x_t, history) = N(mu, exp(log_var))``; decoding ``(z, history)`` reconstructs ``x_t``.

Training (:meth:`OMGAM.omg_loss_func`): for every step ``t`` the candidates are the next ``H``
inputs ``x_{t+1..t+H}`` (``omg_horizon``, clamped at the episode's last filled step). Each is
embedded by the prior and scored by the ego's own Q-network given ``(x_t, g)``: the value is
``max_a Q(input_t | g, a)`` from the ego's hidden state before ``t``. ``optimistic`` (cooperative
games) picks the highest-scoring candidate, ``conservative`` (general-sum) the lowest; its
prior posterior is the target ``g_bar``. The loss is the CVAE's reconstruction MSE plus
``omg_kl_weight`` times ``KL(q(g_hat | x_t, history) || prior posterior of g_bar)``, both over
filled steps.

Acting (:meth:`OMGAM.forward`): ``mu`` of the inferred subgoal is returned (deterministic) and
appended, detached, to the ego's input, so the TD loss never trains the inference model;
``mu`` and ``log_var`` are kept in ``last_infer`` for the controller's holdup.

Not reconstructed: the paper's Foraging/Predator-Prey settings and a third-party
re-implementation's coefficient that mixes ``g_bar`` and ``g_hat`` while training (unverified).

Known defect of the fragments fixed here: a ``vae.th`` pre-trained on the 168-d state (8m,
``obs_is_state=True``) was loaded into an 80-d observation model (``obs_is_state=False``);
``vae.th`` now records its input size and ``obs_is_state``, and a mismatch is a
:class:`~pymarl_explained.errors.CheckpointError` saying what differs and what to re-run.
"""

from __future__ import annotations

import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from pymarl_explained.errors import CheckpointError
from pymarl_explained.omg.am.inputs import (
    base_inputs_sequence,
    gru_cell_sequence,
    history_inputs_sequence,
    history_inputs_step,
    slot_field,
)
from pymarl_explained.omg.am.none_am import AgentModel
from pymarl_explained.utils.atomic import atomic_save
from pymarl_explained.utils.checkpoint import load_state_dict_checked
from pymarl_explained.utils.rl_utils import UNAVAILABLE_Q

VAE_FORMAT = "pymarl_explained.omg_prior_vae.v1"


def reparameterise(mu: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """A sample ``mu + eps * exp(log_var / 2)`` with ``eps ~ N(0, I)``."""
    return mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)


def gaussian_kl(mu_q: torch.Tensor, log_var_q: torch.Tensor, mu_p: torch.Tensor,
                log_var_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) of diagonal Gaussians, summed over the last dimension."""
    return 0.5 * (log_var_p - log_var_q + (log_var_q.exp() + (mu_q - mu_p) ** 2) / log_var_p.exp() - 1).sum(-1)


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` over the entries where ``mask`` is 1."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def select_subgoal(scores: torch.Tensor, valid: torch.Tensor, mode: str) -> torch.Tensor:
    """Index of the chosen candidate along the last dimension.

    ``optimistic``: the argmax of ``scores`` over the valid candidates (cooperative games: the
    teammates head for the subgoal that is best for the ego); ``conservative``: the argmin
    (general-sum games: assume the worst).
    """
    if mode == "optimistic":
        return scores.masked_fill(~valid, float("-inf")).argmax(dim=-1)
    if mode == "conservative":
        return scores.masked_fill(~valid, float("inf")).argmin(dim=-1)
    raise ValueError(f"subgoal_mode must be 'optimistic' or 'conservative', got {mode!r}")


class PriorVAE(nn.Module):
    """The prior: a VAE over single inputs (Linear(x -> hidden) -> mu, log_var; decoder back to x)."""

    def __init__(self, input_dim: int, hidden_dim: int, latent_dim: int):
        super().__init__()
        self.input_dim, self.hidden_dim, self.latent_dim = input_dim, hidden_dim, latent_dim
        self.enc = nn.Linear(input_dim, hidden_dim)
        self.enc_mu = nn.Linear(hidden_dim, latent_dim)
        self.enc_log_var = nn.Linear(hidden_dim, latent_dim)
        self.dec = nn.Sequential(nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, input_dim))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.enc(x))
        return self.enc_mu(h), self.enc_log_var(h).clamp(-10.0, 10.0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (..., input_dim) -> (reconstruction, mu, log_var)."""
        mu, log_var = self.encode(x)
        return self.dec(reparameterise(mu, log_var)), mu, log_var

    def loss(self, x: torch.Tensor, mask: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(recon + beta * KL to N(0, I), recon, KL), each a mean over the rows where ``mask`` is 1."""
        recon_x, mu, log_var = self(x)
        recon = masked_mean(((recon_x - x) ** 2).sum(-1), mask)
        kl = masked_mean(gaussian_kl(mu, log_var, torch.zeros_like(mu), torch.zeros_like(log_var)), mask)
        return recon + beta * kl, recon, kl


class SubgoalCVAE(nn.Module):
    """The inference model: x_t -> Linear(32); history GRU (96); encoder and decoder of width 128."""

    def __init__(self, x_dim: int, history_in: int, x_embed: int, history_dim: int, hidden_dim: int, latent_dim: int):
        super().__init__()
        self.history_dim = history_dim
        self.x_embed = nn.Linear(x_dim, x_embed)
        self.history = nn.GRUCell(history_in, history_dim)
        self.enc = nn.Linear(x_embed + history_dim, hidden_dim)
        self.enc_mu = nn.Linear(hidden_dim, latent_dim)
        self.enc_log_var = nn.Linear(hidden_dim, latent_dim)
        self.dec = nn.Sequential(
            nn.Linear(latent_dim + history_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, x_dim)
        )

    def encode(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(x (..., x_dim), history (..., history_dim)) -> (mu, log_var) of the inferred subgoal."""
        e = F.relu(self.enc(torch.cat([F.relu(self.x_embed(x)), h], dim=-1)))
        return self.enc_mu(e), self.enc_log_var(e).clamp(-10.0, 10.0)

    def decode(self, z: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """(subgoal z, history) -> reconstructed x."""
        return self.dec(torch.cat([z, h], dim=-1))


class OMGAM(AgentModel):
    """The OMG agent model: prior VAE + subgoal CVAE; outputs the 64-d inferred subgoal (see the module doc)."""

    def __init__(self, scheme: dict, args):
        super().__init__(scheme, args)
        self.obs_is_state = bool(getattr(args, "obs_is_state", False))
        self.x_dim = args.state_shape if self.obs_is_state else args.obs_shape
        self.subgoal_dim = args.subgoal_dim
        self.output_dim = args.subgoal_dim
        self.horizon = args.omg_horizon
        self.prior = PriorVAE(self.x_dim, args.omg_hidden_dim, args.subgoal_dim)
        self.cvae = SubgoalCVAE(self.x_dim, args.obs_shape + args.n_actions, args.omg_x_embed_dim,
                                args.omg_history_dim, args.omg_hidden_dim, args.subgoal_dim)
        self.hidden: torch.Tensor | None = None
        self.last_infer: tuple[torch.Tensor, torch.Tensor] | None = None
        self.prior_loaded = False
        if getattr(args, "vae_path", ""):
            self.load_prior(args.vae_path)

    # ------------------------------------------------------------------ inputs
    def x_step(self, batch, t: int) -> torch.Tensor:
        """x at step ``t`` per slot, (B, n_agents, x_dim): the observation, or the state when obs_is_state."""
        if self.obs_is_state:
            return slot_field(batch, "state", self.n_agents)[:, t]
        return batch["obs"][:, t]

    def x_sequence(self, batch) -> torch.Tensor:
        """x for every step, (B, T, n_agents, x_dim)."""
        return slot_field(batch, "state", self.n_agents) if self.obs_is_state else batch["obs"]

    def trainable_parameters(self) -> list[nn.Parameter]:
        """The inference model's parameters; the prior stays frozen once pre-trained."""
        return list(self.cvae.parameters())

    # ------------------------------------------------------------------ acting
    def init_hidden(self, batch_size: int) -> None:
        self.hidden = self.cvae.enc.weight.new_zeros(batch_size * self.n_agents, self.cvae.history_dim)

    def forward(self, batch, t: int) -> torch.Tensor:
        """The inferred subgoal mean (B, n_agents, subgoal_dim) at step ``t``; advances the history GRU."""
        bs = batch.batch_size
        hist = history_inputs_step(batch, t).reshape(bs * self.n_agents, -1)
        if self.hidden is None or self.hidden.shape[0] != hist.shape[0]:
            self.init_hidden(bs)
        self.hidden = self.cvae.history(hist, self.hidden)
        x = self.x_step(batch, t).reshape(bs * self.n_agents, -1)
        mu, log_var = self.cvae.encode(x, self.hidden)
        mu, log_var = mu.view(bs, self.n_agents, -1), log_var.view(bs, self.n_agents, -1)
        self.last_infer = (mu.detach(), log_var.detach())
        return mu

    def history_sequence(self, batch) -> torch.Tensor:
        """The history GRU's state after every step, (B, T, n_agents, history_dim), from zeros."""
        hist = history_inputs_sequence(batch)
        bs, T, n = hist.shape[:3]
        h0 = hist.new_zeros(bs * n, self.cvae.history_dim)
        hs = gru_cell_sequence(self.cvae.history, hist.transpose(0, 1).reshape(T, bs * n, -1), h0)
        return hs.view(T, bs, n, -1).transpose(0, 1)

    def infer_sequence(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(mu, log_var, history) of the inferred subgoal at every step, each (B, T, n_agents, .)."""
        hs = self.history_sequence(batch)
        mu, log_var = self.cvae.encode(self.x_sequence(batch), hs)
        return mu, log_var, hs

    def forward_sequence(self, batch) -> torch.Tensor:
        return self.infer_sequence(batch)[0]

    # ------------------------------------------------------------------ subgoal targets
    def candidate_steps(self, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """For mask (B, T, N) of filled steps: the candidate steps ``t+1..t+H`` clamped at each slot's
        last filled step, (B, T, N, H), and which of them are real (not clamped)."""
        bs, T, n = mask.shape
        last = (mask.sum(1).long() - 1).clamp(min=0)  # (B, N)
        steps = torch.arange(T, device=mask.device).view(1, T, 1, 1) + torch.arange(
            1, self.horizon + 1, device=mask.device).view(1, 1, 1, -1)
        last = last.view(bs, 1, n, 1)
        valid = steps <= last
        valid[..., 0] = True  # at the last step the only candidate is the last input itself
        return torch.minimum(steps, last), valid

    @staticmethod
    def score_candidates(eval_net: nn.Module, base_inputs: torch.Tensor, hidden: torch.Tensor,
                         candidates: torch.Tensor, avail_actions: torch.Tensor) -> torch.Tensor:
        """The ego's value ``max_a Q(input | g, a)`` of each candidate subgoal.

        base_inputs (M, in), hidden (M, H) the ego's GRU state before the step, candidates
        (M, K, subgoal_dim), avail_actions (M, n_actions) -> scores (M, K).
        """
        m, k = candidates.shape[:2]
        inputs = torch.cat([base_inputs.unsqueeze(1).expand(m, k, -1), candidates], dim=-1).reshape(m * k, -1)
        q, _ = eval_net(inputs, hidden.repeat_interleave(k, dim=0))
        q = q.view(m, k, -1).masked_fill(avail_actions.unsqueeze(1) == 0, UNAVAILABLE_Q)
        return q.max(dim=-1)[0]

    @torch.no_grad()
    def select_targets(self, batch, eval_net: nn.Module, infer_mu: torch.Tensor, subgoal_mode: str
                       ) -> dict[str, torch.Tensor]:
        """The target ``g_bar`` of every step: prior posterior (mu, log_var) of the chosen future input.

        Returns a dict with ``mu``, ``log_var`` (B, T, N, subgoal_dim), ``step`` (B, T, N) the
        chosen future step, ``scores`` (B, T, N, H) and ``valid`` (B, T, N, H).
        """
        x = self.x_sequence(batch)
        bs, T, n, d = x.shape
        mask = slot_field(batch, "filled", n)[..., 0].float()
        steps, valid = self.candidate_steps(mask)
        # gather x at the candidate steps, slot by slot
        idx = steps.permute(0, 2, 1, 3).reshape(bs, n, T * self.horizon, 1).expand(-1, -1, -1, d)
        x_cand = torch.gather(x.permute(0, 2, 1, 3), 2, idx).view(bs, n, T, self.horizon, d).permute(0, 2, 1, 3, 4)
        prior_mu, prior_log_var = self.prior.encode(x_cand)  # (B, T, N, H, latent)

        # the ego's hidden state before each step, acting with the inferred subgoals
        base = base_inputs_sequence(batch, self.args)  # (B, T, N, in)
        ego_in = torch.cat([base, infer_mu], dim=-1).transpose(0, 1).reshape(T, bs * n, -1)
        h = eval_net.init_hidden().expand(bs * n, -1)
        before = []
        for t in range(T):
            before.append(h)
            _, h = eval_net(ego_in[t], h)
        h_before = torch.stack(before, 0).view(T, bs, n, -1).transpose(0, 1)

        avail = batch["avail_actions"]
        scores = self.score_candidates(
            eval_net, base.reshape(bs * T * n, -1), h_before.reshape(bs * T * n, -1),
            prior_mu.reshape(bs * T * n, self.horizon, -1), avail.reshape(bs * T * n, -1),
        ).view(bs, T, n, self.horizon)
        choice = select_subgoal(scores, valid, subgoal_mode)  # (B, T, N)
        pick = choice.view(bs, T, n, 1, 1).expand(-1, -1, -1, 1, prior_mu.shape[-1])
        return {
            "mu": torch.gather(prior_mu, 3, pick).squeeze(3),
            "log_var": torch.gather(prior_log_var, 3, pick).squeeze(3),
            "step": torch.gather(steps.expand(bs, T, n, -1), 3, choice.unsqueeze(-1)).squeeze(-1),
            "scores": scores,
            "valid": valid,
        }

    def omg_loss_func(self, batch, eval_net: nn.Module, subgoal_mode: str) -> tuple[torch.Tensor, dict[str, float]]:
        """The OMG loss on a (refined) batch: CVAE reconstruction + KL to the selected future subgoal."""
        mu, log_var, hs = self.infer_sequence(batch)
        x = self.x_sequence(batch)
        mask = slot_field(batch, "filled", self.n_agents)[..., 0].float()
        recon_x = self.cvae.decode(reparameterise(mu, log_var), hs)
        recon = masked_mean(((recon_x - x) ** 2).sum(-1), mask)
        target = self.select_targets(batch, eval_net, mu.detach(), subgoal_mode)
        kl = masked_mean(gaussian_kl(mu, log_var, target["mu"], target["log_var"]), mask)
        loss = recon + self.args.omg_kl_weight * kl
        ahead = masked_mean((target["step"] - torch.arange(mask.shape[1], device=mask.device).view(1, -1, 1)).float(),
                            mask)
        return loss, {"omg_loss": loss.item(), "omg_recon": recon.item(), "omg_kl": kl.item(),
                      "omg_steps_ahead": ahead.item()}

    def am_loss(self, batch) -> tuple[torch.Tensor, dict[str, float]]:
        raise NotImplementedError("omg_am is trained by omg_learner through omg_loss_func(batch, eval_net, mode)")

    # ------------------------------------------------------------------ checkpoints
    def prior_meta(self) -> dict:
        """What ``vae.th`` records about the inputs it was trained on."""
        return {"format": VAE_FORMAT, "input_dim": self.x_dim, "obs_is_state": self.obs_is_state,
                "hidden_dim": self.prior.hidden_dim, "latent_dim": self.prior.latent_dim,
                "map_name": dict(getattr(self.args, "env_args", {}) or {}).get("map_name")}

    def save_prior(self, path: str | os.PathLike) -> None:
        """Write the prior with its metadata (input size, obs_is_state) to ``path`` (a vae.th file)."""
        atomic_save({**self.prior_meta(), "state_dict": self.prior.state_dict()}, path)

    def load_prior(self, path: str | os.PathLike) -> None:
        """Load a ``vae.th`` written by :meth:`save_prior`; a missing file or other input sizes is a CheckpointError."""
        path = str(path)
        if not os.path.isfile(path):
            raise CheckpointError(
                f"vae_path {path!r} does not exist. Pre-train the VAE prior first: "
                "python -m pymarl_explained.omg_pipeline stage2 (it writes vae.th and records its path).")
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != VAE_FORMAT:
            raise CheckpointError(f"{path} is not a VAE prior written by am_learner (no {VAE_FORMAT!r} header).")
        want = self.prior_meta()
        for key in ("input_dim", "obs_is_state", "hidden_dim", "latent_dim"):
            if saved[key] != want[key]:
                raise CheckpointError(
                    f"The VAE prior {path} was trained on other inputs than this run's omg_am reads: "
                    f"it has input_dim={saved['input_dim']} (obs_is_state={saved['obs_is_state']}, "
                    f"map {saved.get('map_name')}), hidden_dim={saved['hidden_dim']}, "
                    f"latent_dim={saved['latent_dim']}; "
                    f"this run needs input_dim={want['input_dim']} (obs_is_state={want['obs_is_state']}, "
                    f"map {want['map_name']}), hidden_dim={want['hidden_dim']}, latent_dim={want['latent_dim']}. "
                    "Re-run stage 2 (python -m pymarl_explained.omg_pipeline stage2) with the same map, "
                    "obs_is_state, omg_hidden_dim and subgoal_dim, or change this run's settings to the prior's.")
        self.prior.load_state_dict(saved["state_dict"])
        self.prior_loaded = True

    def save_models(self, path: str | os.PathLike) -> None:
        """am.th (the inference model) and vae.th (the frozen prior, with its metadata)."""
        atomic_save(self.cvae.state_dict(), os.path.join(path, "am.th"))
        self.save_prior(os.path.join(path, "vae.th"))

    def load_models(self, path: str | os.PathLike) -> None:
        load_state_dict_checked(self.cvae, os.path.join(path, "am.th"))
        self.load_prior(os.path.join(path, "vae.th"))
