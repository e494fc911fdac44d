"""What every notebook needs, in one line: ``WORK, log = setup("01_run_py")``.

- :func:`setup`: one torch thread (same numbers on every machine, no fight over 2 cores),
  numpy's print options, a scratch folder for the notebook's runs, the ``pymarl`` console logger.
- :func:`show_source`: print the source of a function, class or module of the package (the
  notebooks show code this way, whole, never a slice of its text).
- :func:`save_fig` and :func:`figures_dir`: where a notebook's figures go. By default a scratch
  folder outside the repository, so running a notebook never changes a tracked file;
  ``make notebooks`` (``notebook_tools execute``) sets ``PYMARL_EXPLAINED_FIGURES`` to the
  repository's ``figures/``, so regenerating the notebooks regenerates the tracked figures.
- :func:`seed_like_my_main` and :func:`build_run`: a run's pieces (config -> args -> runner,
  buffer, controller, learner) built the way ``my_main`` and ``run_sequential`` build them, for
  the notebooks that study one piece and need the others around it.
"""

from __future__ import annotations

import inspect
import logging
import os
import random
import tempfile
import textwrap
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from pymarl_explained.notebook_tools import FIGURES_ENV

NOTEBOOK_DEFAULTS: dict[str, Any] = {
    "env_args.map_name": "MarineMicro_MvsM_4",
    "env_args.backend": "builtin",  # the same output with or without StarCraft II installed
    "use_cuda": False,
    "progress_bar": False,
}
"""Overrides every notebook run starts from: the documents' map, the built-in simulator, CPU."""


def setup(name: str, threads: int = 1) -> tuple[Path, logging.Logger]:
    """Prepare a notebook's kernel; return ``(scratch folder, the "pymarl" console logger)``.

    The scratch folder (``<tmp>/pymarl_<name>_*``) takes the notebook's results folders and
    checkpoints, so nothing is written inside the repository.
    """
    from pymarl_explained.utils.logging import get_logger

    torch.set_num_threads(threads)
    np.set_printoptions(precision=3, suppress=True, linewidth=110)
    work = Path(tempfile.mkdtemp(prefix=f"pymarl_{name}_"))
    return work, get_logger()


def show_source(obj: Any) -> None:
    """Print the source of ``obj`` (a function, method, class or module), dedented."""
    print(textwrap.dedent(inspect.getsource(obj)).rstrip("\n"))


def figures_dir() -> Path:
    """The folder figures are written to: ``$PYMARL_EXPLAINED_FIGURES`` when set (``make
    notebooks`` sets it to the repository's ``figures/``), else ``<tmp>/pymarl_explained_figures``."""
    folder = os.environ.get(FIGURES_ENV) or os.path.join(tempfile.gettempdir(), "pymarl_explained_figures")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_fig(fig, name: str) -> Path:
    """Save ``fig`` as ``name`` in :func:`figures_dir` (reproducible PNG); return the path."""
    from pymarl_explained.plotting import save_figure

    if Path(name).name != name:
        raise ValueError(f"save_fig takes a file name, not a path: {name!r}")
    return save_figure(fig, figures_dir() / name)


def seed_like_my_main(config: dict) -> dict:
    """Seed python, numpy and torch with ``config["seed"]`` and copy it into ``env_args``, as
    ``main.my_main`` does before calling ``run()``. Returns ``config``."""
    seed = config["seed"]
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    config["env_args"]["seed"] = seed
    return config


def build_run(alg: str = "qmix", overrides: dict[str, Any] | None = None, seed: int = 0,
              log_name: str = "notebook") -> SimpleNamespace:
    """The pieces of a run, built as ``my_main`` -> ``run`` -> ``run_sequential`` build them.

    ``load_config(alg, "sc2", NOTEBOOK_DEFAULTS | overrides)``, seeded like ``my_main``, checked by
    ``args_sanity_check``, then :func:`pymarl_explained.run.build_components`. Returns a namespace
    with ``config``, ``args``, ``logger``, ``runner``, ``buffer``, ``learner``, ``mac`` and
    ``env_info``. The console logger of the pieces is ``logging.getLogger(log_name)`` at WARNING.
    """
    from pymarl_explained import load_config
    from pymarl_explained.run import args_sanity_check, build_components
    from pymarl_explained.utils.logging import Logger

    console = logging.getLogger(log_name)
    console.setLevel(logging.WARNING)
    config = load_config(alg, "sc2", {**NOTEBOOK_DEFAULTS, "seed": seed, **(overrides or {})})
    seed_like_my_main(config)
    config = args_sanity_check(config, console)
    args = SimpleNamespace(**config)
    args.device = "cpu"
    logger = Logger(console)
    runner, buffer, learner = build_components(args, logger)
    return SimpleNamespace(config=config, args=args, logger=logger, runner=runner, buffer=buffer,
                           learner=learner, mac=learner.mac, env_info=runner.get_env_info())
