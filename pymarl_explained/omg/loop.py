"""The OMG fork's training loop, as a variant of PyMARL's (``run: omg``; reconstruction).

The OMG batch-sizing notes quote the fork's ``run_sequential``. Compared with PyMARL's loop it
changes only two things, and this class supplies only those; testing, saving and logging are
the core loop's (:mod:`pymarl_explained.run`):

1. **Scaling** (:meth:`OMGTrainingLoop.prepare`): for the learners ``q_learner_4am`` and
   ``omg_learner``, ``t_max`` and ``batch_size`` are multiplied by ``n_agents`` before anything
   is built (8m: 32 * 8 = 256 episodes per sample). The buffer is still created with
   ``buffer_size`` episodes, which must be at least the scaled batch size.
2. **Collection** (:meth:`OMGTrainingLoop.collect`): each iteration plays ``n_agents`` single
   episodes (the EpisodeRunner, ``batch_size_run`` stays 1) and inserts each, recording the
   episode's ``agent_shift`` in ``agent_idx``. The learner then trains once on 256 sampled
   episodes, which it regroups into 32 pseudo-episodes (``_refine_batch``).

What the scaling does to the clocks (checked in the tests): per gradient step the loop now adds
``n_agents`` episodes and ``n_agents`` times the env steps of a plain run, so the number of
gradient steps up to the scaled ``t_max`` stays that of a plain run, while everything counted in
episodes or env steps advances ``n_agents`` times faster per gradient step: the target network
(``target_update_interval`` counts episodes) is updated ``n_agents`` times as often per gradient
step, and epsilon's annealing, the test, log and save intervals (all on ``t_env``) come
``n_agents`` times sooner in gradient steps.
"""

from __future__ import annotations

import torch

from pymarl_explained.omg.multi_algs import OMG_LEARNERS, check_omg_buffer, omg_preflight
from pymarl_explained.run import TrainingLoop


class OMGTrainingLoop(TrainingLoop):
    """PyMARL's loop with the OMG fork's scaling and collection (see the module docstring)."""

    def prepare(self, args) -> None:
        """Composite-config checks (``n_agents`` from the map), then the fork's scaling."""
        omg_preflight(args)
        if args.learner in OMG_LEARNERS:  # ["q_learner_4am", "omg_learner"]
            args.t_max *= args.n_agents
            args.batch_size *= args.n_agents
            check_omg_buffer(args)

    def extend_scheme(self, scheme: dict, args) -> None:
        """``agent_idx``: the agent_shift an episode was played with (constant over the episode)."""
        if getattr(args, "multi_algs", False):
            scheme["agent_idx"] = {"vshape": (1,), "dtype": torch.long, "episode_const": True}

    def collect(self, args, runner, buffer) -> int:
        """``n_agents`` single episodes per iteration for the OMG learners (1 otherwise), each inserted."""
        batch_runs = args.n_agents if args.learner in OMG_LEARNERS else 1
        for _ in range(batch_runs):
            episode_batch = runner.run(test_mode=False)
            if getattr(args, "agent_shift", 0):
                episode_batch.update({"agent_idx": [args.agent_shift]}, ts=0)
            buffer.insert_episode_batch(episode_batch)
        return runner.batch_size * batch_runs
