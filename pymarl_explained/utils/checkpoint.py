"""Checkpoints: where they are written, which one is loaded, and loading with a clear error.

A run with ``save_model=True`` writes ``<local_results_path>/models/<token>/<t_env>/`` folders
(PyMARL's layout); ``checkpoint_path=<that token folder>`` loads the latest one, or the one
closest to ``load_step``.

PyMARL defects fixed: a missing ``checkpoint_path`` made ``run_sequential`` log an error and
return (the run "succeeded" without training); files were written in place, so a run killed
while saving left a truncated ``agent.th``; a checkpoint of another model failed deep inside
``load_state_dict``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from typing import Any

import torch

from pymarl_explained.errors import CheckpointError
from pymarl_explained.utils.atomic import atomic_write_text
from pymarl_explained.utils.interrupts import interrupts_deferred
from pymarl_explained.utils.logging import get_logger

#: What a checkpoint records about the run that saved it (``checkpoint.json``): the keys that decide
#: which networks and files a learner has, so a mismatch is reported before anything is built.
SIGNATURE_KEYS = ("name", "learner", "mac", "agent", "mixer", "rnn_hidden_dim", "obs_last_action", "obs_agent_id")
METADATA_FILE = "checkpoint.json"



def find_checkpoint(checkpoint_path: str, load_step: int) -> tuple[int, str]:
    """The ``<checkpoint_path>/<t_env>/`` folder to load: the latest when ``load_step`` is 0,
    else the one closest to ``load_step``. Returns ``(t_env, folder)``."""
    if not os.path.isdir(checkpoint_path):
        raise CheckpointError(
            f"checkpoint_path {checkpoint_path!r} is not a directory. It should be a "
            "results/models/<token> folder written by a run with save_model=True."
        )
    remove_partial_saves(checkpoint_path)
    timesteps = [int(name) for name in os.listdir(checkpoint_path)
                 if name.isdigit() and os.path.isdir(os.path.join(checkpoint_path, name))]
    if not timesteps:
        raise CheckpointError(f"No <t_env> sub-folders with saved models in {checkpoint_path!r}.")
    if load_step == 0:
        timestep_to_load = max(timesteps)
    else:
        timestep_to_load = min(timesteps, key=lambda x: abs(x - load_step))  # the closest
    return timestep_to_load, os.path.join(checkpoint_path, str(timestep_to_load))


def save_checkpoint(args, learner, t_env: int, logger) -> str:
    """Save the learner's models into ``<local_results_path>/models/<token>/<t_env>/``.

    The files are written into a temporary sibling folder that is renamed into place at the end,
    so a run killed while saving never leaves a half-written ``<t_env>`` folder for
    :func:`find_checkpoint` to pick. Ctrl-C and SIGTERM during the save take effect once it is
    complete (:func:`~pymarl_explained.utils.interrupts.interrupts_deferred`), so the checkpoint of
    the t_env where a run stops is written.
    """
    save_path = os.path.join(args.local_results_path, "models", args.unique_token, str(t_env))
    logger.console_logger.info(f"Saving models to {save_path}")
    tmp_path = save_path + ".partial"
    with interrupts_deferred():
        shutil.rmtree(tmp_path, ignore_errors=True)
        os.makedirs(tmp_path)
        learner.save_models(tmp_path)
        signature = {key: getattr(args, key, None) for key in SIGNATURE_KEYS}
        atomic_write_text(os.path.join(tmp_path, METADATA_FILE),
                          json.dumps({**signature, "t_env": int(t_env)}, indent=1))
        if os.path.isdir(save_path):
            shutil.rmtree(save_path)
        os.replace(tmp_path, save_path)
    return save_path


def load_state_dict_checked(module: torch.nn.Module | torch.optim.Optimizer, path: str | os.PathLike) -> None:
    """Load ``path`` (mapped onto the CPU) into ``module``; a missing file or a mismatching
    checkpoint is a CheckpointError naming the file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"Checkpoint file {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    try:
        module.load_state_dict(state)
    except (RuntimeError, ValueError, KeyError) as error:
        raise CheckpointError(f"Checkpoint {path} does not match the model: {error}") from error


def remove_partial_saves(checkpoint_path: str) -> list[str]:
    """Delete ``<t_env>.partial`` folders that a run killed while saving left behind; returns them."""
    removed = []
    for name in sorted(os.listdir(checkpoint_path)):
        path = os.path.join(checkpoint_path, name)
        if name.endswith(".partial") and name[: -len(".partial")].isdigit() and os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
            get_logger().warning(f"Removed {path}: an incomplete checkpoint left by a run killed while saving")
    return removed


def check_checkpoint_matches(config: Mapping[str, Any], folder: str) -> None:
    """A ConfigError when ``folder``'s ``checkpoint.json`` was written by another algorithm setup
    (learner, controller, agent, mixer or network sizes differ from ``config``). Checkpoints
    written before this file existed are not checked here (loading them checks each tensor)."""
    path = os.path.join(folder, METADATA_FILE)
    if not os.path.isfile(path):
        return
    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    differ = {key: (saved[key], config.get(key)) for key in SIGNATURE_KEYS
              if key != "name" and key in saved and saved[key] != config.get(key)}
    if differ:
        detail = ", ".join(f"{key} {old!r} (this run: {new!r})" for key, (old, new) in differ.items())
        raise CheckpointError(
            f"The checkpoint {folder} was saved by a {saved.get('name')!r} run and cannot be loaded into this "
            f"{config.get('name')!r} run: {detail}. Load it with --config={saved.get('name')}, or pick a checkpoint "
            "of this algorithm.")
