"""Runner registry: ``runner: episode`` (one env) or ``runner: parallel`` (batch_size_run envs)."""

from pymarl_explained.runners.episode_runner import EpisodeRunner
from pymarl_explained.runners.parallel_runner import ParallelRunner
from pymarl_explained.utils.registry import Registry

REGISTRY = Registry("runner", {
    "episode": EpisodeRunner,
    "parallel": ParallelRunner,
})
