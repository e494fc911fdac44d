"""run(): from a merged config to a trained model (PyMARL's run.py).

Call order (notebook 01_run_py follows it):

``run`` -> ``args_sanity_check`` -> ``run_sequential``:
build the runner (it builds the env) -> read env_info -> scheme, groups, preprocess ->
ReplayBuffer -> controller (mac) -> ``runner.setup`` -> learner -> (load a checkpoint) ->
the training loop: run an episode, insert it, sample and train once the buffer holds
``batch_size`` episodes, test every ``test_interval`` env steps, save every
``save_model_interval``, log every ``log_interval``.

Changes from PyMARL, each fixing a reported problem: the seed reaches python, numpy, torch and
the env (main.py); a missing checkpoint is an error, not a silent return; no ``os._exit`` at the
end, so a notebook kernel survives a run; checkpoints are written atomically; a plain
``metrics.jsonl`` per run for plotting; a tqdm progress bar over ``t_env``.
"""

from __future__ import annotations

import datetime
import json
import os
import pprint
import shutil
import time
from pathlib import Path
from types import SimpleNamespace as SN
from typing import Any

import torch as th
from tqdm.auto import tqdm

from pymarl_explained.components.episode_buffer import ReplayBuffer
from pymarl_explained.components.transforms import OneHot
from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
from pymarl_explained.errors import CheckpointError, ConfigError
from pymarl_explained.learners import REGISTRY as le_REGISTRY
from pymarl_explained.runners import REGISTRY as r_REGISTRY
from pymarl_explained.utils.atomic import atomic_write_text
from pymarl_explained.utils.logging import Logger, get_logger
from pymarl_explained.utils.multi_algs import OMG_LEARNERS, check_omg_buffer, omg_preflight
from pymarl_explained.utils.timehelper import time_left, time_str


def run(_run, _config: dict, _log) -> dict[str, Any]:
    """Sacred's entry point (called by ``my_main``): check the config, set up logging, train."""
    _config = args_sanity_check(_config, _log)

    args = SN(**_config)
    args.device = "cuda" if args.use_cuda else "cpu"

    logger = Logger(_log)

    _log.info("Experiment Parameters:")
    experiment_params = pprint.pformat(_config, indent=4, width=1)
    _log.debug("\n\n" + experiment_params + "\n")

    # A unique token for this run: its models, metrics and TensorBoard logs are filed under it
    map_name = args.env_args.get("map_name", args.env)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S-%f")
    args.unique_token = f"{args.name}__{map_name}__seed{args.seed}__{stamp}"
    run_dir = Path(args.local_results_path) / "runs" / args.unique_token
    args.run_dir = str(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / "config.json", json.dumps(_config, indent=2, sort_keys=True, default=str))

    if args.use_tensorboard:
        tb_exp_direc = os.path.join(args.local_results_path, "tb_logs", args.unique_token)
        logger.setup_tb(tb_exp_direc)

    # every stat also goes to sacred's info.json
    if _run is not None:
        logger.setup_sacred(_run)
    logger.setup_metrics_file(run_dir / "metrics.jsonl")

    try:
        summary = run_sequential(args=args, logger=logger)
    finally:
        logger.close()
    curve = write_curve(run_dir, title=f"{args.name} on {map_name} (seed {args.seed})")
    if curve is not None:
        _log.info(f"Training curves: {curve}")
    _log.info("Exiting script")
    # PyMARL ended with os._exit(os.EX_OK) to kill stray threads; that also kills a notebook kernel.
    return summary


def write_curve(run_dir: Path, title: str) -> Path | None:
    """Plot the run's metrics.jsonl into ``<run_dir>/curve.png`` (None if nothing was logged)."""
    import matplotlib.pyplot as plt

    from pymarl_explained.plotting import plot_training_curves, save_figure

    try:
        fig = plot_training_curves(run_dir / "metrics.jsonl", title=title)
    except ValueError:
        return None
    try:
        return save_figure(fig, run_dir / "curve.png")
    except Exception as exc:  # the run itself succeeded: a plotting problem must not fail it
        get_logger().warning(f"Could not write the training curve: {exc}")
        return None
    finally:
        plt.close(fig)


def evaluate_sequential(args, runner) -> None:
    """``evaluate=True``: play test episodes with the loaded model, log their stats, stop."""
    n_test_runs = max(1, args.test_nepisode // runner.batch_size)
    for _ in range(n_test_runs):
        runner.run(test_mode=True)

    if args.save_replay:
        runner.save_replay()

    runner.close_env()


def find_checkpoint(checkpoint_path: str, load_step: int) -> tuple[int, str]:
    """The ``<checkpoint_path>/<t_env>/`` folder to load: the latest when ``load_step`` is 0,
    else the one closest to ``load_step``. Returns ``(t_env, folder)``."""
    if not os.path.isdir(checkpoint_path):
        raise CheckpointError(
            f"checkpoint_path {checkpoint_path!r} is not a directory. It should be a "
            "results/models/<token> folder written by a run with save_model=True."
        )
    timesteps = [int(name) for name in os.listdir(checkpoint_path)
                 if name.isdigit() and os.path.isdir(os.path.join(checkpoint_path, name))]
    if not timesteps:
        raise CheckpointError(f"No <t_env> sub-folders with saved models in {checkpoint_path!r}.")
    if load_step == 0:
        timestep_to_load = max(timesteps)
    else:
        timestep_to_load = min(timesteps, key=lambda x: abs(x - load_step))  # the closest
    return timestep_to_load, os.path.join(checkpoint_path, str(timestep_to_load))


def lookup(registry: dict, name: str, key: str):
    """``registry[name]``, or a ConfigError listing the names that exist."""
    if name not in registry:
        raise ConfigError(f"Unknown {key} {name!r}. Valid values of {key}: {', '.join(sorted(registry))}.")
    return registry[name]


def build_scheme(env_info: dict) -> tuple[dict, dict, dict]:
    """PyMARL's scheme, groups and preprocess for an env's sizes."""
    # what is stored per step (vshape per agent when grouped)
    scheme = {
        "state": {"vshape": env_info["state_shape"]},
        "obs": {"vshape": env_info["obs_shape"], "group": "agents"},
        "actions": {"vshape": (1,), "group": "agents", "dtype": th.long},
        "avail_actions": {"vshape": (env_info["n_actions"],), "group": "agents", "dtype": th.int},
        "reward": {"vshape": (1,)},
        "terminated": {"vshape": (1,), "dtype": th.uint8},
    }
    groups = {"agents": env_info["n_agents"]}
    preprocess = {"actions": ("actions_onehot", [OneHot(out_dim=env_info["n_actions"])])}
    return scheme, groups, preprocess


def run_sequential(args, logger) -> dict[str, Any]:
    """Build everything, then alternate collecting episodes and training until ``t_max``.

    OMG fork (marked "OMG fork:" below; the plain path is unchanged): for the learners
    q_learner_4am and omg_learner, t_max and batch_size are multiplied by n_agents before
    anything is built, each iteration collects n_agents episodes (inserting each, with its
    agent_idx when agent_shift is set), and the learner regroups the sample (seed 003).
    """
    # OMG fork: composite-config checks; n_agents from the map, so the batch sizing can come first
    omg_preflight(args)
    if args.learner in OMG_LEARNERS:  # ["q_learner_4am", "omg_learner"]
        args.t_max *= args.n_agents
        args.batch_size *= args.n_agents
        check_omg_buffer(args)

    # the runner builds the env, so it is built first: its sizes shape everything else
    runner = lookup(r_REGISTRY, args.runner, "runner")(args=args, logger=logger)
    try:

        env_info = runner.get_env_info()
        args.n_agents = env_info["n_agents"]
        args.n_actions = env_info["n_actions"]
        args.state_shape = env_info["state_shape"]
        args.obs_shape = env_info["obs_shape"]

        scheme, groups, preprocess = build_scheme(env_info)
        if getattr(args, "multi_algs", False):  # OMG fork: the episode's agent_shift
            scheme["agent_idx"] = {"vshape": (1,), "dtype": th.long, "episode_const": True}

        buffer = ReplayBuffer(scheme, groups, args.buffer_size, env_info["episode_limit"] + 1,
                              preprocess=preprocess,
                              device="cpu" if args.buffer_cpu_only else args.device)

        mac = lookup(mac_REGISTRY, args.mac, "mac")(buffer.scheme, groups, args)

        runner.setup(scheme=scheme, groups=groups, preprocess=preprocess, mac=mac)

        learner = lookup(le_REGISTRY, args.learner, "learner")(mac, buffer.scheme, logger, args)

        if args.use_cuda:
            learner.cuda()

        if args.checkpoint_path != "":
            timestep_to_load, model_path = find_checkpoint(args.checkpoint_path, args.load_step)
            logger.console_logger.info(f"Loading model from {model_path}")
            learner.load_models(model_path)
            runner.t_env = timestep_to_load

            if args.evaluate or args.save_replay:
                evaluate_sequential(args, runner)
                if logger.stats:
                    logger.log_stat("episode", 0, runner.t_env, to_sacred=False)
                    logger.print_recent_stats()
                return _summary(args, runner, logger, episode=0)
        elif args.evaluate:
            raise ConfigError("evaluate=True needs checkpoint_path: the folder of a run saved with save_model=True.")

        # start training
        episode = 0
        last_test_T = -args.test_interval - 1
        last_log_T = 0
        model_save_time = 0
        t_start = runner.t_env

        start_time = time.time()
        last_time = start_time
        wallclock_path = Path(args.run_dir) / "wallclock.jsonl"

        logger.console_logger.info(f"Beginning training for {args.t_max} timesteps")
        bar = tqdm(total=args.t_max, initial=min(runner.t_env, args.t_max), unit="step", desc="t_env",
                   disable=not args.progress_bar, dynamic_ncols=True, mininterval=0.5)

        while runner.t_env <= args.t_max:
            t_before = runner.t_env
            # one training episode (batch_size_run of them with the parallel runner)
            # OMG fork: q_learner_4am / omg_learner run n_agents episodes per iteration (seed 003)
            batch_runs = args.n_agents if args.learner in OMG_LEARNERS else 1
            for _ in range(batch_runs):
                episode_batch = runner.run(test_mode=False)
                if getattr(args, "agent_shift", 0):
                    episode_batch.update({"agent_idx": [args.agent_shift]}, ts=0)
                buffer.insert_episode_batch(episode_batch)

            if buffer.can_sample(args.batch_size):
                episode_sample = buffer.sample(args.batch_size)

                # drop the steps after the longest sampled episode ended
                max_ep_t = episode_sample.max_t_filled()
                episode_sample = episode_sample[:, :max_ep_t]

                if episode_sample.device != args.device:
                    episode_sample.to(args.device)

                learner.train(episode_sample, runner.t_env, episode)

            # test phase every test_interval env steps
            n_test_runs = max(1, args.test_nepisode // runner.batch_size)
            if (runner.t_env - last_test_T) / args.test_interval >= 1.0:
                logger.console_logger.info(f"t_env: {runner.t_env} / {args.t_max}")
                remaining = time_left(last_time, last_test_T, runner.t_env, args.t_max)
                passed = time_str(time.time() - start_time)
                logger.console_logger.info(f"Estimated time left: {remaining}. Time passed: {passed}")
                last_time = time.time()

                last_test_T = runner.t_env
                for _ in range(n_test_runs):
                    runner.run(test_mode=True)
                _record_wallclock(wallclock_path, runner.t_env, time.time() - start_time)
                won = logger.stats.get("test_battle_won_mean")
                if won:
                    bar.set_postfix(test_won=f"{won[-1][1]:.2f}", refresh=False)

            if args.save_model and (runner.t_env - model_save_time >= args.save_model_interval or model_save_time == 0):
                model_save_time = runner.t_env
                save_checkpoint(args, learner, runner.t_env, logger)

            episode += args.batch_size_run * batch_runs  # OMG fork: batch_runs is 1 on the plain path

            if (runner.t_env - last_log_T) >= args.log_interval:
                logger.log_stat("episode", episode, runner.t_env)
                logger.print_recent_stats()
                last_log_T = runner.t_env

            bar.update(min(runner.t_env, args.t_max) - min(t_before, args.t_max))

        bar.close()
        if runner.t_env > last_log_T:  # a last stats block, so a short run also shows its numbers
            logger.log_stat("episode", episode, runner.t_env)
            logger.print_recent_stats()
        if args.save_model and model_save_time != runner.t_env:
            save_checkpoint(args, learner, runner.t_env, logger)  # PyMARL lost the last stretch of training
        logger.console_logger.info("Finished Training")
        elapsed = time.time() - start_time
        logger.console_logger.info(
            f"{runner.t_env - t_start} env steps in {time_str(elapsed)} "
            f"({(runner.t_env - t_start) / max(elapsed, 1e-9):.0f} steps/s)")
        return _summary(args, runner, logger, episode)
    finally:
        runner.close_env()  # also when training fails or is interrupted: no stray env processes


def save_checkpoint(args, learner, t_env: int, logger) -> str:
    """Save agent, mixer and optimiser into ``results/models/<token>/<t_env>/``.

    The files are written into a temporary sibling folder that is renamed into place at the end,
    so a run killed while saving never leaves a half-written ``<t_env>`` folder for
    :func:`find_checkpoint` to pick.
    """
    save_path = os.path.join(args.local_results_path, "models", args.unique_token, str(t_env))
    logger.console_logger.info(f"Saving models to {save_path}")
    tmp_path = save_path + ".partial"
    shutil.rmtree(tmp_path, ignore_errors=True)
    os.makedirs(tmp_path)
    learner.save_models(tmp_path)
    if os.path.isdir(save_path):
        shutil.rmtree(save_path)
    os.replace(tmp_path, save_path)
    return save_path


def _record_wallclock(path: Path, t_env: int, elapsed_s: float) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"t_env": int(t_env), "elapsed_s": round(elapsed_s, 3)}) + "\n")


def _summary(args, runner, logger, episode: int) -> dict[str, Any]:
    """What a run returns (and sacred stores as its result): where things are, last stats."""
    last = {k: v[-1][1] for k, v in logger.stats.items()}
    return {
        "unique_token": args.unique_token,
        "run_dir": args.run_dir,
        "models_dir": os.path.join(args.local_results_path, "models", args.unique_token),
        "t_env": int(runner.t_env),
        "episodes": int(episode),
        "last_stats": last,
    }


def args_sanity_check(config: dict, _log) -> dict:
    """Fix or reject inconsistent settings before anything is built."""
    if config["use_cuda"] and not th.cuda.is_available():
        config["use_cuda"] = False
        _log.warning("use_cuda=True but no CUDA device is available: use_cuda switched to False, training on the CPU.")

    if config["runner"] == "episode" and config["batch_size_run"] != 1:
        raise ConfigError(f"runner=episode needs batch_size_run=1 (got {config['batch_size_run']}); "
                          "use runner=parallel to run several envs.")
    if config["buffer_size"] < config["batch_size"]:
        raise ConfigError(f"buffer_size ({config['buffer_size']}) < batch_size ({config['batch_size']}): "
                          "the buffer could never be sampled, so nothing would be trained.")

    if config["test_nepisode"] < config["batch_size_run"]:
        config["test_nepisode"] = config["batch_size_run"]
    else:
        config["test_nepisode"] = (config["test_nepisode"] // config["batch_size_run"]) * config["batch_size_run"]

    return config
