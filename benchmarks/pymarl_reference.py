"""PyMARL's own learner, imported from a PyMARL checkout, for side-by-side timing.

``bench_train.py --pymarl-src DIR`` (``DIR`` is the ``src`` folder of an oxwhirl/pymarl checkout)
builds PyMARL's ``BasicMAC`` and ``QLearner`` (or ``QTranLearner``) with the same config, gives them
the same weights as ours, and copies the same batch into PyMARL's own ``EpisodeBatch``. Nothing of
PyMARL is vendored here: its modules are imported from ``DIR`` (they need only torch and numpy).
"""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from types import SimpleNamespace


class RecordingLogger:
    """What PyMARL's learner logs (``log_stat``), kept for comparing the loss with ours."""

    def __init__(self) -> None:
        import logging

        self.console_logger = logging.getLogger("pymarl_reference")
        self.stats: dict[str, float] = {}

    def log_stat(self, key: str, value, t: int) -> None:
        self.stats[key] = float(value)


def import_pymarl(src: str | Path) -> dict:
    """PyMARL's registries and EpisodeBatch, imported from its ``src`` folder."""
    src = Path(src).resolve()
    if not (src / "learners" / "q_learner.py").is_file():
        raise SystemExit(f"--pymarl-src {src}: not PyMARL's src folder (no learners/q_learner.py)")
    sys.path.insert(0, str(src))
    try:
        modules = {name: importlib.import_module(name) for name in
                   ("components.episode_buffer", "components.transforms", "controllers", "learners")}
    finally:
        sys.path.remove(str(src))
    return {"EpisodeBatch": modules["components.episode_buffer"].EpisodeBatch,
            "OneHot": modules["components.transforms"].OneHot,
            "mac_REGISTRY": modules["controllers"].REGISTRY,
            "le_REGISTRY": modules["learners"].REGISTRY}


def pymarl_learner_like(ours, args: SimpleNamespace, scheme: dict, groups: dict, pymarl: dict):
    """PyMARL's learner for ``args``, with the weights of our learner ``ours``."""
    p_args = copy.copy(args)
    p_args.learner_log_interval = 0  # log every call, so the loss can be compared
    probe_scheme = copy.deepcopy(scheme)
    one_hot = {"actions": ("actions_onehot", [pymarl["OneHot"](out_dim=args.n_actions)])}
    probe = pymarl["EpisodeBatch"](probe_scheme, groups, 1, 2, preprocess=one_hot)
    mac = pymarl["mac_REGISTRY"][args.mac](probe.scheme, groups, p_args)
    learner = pymarl["le_REGISTRY"][args.learner](mac, probe.scheme, RecordingLogger(), p_args)
    mac.agent.load_state_dict(ours.mac.agent.state_dict())
    learner.target_mac.agent.load_state_dict(ours.target_mac.agent.state_dict())
    if getattr(learner, "mixer", None) is not None:
        learner.mixer.load_state_dict(ours.mixer.state_dict())
        learner.target_mixer.load_state_dict(ours.target_mixer.state_dict())
    learner.log_stats_t = -1
    return learner


def pymarl_batch_like(batch, scheme: dict, groups: dict, n_actions: int, pymarl: dict):
    """The same episodes in PyMARL's own EpisodeBatch (the tensors copied field by field)."""
    out = pymarl["EpisodeBatch"](copy.deepcopy(scheme), groups, batch.batch_size, batch.max_seq_length,
                                 preprocess={"actions": ("actions_onehot", [pymarl["OneHot"](out_dim=n_actions)])})
    for key, value in batch.data.transition_data.items():
        out.data.transition_data[key] = value.clone()
    for key, value in batch.data.episode_data.items():
        out.data.episode_data[key] = value.clone()
    return out


__all__ = ["RecordingLogger", "import_pymarl", "pymarl_batch_like", "pymarl_learner_like"]
