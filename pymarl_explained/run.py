"""run(): from a merged config to a trained model (PyMARL's run.py).

Call order (notebook 01_run_py follows it):

``run`` -> ``args_sanity_check`` -> ``run_sequential``:
:func:`build_components` (the runner, which builds the env -> env_info -> scheme, groups,
preprocess -> ReplayBuffer -> controller (mac) -> ``runner.setup`` -> learner) -> (load a
checkpoint) -> the training loop, one iteration at a time:

1. :func:`collect_episodes`: run an episode (``batch_size_run`` of them with the parallel
   runner) and insert it into the buffer;
2. :func:`train_when_ready`: once the buffer holds ``batch_size`` episodes, sample and train;
3. :func:`test_when_due`: test episodes every ``test_interval`` env steps;
4. :func:`save_when_due`: a checkpoint every ``save_model_interval`` env steps (``save_model``);
5. :func:`log_when_due`: the "Recent Stats" block every ``log_interval`` env steps.

A fork that changes the loop registers a :class:`TrainingLoop` in ``LOOP_REGISTRY`` under the
name its configs put in ``run`` (pymarl2 selects its run functions with the same key): it may
prepare the args before anything is built, add scheme fields, and collect episodes its own way;
every other step stays the one above.

Changes from PyMARL, each fixing a reported problem: the seed also reaches python's ``random``
(main.py); a missing checkpoint is an error, not a silent return; no ``os._exit`` at the end, so
a notebook kernel survives a run; checkpoints are written atomically; a plain ``metrics.jsonl``
per run for plotting; a tqdm progress bar over ``t_env``.
"""

from __future__ import annotations

import datetime
import json
import os
import pprint
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace as SN
from typing import Any

import torch as th
from tqdm.auto import tqdm

from pymarl_explained.components.episode_buffer import ReplayBuffer
from pymarl_explained.components.transforms import OneHot
from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
from pymarl_explained.errors import ConfigError
from pymarl_explained.learners import REGISTRY as le_REGISTRY
from pymarl_explained.plotting.curves import write_training_curve
from pymarl_explained.runners import REGISTRY as r_REGISTRY
from pymarl_explained.runners.episode_runner import EpisodeRunner
from pymarl_explained.runners.fast_episode_runner import episode_runner_class
from pymarl_explained.utils.atomic import atomic_write_text
from pymarl_explained.utils.checkpoint import find_checkpoint, save_checkpoint
from pymarl_explained.utils.interrupts import interrupt_name
from pymarl_explained.utils.logging import Logger
from pymarl_explained.utils.registry import Registry
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
    finally:  # also after Ctrl-C or SIGTERM: the curve of what was trained
        logger.close()
        curve = write_training_curve(run_dir, title=f"{args.name} on {map_name} (seed {args.seed})")
        if curve is not None:
            _log.info(f"Training curves: {curve}")
    _log.info("Exiting script")
    # PyMARL ended with os._exit(os.EX_OK) to kill stray threads; that also kills a notebook kernel.
    return summary


# ---------------------------------------------------------------------------- the training loop
def run_sequential(args, logger) -> dict[str, Any]:
    """Build everything, then alternate collecting episodes and training until ``t_max``."""
    loop = LOOP_REGISTRY[args.run]
    loop.prepare(args)  # PyMARL's own loop changes nothing here

    runner, buffer, learner = build_components(args, logger, loop)
    try:
        if args.checkpoint_path != "":
            load_checkpoint(args, runner, learner, logger)
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
        clock = LoopClock(last_test_T=-args.test_interval - 1, t_start=runner.t_env)
        logger.console_logger.info(f"Beginning training for {args.t_max} timesteps")
        bar = tqdm(total=args.t_max, initial=min(runner.t_env, args.t_max), unit="step", desc="t_env",
                   disable=not args.progress_bar, dynamic_ncols=True, mininterval=0.5)

        interrupt = None
        try:
            while runner.t_env <= args.t_max:
                t_before = runner.t_env
                # one training episode (batch_size_run of them with the parallel runner)
                n_episodes = loop.collect(args, runner, buffer)

                train_when_ready(args, buffer, learner, runner.t_env, episode)
                test_when_due(args, runner, logger, clock, bar)
                save_when_due(args, learner, runner.t_env, logger, clock)

                episode += n_episodes

                log_when_due(args, logger, runner.t_env, episode, clock)
                bar.update(min(runner.t_env, args.t_max) - min(t_before, args.t_max))
        except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM (utils/interrupts.py): keep what was trained
            interrupt = error
            logger.console_logger.warning(f"{interrupt_name(error)} received at t_env {runner.t_env}: stopping")
        bar.close()
        finish_training(args, learner, runner, logger, episode, clock, interrupted=interrupt is not None)
        if interrupt is not None:
            raise interrupt
        if getattr(args, "save_battle_animation", False):
            save_battle_animation(args, runner, logger)
        return _summary(args, runner, logger, episode)
    finally:
        runner.close_env()  # also when training fails or is interrupted: no stray env processes


@dataclass
class LoopClock:
    """The loop's bookkeeping: PyMARL's local variables of ``run_sequential``."""

    last_test_T: int
    t_start: int = 0
    last_log_T: int = 0
    model_save_time: int = 0
    start_time: float = field(default_factory=time.time)
    last_time: float = field(default_factory=time.time)


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


def build_components(args, logger, loop: TrainingLoop | None = None):
    """Runner, replay buffer and learner (the learner holds the controller, ``learner.mac``).

    The runner builds the env, so it comes first: the env's sizes shape everything else and are
    copied into ``args`` (``n_agents``, ``n_actions``, ``state_shape``, ``obs_shape``).
    """
    loop = loop or TrainingLoop()
    runner_class = r_REGISTRY[args.runner]
    if runner_class is EpisodeRunner:  # FastEpisodeRunner: the same episodes, less overhead per step
        runner_class = episode_runner_class(args)
    runner = runner_class(args=args, logger=logger)
    try:
        env_info = runner.get_env_info()
        args.n_agents = env_info["n_agents"]
        args.n_actions = env_info["n_actions"]
        args.state_shape = env_info["state_shape"]
        args.obs_shape = env_info["obs_shape"]

        scheme, groups, preprocess = build_scheme(env_info)
        loop.extend_scheme(scheme, args)

        buffer = ReplayBuffer(scheme, groups, args.buffer_size, env_info["episode_limit"] + 1,
                              preprocess=preprocess,
                              device="cpu" if args.buffer_cpu_only else args.device)

        mac = mac_REGISTRY[args.mac](buffer.scheme, groups, args)

        runner.setup(scheme=scheme, groups=groups, preprocess=preprocess, mac=mac)

        learner = le_REGISTRY[args.learner](mac, buffer.scheme, logger, args)

        if args.use_cuda:
            learner.cuda()
    except BaseException:
        runner.close_env()
        raise
    return runner, buffer, learner


def collect_episodes(args, runner, buffer: ReplayBuffer) -> int:
    """One iteration's data: ``runner.run`` plays an episode in each of its ``batch_size_run``
    envs and returns them as one EpisodeBatch, inserted into the buffer. Returns the number of
    episodes played."""
    episode_batch = runner.run(test_mode=False)
    buffer.insert_episode_batch(episode_batch)
    return runner.batch_size


def train_when_ready(args, buffer: ReplayBuffer, learner, t_env: int, episode: int) -> dict[str, float] | None:
    """Once the buffer holds ``batch_size`` episodes: sample them, cut the padding, train once.

    Returns the learner's stats, or None while the buffer is still too small.
    """
    if not buffer.can_sample(args.batch_size):
        return None
    episode_sample = buffer.sample(args.batch_size)

    # drop the steps after the longest sampled episode ended
    max_ep_t = episode_sample.max_t_filled()
    episode_sample = episode_sample[:, :max_ep_t]

    if episode_sample.device != args.device:
        episode_sample.to(args.device)

    return learner.train(episode_sample, t_env, episode)


def test_when_due(args, runner, logger, clock: LoopClock, bar=None) -> bool:
    """Every ``test_interval`` env steps, play ``test_nepisode`` greedy test episodes. Returns
    whether it did."""
    if (runner.t_env - clock.last_test_T) / args.test_interval < 1.0:
        return False
    n_test_runs = max(1, args.test_nepisode // runner.batch_size)
    logger.console_logger.info(f"t_env: {runner.t_env} / {args.t_max}")
    remaining = time_left(clock.last_time, clock.last_test_T, runner.t_env, args.t_max)
    passed = time_str(time.time() - clock.start_time)
    logger.console_logger.info(f"Estimated time left: {remaining}. Time passed: {passed}")
    clock.last_time = time.time()

    clock.last_test_T = runner.t_env
    for _ in range(n_test_runs):
        runner.run(test_mode=True)
    _record_wallclock(Path(args.run_dir) / "wallclock.jsonl", runner.t_env, time.time() - clock.start_time)
    won = logger.stats.get("test_battle_won_mean")
    if won and bar is not None:
        bar.set_postfix(test_won=f"{won[-1][1]:.2f}", refresh=False)
    return True


def save_when_due(args, learner, t_env: int, logger, clock: LoopClock) -> str | None:
    """With ``save_model``: a checkpoint at the first iteration and every ``save_model_interval``
    env steps. Returns its folder, or None."""
    if args.save_model and (t_env - clock.model_save_time >= args.save_model_interval or clock.model_save_time == 0):
        path = save_checkpoint(args, learner, t_env, logger)
        # recorded once saved (PyMARL set it before): a Ctrl-C during the save leaves it unrecorded,
        # so finish_training still saves this t_env
        clock.model_save_time = t_env
        return path
    return None


def log_when_due(args, logger, t_env: int, episode: int, clock: LoopClock) -> bool:
    """Every ``log_interval`` env steps, log the episode count and print the "Recent Stats" block."""
    if (t_env - clock.last_log_T) < args.log_interval:
        return False
    logger.log_stat("episode", episode, t_env)
    logger.print_recent_stats()
    clock.last_log_T = t_env
    return True


def finish_training(args, learner, runner, logger, episode: int, clock: LoopClock, interrupted: bool = False) -> None:
    """After the loop (or when it was interrupted): a last stats block, a last checkpoint, and the
    speed of the run."""
    if runner.t_env > clock.last_log_T:  # a last stats block, so a short run also shows its numbers
        logger.log_stat("episode", episode, runner.t_env)
        logger.print_recent_stats()
    if args.save_model and clock.model_save_time != runner.t_env:
        save_checkpoint(args, learner, runner.t_env, logger)  # PyMARL lost the last stretch of training
    logger.console_logger.info("Training interrupted" if interrupted else "Finished Training")
    elapsed = time.time() - clock.start_time
    logger.console_logger.info(
        f"{runner.t_env - clock.t_start} env steps in {time_str(elapsed)} "
        f"({(runner.t_env - clock.t_start) / max(elapsed, 1e-9):.0f} steps/s)")


#: Greedy test episodes ``save_battle_animation`` plays at most, looking for a won battle to show.
BATTLES_FOR_ANIMATION = 8


def save_battle_animation(args, runner, logger) -> str | None:
    """``save_battle_animation=True`` (``make train`` sets it): greedy test episodes of the trained
    team after training, until one is won (at most ``BATTLES_FOR_ANIMATION``); that one, or the last
    when none is won, is written as ``battle.gif`` next to the run's curve. The console line says
    whether it was won and how many episodes were played, so a lost battle of a strong team (one
    in 32 at a 97% win rate) is not what a first run ends with, and a weak team is not hidden.

    Needs an environment that records replays (the built-in simulator with the episode runner);
    otherwise it says why and writes nothing. Not part of PyMARL.
    """
    from pymarl_explained.envs.replay import save_replay_gif

    env = getattr(runner, "env", None)
    if getattr(env, "replay", None) is None:
        logger.console_logger.warning("save_battle_animation: this runner's environment records no replay "
                                      "(it needs the built-in simulator and runner=episode); no battle.gif")
        return None
    played, won = 0, False
    while not won and played < BATTLES_FOR_ANIMATION:
        runner.run(test_mode=True)  # greedy, after the last update; the env records it
        played += 1
        replay = env.replay
        final_hp = replay.episodes[-1]["hp"][-1]
        won = final_hp[args.n_agents:].max() <= 0 < final_hp[:args.n_agents].max()  # SMAC: enemies dead, allies not
    path = save_replay_gif(replay, Path(args.run_dir) / "battle.gif", episode=-1)
    steps = len(replay.episodes[-1]["pos"]) - 1
    which = (f"won, {steps} steps: the first won of {played} greedy episodes" if won
             else f"not won, {steps} steps: the last of {played} greedy episodes, none won")
    logger.console_logger.info(f"A greedy test battle of the trained team ({which}): {path}")
    return path


class TrainingLoop:
    """Where a training loop may differ from PyMARL's; each method here is PyMARL's behaviour.

    A fork subclasses it and registers an instance in ``LOOP_REGISTRY``:

    - ``prepare(args)``: called first, before anything is built (a fork may rescale sizes);
    - ``extend_scheme(scheme, args)``: add fields that every stored episode carries;
    - ``collect(args, runner, buffer)``: run and insert one iteration's episodes and return how
      many (the loop adds them to its ``episode`` counter after training, testing and saving).
    """

    def prepare(self, args) -> None:
        """PyMARL's loop needs nothing before the components are built."""

    def extend_scheme(self, scheme: dict, args) -> None:
        """PyMARL's episodes store the scheme of :func:`build_scheme` and nothing more."""

    def collect(self, args, runner, buffer: ReplayBuffer) -> int:
        return collect_episodes(args, runner, buffer)


#: Training-loop variants by the config's ``run`` key; a fork registers its own.
LOOP_REGISTRY = Registry("run", {"default": TrainingLoop()})


# ---------------------------------------------------------------------------- loading and evaluating
def load_checkpoint(args, runner, learner, logger) -> int:
    """Load ``checkpoint_path`` (its latest ``<t_env>`` folder, or the one closest to
    ``load_step``) into the learner; the runner's ``t_env`` continues from there."""
    timestep_to_load, model_path = find_checkpoint(args.checkpoint_path, args.load_step)
    if args.load_step and timestep_to_load != args.load_step:
        logger.console_logger.warning(f"No checkpoint at load_step={args.load_step}: loading the closest one, "
                                      f"t_env={timestep_to_load}")
    logger.console_logger.info(f"Loading model from {model_path}")
    learner.load_models(model_path)
    runner.t_env = timestep_to_load
    return timestep_to_load


def evaluate_sequential(args, runner) -> None:
    """``evaluate=True``: play test episodes with the loaded model, log their stats, stop."""
    n_test_runs = max(1, args.test_nepisode // runner.batch_size)
    for _ in range(n_test_runs):
        runner.run(test_mode=True)

    if args.save_replay:
        runner.save_replay()

    runner.close_env()


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

    if config["runner"] in ("episode", "pipelined") and config["batch_size_run"] != 1:
        raise ConfigError(f"runner={config['runner']} needs batch_size_run=1 (got {config['batch_size_run']}); "
                          "use runner=parallel to run several envs.")
    if config["buffer_size"] < config["batch_size"]:
        raise ConfigError(f"buffer_size ({config['buffer_size']}) < batch_size ({config['batch_size']}): "
                          "the buffer could never be sampled, so nothing would be trained.")

    if config["test_nepisode"] < config["batch_size_run"]:
        config["test_nepisode"] = config["batch_size_run"]
    else:
        config["test_nepisode"] = (config["test_nepisode"] // config["batch_size_run"]) * config["batch_size_run"]

    return config
