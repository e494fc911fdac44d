"""OMGLearner (``learner=omg_learner``): the OMG ego's update.

**Reconstruction.** The OMG fork's ``omg_learner.py`` is not public. Its quoted ``train``
starts with ``batch_size = batch.batch_size // self.args.n_agents`` and ``_refine_batch``,
computes ``omg_am.omg_loss_func(batch, eval_net, subgoal_mode)`` on the ego's agent model and
agent network, then the Q-values after ``mac.init_hidden(batch.batch_size)``; the rest of this
module is our reconstruction: refine batch -> OMG loss -> IQL TD loss on the ego's outputs
(their inputs carry the inferred subgoal, detached) -> one optimiser step over the ego's agent
network and inference model. ``_refine_batch``'s meaning is the package's interpretation (see
:mod:`pymarl_explained.omg.learners.q_learner_4am`).
"""

from __future__ import annotations

import torch

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.errors import CheckpointError, ConfigError
from pymarl_explained.omg.am.omg_am import OMGAM
from pymarl_explained.omg.learners.q_learner_4am import QLearner4AM


class OMGLearner(QLearner4AM):
    """IQL TD loss + ``am_loss_weight`` * OMG loss, one RMSprop step (see the module docstring)."""

    def __init__(self, mac, scheme: dict, logger, args):
        super().__init__(mac, scheme, logger, args)
        if not isinstance(self.am, OMGAM):
            raise ConfigError(f"learner=omg_learner needs the ego {mac.main_alg!r} to use am_model=omg_am "
                              f"(it uses {mac.main_alg_args.am_model!r}); train_alg=iql_omg does.")
        if args.subgoal_mode not in ("optimistic", "conservative"):
            raise ConfigError(f"subgoal_mode must be 'optimistic' or 'conservative', got {args.subgoal_mode!r}")
        if not self.am.prior_loaded and not (args.evaluate or args.checkpoint_path):
            raise CheckpointError(
                "omg_learner needs the pre-trained VAE prior: run stage 2 first "
                "(python -m pymarl_explained.omg_pipeline stage2) and pass vae_path=<its vae.th>.")

    def _extra_loss(self, batch: EpisodeBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The OMG loss of the ego's inference model, scored by the ego's own Q-network."""
        omg_am = self.mac.agents_model[self.mac.main_alg_idx]
        eval_net = self.mac.agents[self.mac.main_alg_idx]
        return omg_am.omg_loss_func(batch, eval_net, self.args.subgoal_mode)
