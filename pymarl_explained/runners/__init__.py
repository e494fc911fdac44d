"""Runner registry: ``runner: episode`` (one env), ``runner: parallel`` (batch_size_run envs) or
``runner: pipelined`` (one env in a worker process, one training episode ahead of the learner)."""

from pymarl_explained.runners.episode_runner import EpisodeRunner
from pymarl_explained.runners.parallel_runner import ParallelRunner
from pymarl_explained.runners.pipelined_runner import PipelinedRunner
from pymarl_explained.utils.registry import Registry

REGISTRY = Registry("runner", {
    "episode": EpisodeRunner,
    "parallel": ParallelRunner,
    "pipelined": PipelinedRunner,
})
