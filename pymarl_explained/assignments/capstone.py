"""The capstone: a real QMIX training run with a student's components plugged into the registries.

PyMARL builds everything by name from the config, through registries: the controller takes its
action selector from ``components.action_selectors.REGISTRY[args.action_selector]``, the run its
learner from ``learners.REGISTRY[args.learner]``, and the learner its mixer by ``args.mixer``
(here ``modules.mixers.REGISTRY``). :func:`register_components` adds the student's classes and
functions under new names, in this process, so that ``train(load_config(...))`` (the same path
as the command line) uses them:

- the selector class as ``action_selector: student_epsilon_greedy``;
- the mixer class as ``mixer: student_qmix``;
- a subclass of :class:`CapstoneQLearner` holding the student's ``double_q_bootstrap`` and
  ``td_loss`` as ``learner: student_q_learner``.

:func:`run_capstone` trains QMIX on MarineMicro_MvsM_4 at a *scale* (``ci``: 2000 env steps, about
10 s on an idle core; ``default``: 5000 env steps, about 30 s) and scores the run by the mean greedy
test return over the test phases of its second half. The bar of each scale was calibrated on 10
seeds of the reference solution (:mod:`.calibrate`, ``data/capstone_calibration.json``).
"""

from __future__ import annotations

import copy
import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import torch

from pymarl_explained.components.episode_buffer import EpisodeBatch
from pymarl_explained.learners.learner_utils import agent_outputs, log_stats_when_due, optimiser_step, target_update_due
from pymarl_explained.learners.q_learner import QLearner

MAP_NAME = "MarineMicro_MvsM_4"
METRIC = "test_return_mean"
CALIBRATION_FILE = "capstone_calibration.json"

#: Training settings of each scale (over qmix.yaml on MarineMicro_MvsM_4, built-in simulator).
SCALES: dict[str, dict[str, Any]] = {
    "ci": {"t_max": 2000, "epsilon_anneal_time": 500, "batch_size": 8, "buffer_size": 200, "test_interval": 400,
           "test_nepisode": 8, "target_update_interval": 50},
    "default": {"t_max": 5000, "epsilon_anneal_time": 1500, "batch_size": 16, "buffer_size": 500,
                "test_interval": 1000, "test_nepisode": 16, "target_update_interval": 100},
}

SELECTOR_NAME = "student_epsilon_greedy"
MIXER_NAME = "student_qmix"
LEARNER_NAME = "student_q_learner"


class CapstoneQLearner(QLearner):
    """QLearner with the TD target and loss computed by pluggable functions.

    ``bootstrap_fn(mac_out, target_mac_out, avail_actions)`` returns the per-agent bootstrap values
    of steps 1..T-1 and ``loss_fn(rewards, terminated, filled, chosen_qtot, target_qtot, gamma)``
    the masked TD loss (the signatures of the td_loss assignment). The mixer is looked up by
    ``args.mixer`` in ``modules.mixers.REGISTRY`` (a class built with ``args``; VDNMixer without).
    Everything else (optimiser, gradient clipping, target updates, stats) is QLearner's.
    """

    bootstrap_fn: Callable[..., torch.Tensor]
    loss_fn: Callable[..., torch.Tensor]

    def __init__(self, mac, scheme: dict, logger, args):
        from pymarl_explained.modules.mixers import REGISTRY as mixer_REGISTRY
        from pymarl_explained.modules.mixers.vdn import VDNMixer

        mixer_name = args.mixer
        args.mixer = None  # QLearner builds no mixer; ours comes from the registry
        try:
            super().__init__(mac, scheme, logger, args)
        finally:
            args.mixer = mixer_name
        if mixer_name is not None:
            if mixer_name not in mixer_REGISTRY:
                from pymarl_explained.errors import ConfigError

                raise ConfigError(f"Mixer {mixer_name!r} is not registered; registered: {sorted(mixer_REGISTRY)}")
            mixer_cls = mixer_REGISTRY[mixer_name]
            self.mixer = VDNMixer() if mixer_cls is VDNMixer else mixer_cls(args)
            self.target_mixer = copy.deepcopy(self.mixer)
            self.params += list(self.mixer.parameters())
            self.optimiser = type(self.optimiser)(params=self.params, lr=args.lr, alpha=args.optim_alpha,
                                                  eps=args.optim_eps)

    def train(self, batch: EpisodeBatch, t_env: int, episode_num: int) -> dict[str, float]:
        """One gradient step, as QLearner.train, with the pluggable bootstrap and loss."""
        actions = batch["actions"][:, :-1]
        mac_out = agent_outputs(self.mac, batch, self.args)
        chosen = torch.gather(mac_out[:, :-1], dim=3, index=actions).squeeze(3)
        with torch.no_grad():
            target_mac_out = agent_outputs(self.target_mac, batch, self.args)
        target_next = type(self).bootstrap_fn(mac_out.detach(), target_mac_out, batch["avail_actions"])
        if self.mixer is not None:
            chosen = self.mixer(chosen, batch["state"][:, :-1])
            with torch.no_grad():
                target_next = self.target_mixer(target_next, batch["state"][:, 1:])
        loss = type(self).loss_fn(batch["reward"], batch["terminated"], batch["filled"], chosen, target_next,
                                  self.args.gamma)

        grad_norm = optimiser_step(self.optimiser, loss, self.params, self.args.grad_norm_clip)
        if target_update_due(episode_num, self.last_target_update_episode, self.args.target_update_interval):
            self._update_targets()
            self.last_target_update_episode = episode_num
        stats = {"loss": float(loss.item()), "grad_norm": grad_norm,
                 "q_taken_mean": float(chosen.detach().mean()), "target_mean": float(target_next.mean())}
        log_stats_when_due(self, stats, t_env)
        return stats


def register_components(selector_cls: type | None = None, mixer_cls: type | None = None,
                        bootstrap_fn: Callable | None = None, loss_fn: Callable | None = None) -> dict[str, str]:
    """Register the student's components; returns the config overrides that select them.

    Components left as None keep the package's (``epsilon_greedy``, ``qmix``, ``q_learner``).
    """
    from pymarl_explained.components.action_selectors import REGISTRY as selector_REGISTRY
    from pymarl_explained.learners import REGISTRY as learner_REGISTRY
    from pymarl_explained.modules.mixers import REGISTRY as mixer_REGISTRY

    overrides = {}
    if selector_cls is not None:
        selector_REGISTRY[SELECTOR_NAME] = selector_cls
        overrides["action_selector"] = SELECTOR_NAME
    if mixer_cls is not None:
        mixer_REGISTRY[MIXER_NAME] = mixer_cls
        overrides["mixer"] = MIXER_NAME
    if bootstrap_fn is not None or loss_fn is not None:
        learner = type("StudentQLearner", (CapstoneQLearner,), {
            "bootstrap_fn": staticmethod(bootstrap_fn or _reference_bootstrap),
            "loss_fn": staticmethod(loss_fn or _reference_loss),
        })
        learner_REGISTRY[LEARNER_NAME] = learner
        overrides["learner"] = LEARNER_NAME
        overrides.setdefault("mixer", "qmix")
    return overrides


def _reference_bootstrap(mac_out, target_mac_out, avail_actions):
    from pymarl_explained.utils.rl_utils import bootstrap_qvals

    return bootstrap_qvals(mac_out, target_mac_out, avail_actions, double_q=True)


def _reference_loss(rewards, terminated, filled, chosen, target, gamma):
    rewards, term = rewards[:, :-1], terminated[:, :-1].float()
    mask = filled[:, :-1].float()
    mask[:, 1:] = mask[:, 1:] * (1 - term[:, :-1])
    td = chosen - (rewards + gamma * (1 - term) * target).detach()
    return ((td * mask) ** 2).sum() / mask.sum()


@dataclass
class CapstoneRun:
    """A capstone training run: its seed, scale, score and curves."""

    scale: str
    seed: int
    score: float
    metrics: dict[str, tuple[np.ndarray, np.ndarray]]
    t_env: int
    seconds: float


def capstone_config(scale: str, seed: int, components: dict[str, str], results_dir: str) -> dict[str, Any]:
    """The run's config: qmix.yaml on MarineMicro_MvsM_4 with the scale's settings and the components."""
    from pymarl_explained import load_config

    if scale not in SCALES:
        raise ValueError(f"unknown capstone scale {scale!r}; valid: {sorted(SCALES)}")
    settings = SCALES[scale]
    log_every = settings["test_interval"]
    overrides = {"env_args.map_name": MAP_NAME, "env_args.backend": "builtin", "seed": seed, "use_cuda": False,
                 "progress_bar": False, "local_results_path": results_dir, "log_interval": log_every,
                 "runner_log_interval": log_every, "learner_log_interval": log_every, "torch_threads": 1,
                 **settings, **components}
    return load_config("qmix", "sc2", overrides)


def score(metrics: dict[str, tuple[np.ndarray, np.ndarray]], t_max: int) -> float:
    """Mean greedy test return over the test phases at t_env >= t_max / 2."""
    t, values = metrics[METRIC]
    t, values = np.asarray(t), np.asarray(values, dtype=float)
    late = values[t >= t_max / 2]
    return float(late.mean()) if late.size else float("nan")


def run_capstone(components: dict[str, str], scale: str = "ci", seed: int = 1, results_dir: str | None = None,
                 quiet: bool = True) -> CapstoneRun:
    """Train with ``components`` (from :func:`register_components`) at ``scale``; returns the scored run."""
    import time

    from pymarl_explained import train

    tmp = None
    if results_dir is None:
        tmp = tempfile.mkdtemp(prefix="pymarl_capstone_")
        results_dir = tmp
    level = logging.getLogger("pymarl").level
    if quiet:
        logging.getLogger("pymarl").setLevel(logging.ERROR)
    start = time.perf_counter()
    try:
        result = train(capstone_config(scale, seed, components, results_dir))
        metrics = result.metrics
    finally:
        logging.getLogger("pymarl").setLevel(level)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return CapstoneRun(scale, seed, score(metrics, SCALES[scale]["t_max"]), metrics, result.t_env,
                       time.perf_counter() - start)


def load_calibration() -> dict[str, Any]:
    """The stored calibration (``data/capstone_calibration.json``, written by :mod:`.calibrate`)."""
    import json

    path = resources.files("pymarl_explained.assignments").joinpath("data", CALIBRATION_FILE)
    return json.loads(path.read_text())


def bar(scale: str) -> float:
    """The score a run at ``scale`` must reach (calibrated on 10 seeds of the reference)."""
    return float(load_calibration()["scales"][scale]["bar"])


#: The last capstone run of this process (the notebook plots it after the check cell).
LAST_RUN: dict[str, CapstoneRun] = {}
