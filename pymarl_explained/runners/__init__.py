"""Runner registry: ``runner: episode`` (one env) or ``runner: parallel`` (batch_size_run envs)."""

from pymarl_explained.runners.episode_runner import EpisodeRunner
from pymarl_explained.runners.parallel_runner import ParallelRunner

REGISTRY = {
    "episode": EpisodeRunner,
    "parallel": ParallelRunner,
}
