"""The command line and the notebook API: a merged config handed to a sacred Experiment.

PyMARL's command line, verbatim::

    python -m pymarl_explained --config=qmix --env-config=sc2 with env_args.map_name=MarineMicro_MvsM_4 t_max=2050000

1. ``_get_config(params, "--env-config")`` and ``_get_config(params, "--config")`` pull the two
   config names out of ``argv`` (``sc2`` and ``qmix``).
2. ``_get_other_config(params)`` turns the remaining ``--key=value`` arguments into config
   entries (``--seed=123`` -> ``{"seed": 123}``, ``--debug`` -> ``True``): the extra syntax of
   the forked main.py that the package layout notes describe.
3. :func:`~pymarl_explained.utils.config_utils.load_config` merges default.yaml, the env file and
   the algorithm file, in that order, by a recursive dict update, and applies those extras and
   sacred's ``with key=value`` overrides on top (``with`` wins). Every override is checked first:
   an unknown key or a wrong type stops here, with a clear message.
4. A sacred ``Experiment`` gets the merged dict as its config and a ``FileStorageObserver`` under
   ``results/sacred``; ``ex.run_commandline(params)`` starts the run, and sacred calls
   ``my_main``, which seeds python, numpy, torch and the env and calls :func:`run.run`.

Notebooks use :func:`load_config` and :func:`train`, which take the same path without argv.
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch as th

warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)
from sacred import SETTINGS, Experiment  # noqa: E402
from sacred.observers import FileStorageObserver  # noqa: E402
from sacred.utils import SacredError, apply_backspaces_and_linefeeds  # noqa: E402

from pymarl_explained.errors import ConfigError, PymarlError  # noqa: E402
from pymarl_explained.run import run  # noqa: E402
from pymarl_explained.utils.allocator import keep_freed_memory  # noqa: E402
from pymarl_explained.utils.checkpoint import check_checkpoint_matches, find_checkpoint  # noqa: E402
from pymarl_explained.utils.config_checks import check_values  # noqa: E402
from pymarl_explained.utils.config_utils import (  # noqa: E402
    apply_overrides,
    config_copy,
    get_by_dotted_key,
    load_config,
    parse_value,
)
from pymarl_explained.utils.interrupts import interrupt_exit_status, interrupt_name, sigterm_as_interrupt  # noqa: E402
from pymarl_explained.utils.logging import get_logger, read_metrics  # noqa: E402

# PyMARL captures the output at the file-descriptor level ("fd"); "sys" also works in Jupyter.
SETTINGS["CAPTURE_MODE"] = "sys"
SETTINGS.CONFIG.READ_ONLY_CONFIG = False


class RunFailed(SacredError):
    """A PymarlError raised inside a sacred run: sacred prints the message without a traceback."""

    def __init__(self, message: str):
        super().__init__(message, print_traceback=False)


def my_main(_run, _config, _log) -> dict[str, Any]:
    """Sacred's main function: seed everything from the config, then :func:`run.run`."""
    # one seed for python, numpy, torch and the env
    config = config_copy(_config)
    random.seed(config["seed"])
    np.random.seed(config["seed"] % 2**32)
    th.manual_seed(config["seed"])
    config["env_args"]["seed"] = config["seed"]
    if config.get("torch_threads"):
        th.set_num_threads(config["torch_threads"])
    keep_freed_memory()  # the train step reuses its buffers instead of faulting fresh pages in

    try:
        with sigterm_as_interrupt():
            return run(_run, config, _log)
    except PymarlError as e:
        raise RunFailed(f"{type(e).__name__}: {e}") from e
    except KeyboardInterrupt:
        _save_captured_output(_run)  # sacred writes cout.txt only at heartbeats and at the end
        raise


def _save_captured_output(_run) -> None:
    """Hand sacred's observers the output captured so far (an interrupted run skips the final save)."""
    if _run is None:
        return
    try:
        _run._get_captured_output()
        _run._emit_heartbeat()
    except Exception as error:  # an observer problem must not hide the interrupt
        get_logger().debug(f"Could not save the captured output: {error}")


def build_experiment(config: dict, results_path: str | None = None) -> Experiment:
    """A sacred Experiment named "pymarl" holding ``config``, observed under ``<results>/sacred``."""
    ex = Experiment("pymarl", interactive=True, save_git_info=False)
    ex.logger = get_logger()
    ex.captured_out_filter = apply_backspaces_and_linefeeds
    ex.add_config(config)
    results_path = results_path or config.get("local_results_path", "results")
    file_obs_path = os.path.join(results_path, "sacred")
    ex.observers.append(FileStorageObserver(file_obs_path))
    ex.main(my_main)
    return ex


def _get_config(params: list[str], arg_name: str) -> str:
    """Find ``--config=<name>`` (or ``--env-config``) in ``params``, remove it, return the name."""
    for _i, _v in enumerate(params):
        if _v == arg_name:
            raise ConfigError(f"Write {arg_name}=NAME, with '=' (e.g. {arg_name}="
                              f"{'qmix' if arg_name == '--config' else 'sc2'}): PyMARL's command line takes no "
                              "space there.")
        if _v.split("=")[0] == arg_name:
            del params[_i]
            return _v.split("=", 1)[1]
    default = {"--config": "qmix", "--env-config": "sc2"}[arg_name]
    get_logger().debug(f"No {arg_name} given: using {default!r}")
    return default


def _get_other_config(params: list[str]) -> dict[str, Any]:
    """Every ``--key=value`` / ``--flag`` before ``with`` as a config entry (the forked main.py's extras).

    ``['main.py', '--seed=123', '--debug']`` -> ``{'seed': 123, 'debug': True}``, and both are
    removed from ``params``. Sacred's own options (``--name=...``, ``-F DIR``, ``--unobserved``...)
    are left for sacred. The values are checked with the ``with`` overrides, by ``load_config``.
    """
    sacred_options = {"--name", "--comment", "--file_storage", "--unobserved", "--force", "--loglevel",
                      "--print-config", "--pdb", "--capture", "--id", "--priority", "--enforce_clean",
                      "--beat-interval", "--queue", "--help", "--mongo_db", "--sql", "--tiny_db", "--s3"}
    end = params.index("with") if "with" in params else len(params)
    other: dict[str, Any] = {}
    keep = []
    for i, p in enumerate(params):
        key = p[2:].split("=", 1)[0]
        if i < end and p.startswith("--") and p.split("=")[0] not in sacred_options and key:
            other[key.replace("-", "_")] = parse_value(p.split("=", 1)[1]) if "=" in p else True
        else:
            keep.append(p)
    params[:] = keep
    return other


def _with_overrides(params: list[str]) -> dict[str, Any]:
    """The ``key=value`` tokens after ``with`` (sacred's syntax), as ``{dotted key: value}``."""
    if "with" not in params:
        return {}
    updates = {}
    for token in params[params.index("with") + 1:]:
        if "=" in token:
            key, value = token.split("=", 1)
            updates[key.strip()] = parse_value(value)
    return updates


def parse_command_line(argv: list[str]) -> tuple[dict[str, Any], list[str]]:
    """argv -> (merged and checked config, the argv left for sacred)."""
    params = list(argv)
    end = params.index("with") if "with" in params else len(params)
    stray = [token for token in params[1:end] if "=" in token and not token.startswith("-")]
    if stray:
        raise ConfigError(f"{' '.join(stray)}: sacred's overrides come after the word 'with', e.g. "
                          f"python -m pymarl_explained --config=qmix --env-config=sc2 with {' '.join(stray)}")
    env_name = _get_config(params, "--env-config")
    alg_name = _get_config(params, "--config")
    other = _get_other_config(params)
    updates = _with_overrides(params)
    # one builder for the command line and the notebooks; both kinds of override are checked there
    config_dict = load_config(alg_name, env_name, {**other, **updates})
    if updates:  # hand sacred the checked values, so it records them with their right types
        at = params.index("with")
        others = [t for t in params[at + 1:] if "=" not in t]  # named configs and the like
        params = params[: at + 1] + others + [f"{k}={get_by_dotted_key(config_dict, k)!r}" for k in updates]
    return config_dict, params


#: What ``checkpoint_path`` brings back into a training run, and what it cannot (recorded in the
#: run's config under ``resumed_from``).
RESUME_RESTORES = ["agent, mixer and optimiser weights", "t_env (so the epsilon schedule, a function of t_env)"]
RESUME_DOES_NOT_RESTORE = ["replay buffer (it refills before training resumes)",
                           "RNG states (python, numpy, torch and env restart from the seed)",
                           "episode counter (restarts at 0)", "test and log clocks (a test phase comes first)"]


def prepare_config(config: dict) -> dict:
    """Final checks before sacred sees the config: the env map exists, the backend is resolved.

    The resolved backend (``builtin`` or ``starcraft``) and the reason are recorded under
    ``env_backend`` so the run's saved config says which simulator produced its numbers.
    """
    from pymarl_explained.envs import get_map_params, resolve_backend
    from pymarl_explained.envs.starcraft import check_starcraft_available

    config = config_copy(config)
    if config.get("seed", 0) is None:
        del config["seed"]  # sacred draws one and records it
    check_values(config)
    if config.get("checkpoint_path"):
        t_env, folder = find_checkpoint(config["checkpoint_path"], config.get("load_step", 0))
        check_checkpoint_matches(config, folder)
        if not config.get("evaluate"):  # the run's config says what a resume restores and what it cannot
            config["resumed_from"] = {"checkpoint": folder, "t_env": t_env, "restored": RESUME_RESTORES,
                                      "not_restored": RESUME_DOES_NOT_RESTORE}
    if config.get("env") == "sc2":
        get_map_params(config["env_args"].get("map_name", "3m"))
        backend, reason = resolve_backend(dict(config["env_args"]))
        if backend == "starcraft":
            check_starcraft_available(config["env_args"].get("map_name", "3m"))
        config["env_backend"] = {"name": backend, "reason": reason}
    return config


@dataclass
class TrainResult:
    """What :func:`train` returns: where the run's files are and what it logged."""

    unique_token: str
    run_dir: Path
    models_dir: Path
    sacred_dir: Path | None
    t_env: int
    episodes: int
    config: dict = field(repr=False)
    last_stats: dict = field(default_factory=dict, repr=False)

    @property
    def metrics_path(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    @property
    def metrics(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """``{stat: (t_env array, value array)}`` read from the run's metrics.jsonl."""
        return read_metrics(self.metrics_path)


def train(config: Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> TrainResult:
    """Train with a config from :func:`load_config` through sacred, exactly like the command line.

    >>> run = train(load_config("qmix", "sc2", {"env_args.map_name": "3m", "t_max": 2000}))  # doctest: +SKIP
    """
    config = apply_overrides(config_copy(dict(config)), overrides)
    config = prepare_config(config)
    ex = build_experiment(config)
    try:
        sacred_run = ex.run()
    except RunFailed as e:
        raise e.__cause__ from None
    return _result(sacred_run)


def _result(sacred_run) -> TrainResult:
    summary = sacred_run.result
    observer = sacred_run.observers[0] if sacred_run.observers else None
    sacred_dir = Path(observer.dir) if observer is not None and getattr(observer, "dir", None) else None
    return TrainResult(
        unique_token=summary["unique_token"],
        run_dir=Path(summary["run_dir"]),
        models_dir=Path(summary["models_dir"]),
        sacred_dir=sacred_dir,
        t_env=summary["t_env"],
        episodes=summary["episodes"],
        config=dict(sacred_run.config),
        last_stats=summary["last_stats"],
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m pymarl_explained`` / ``pymarl-explained``: PyMARL's command line."""
    params = list(sys.argv if argv is None else ["pymarl_explained", *argv])
    if any(token in ("-h", "--help") for token in params[1:]):
        print(usage())
        return 0
    try:
        config_dict, params = parse_command_line(params)
        config_dict = prepare_config(config_dict)
    except PymarlError as e:
        print(f"pymarl_explained: error: {e}", file=sys.stderr)
        return 2
    if config_dict.get("debug"):
        get_logger().setLevel("DEBUG")

    ex = build_experiment(config_dict)
    try:
        ex.run_commandline(params)
    except KeyboardInterrupt as interrupt:  # run_sequential saved what it could; sacred marked the run
        print(f"pymarl_explained: {interrupt_name(interrupt)}: training stopped; the run is marked INTERRUPTED "
              f"and its last checkpoint, metrics and curve are saved", file=sys.stderr)
        return interrupt_exit_status(interrupt)
    return 0


def usage() -> str:
    """``--help``: the command line, the algorithm and env configs, the maps."""
    from pymarl_explained.envs import MAPS
    from pymarl_explained.utils.config_utils import available_configs

    return "\n".join([
        "usage: python -m pymarl_explained [--config=ALG] [--env-config=ENV] [--KEY=VALUE ...] "
        "[with KEY=VALUE ...]",
        "",
        "PyMARL's command line: default.yaml, then config/envs/ENV.yaml, then config/algs/ALG.yaml, then the",
        "overrides (--KEY=VALUE before 'with', KEY=VALUE after it; dotted keys reach nested dicts, e.g.",
        "env_args.map_name=3m). Every override is checked against the merged config.",
        "",
        "example: python -m pymarl_explained --config=qmix --env-config=sc2 with env_args.map_name=3m t_max=20000",
        "",
        f"--config (algorithms): {', '.join(available_configs('algs'))}",
        f"--env-config: {', '.join(available_configs('envs'))}",
        f"env_args.map_name (maps): {', '.join(sorted(MAPS))}",
        "",
        "Ctrl-C or SIGTERM stops a run cleanly: the last checkpoint (save_model=True), metrics and curve",
        "are kept and sacred marks the run INTERRUPTED. Exit status: 0 done, 2 bad input, 130/143 interrupted.",
    ])


if __name__ == "__main__":
    sys.exit(main())
