"""Shared test doubles: a recording logger, a table-driven controller, PyMARL's scheme, empty batches.

Import them in a test module with ``from conftest import ...`` (pytest puts ``tests/`` on the path).
"""

from __future__ import annotations

from types import SimpleNamespace
from types import SimpleNamespace as SN

import pytest
import torch

from pymarl_explained import load_config
from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.omg.controller import MultiModuleMAC
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


# ---------------------------------------------------------------------------- the OMG plug-in
# MarineMicro_MvsM_4's sizes (README table): 4 agents, 10 actions, obs 40, state 68, limit 60
OMG_ENV_INFO = {"n_agents": 4, "n_actions": 10, "obs_shape": 40, "state_shape": 68, "episode_limit": 60}
OMG_N, OMG_A, OMG_OBS, OMG_STATE = N, A, OBS, STATE = 4, 10, 40, 68


class NullLogger:
    """A logger that drops everything."""

    def log_stat(self, *args, **kwargs):
        pass


def omg_make_args(alg: str = "2iql1qmix1iql_omg", **overrides) -> SN:
    config = load_config(alg, "sc2", {"env_args.backend": "builtin", "use_cuda": False, **overrides})
    args = SN(**config)
    args.n_agents, args.n_actions = N, A
    args.obs_shape, args.state_shape = OBS, STATE
    args.device = "cpu"
    return args


def omg_make_scheme():
    scheme, groups, preprocess = build_scheme(OMG_ENV_INFO)
    scheme["agent_idx"] = {"vshape": (1,), "dtype": torch.long, "episode_const": True}
    return scheme, groups, preprocess


def omg_fake_batch(n_episodes: int, T: int = 12, seed: int = 0, shift: int = 0) -> EpisodeBatch:
    """``n_episodes`` random episodes of different lengths (the first is T steps long)."""
    g = torch.Generator().manual_seed(seed)
    scheme, groups, preprocess = omg_make_scheme()
    batch = EpisodeBatch(scheme, groups, n_episodes, T, preprocess=preprocess)
    for e in range(n_episodes):
        length = T if e == 0 else int(torch.randint(4, T + 1, (1,), generator=g))
        avail = torch.ones(length, N, A, dtype=torch.int)
        batch.update({
            "obs": torch.rand(length, N, OBS, generator=g),
            "state": torch.rand(length, STATE, generator=g),
            "avail_actions": avail,
            "actions": torch.randint(0, A, (length, N, 1), generator=g),
            "reward": torch.rand(length, 1, generator=g),
            "terminated": torch.zeros(length, 1, dtype=torch.uint8),
        }, bs=e, ts=slice(0, length))
        batch.update({"agent_idx": [shift]}, bs=e)
    return batch


@pytest.fixture
def omg_mac():
    """A MultiModuleMAC of the 2iql1qmix1iql_omg composite on MarineMicro_MvsM_4's sizes, teammates untrained."""
    torch.manual_seed(0)
    scheme, groups, preprocess = omg_make_scheme()
    args = omg_make_args()
    mac = MultiModuleMAC(EpisodeBatch(scheme, groups, 1, 2, preprocess=preprocess).scheme, groups, args,
                         load_teammates=False)
    return mac, args


