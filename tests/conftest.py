"""Shared test doubles: a recording logger, a table-driven controller, PyMARL's scheme, empty batches.

Import them in a test module with ``from conftest import ...`` (pytest puts ``tests/`` on the path).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.run import build_scheme


class RecordingLogger:
    """A Logger stand-in: ``stats`` lists every ``(key, value, t_env)`` logged, ``infos`` the console lines."""

    def __init__(self):
        self.stats: list[tuple[str, float, int]] = []
        self.infos: list[str] = []
        self.console_logger = SimpleNamespace(info=self.infos.append, warning=self.infos.append)

    def log_stat(self, key, value, t, to_sacred=True):
        self.stats.append((key, value, t))

    def logged(self, key: str) -> list[tuple[float, int]]:
        """``[(value, t_env), ...]`` of one stat."""
        return [(v, t) for k, v, t in self.stats if k == key]


class TableMAC:
    """A stub controller whose Q-values are ``scale * table[b, t]`` (one learnable scalar)."""

    def __init__(self, table: torch.Tensor):
        self.table = table
        self.scale = torch.nn.Parameter(torch.tensor(1.0))

    def parameters(self):
        return [self.scale]

    def init_hidden(self, batch_size):
        pass

    def forward(self, batch, t, test_mode=False):
        return self.scale * self.table[:, t]

    def forward_sequence(self, batch, test_mode=False, return_hidden=False, per_step=False):
        if per_step:
            return torch.stack([self.forward(batch, t) for t in range(batch.max_seq_length)], dim=1)
        return self.scale * self.table

    def load_state(self, other):
        self.table = other.table.clone()
        with torch.no_grad():
            self.scale.copy_(other.scale)


def make_scheme(n_agents: int, n_actions: int, state_shape: int = 5, obs_shape: int = 4):
    """PyMARL's ``(scheme, groups, preprocess)`` (run.build_scheme) for the given sizes."""
    return build_scheme({"n_agents": n_agents, "n_actions": n_actions, "state_shape": state_shape,
                         "obs_shape": obs_shape})


def empty_batch(batch_size: int, T: int, n_agents: int, n_actions: int, state_shape: int = 5,
                obs_shape: int = 4) -> EpisodeBatch:
    """An EpisodeBatch of PyMARL's scheme, all zeros (nothing filled)."""
    scheme, groups, preprocess = make_scheme(n_agents, n_actions, state_shape, obs_shape)
    return EpisodeBatch(scheme, groups, batch_size, T, preprocess=preprocess)


@pytest.fixture
def one_torch_thread():
    """Run the test with one torch thread (exact sums do not depend on the thread count then)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
