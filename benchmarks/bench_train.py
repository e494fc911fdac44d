"""Training benchmarks: train-step time, and end-to-end env steps per second of training.

1. Train step: one ``learner.train`` call (QMIX's QLearner; ``--config`` picks another algorithm)
   on a batch of 32 MarineMicro_MvsM_4 episodes of 61 steps (the longest possible: every episode
   filled to the episode limit) and on 32 episodes played by the untrained agents (cut to the
   longest, as training does), with the per-step agent unroll (PyMARL's loop) and the
   whole-sequence unroll (the compiled GRU kernel where it builds) side by side in the same run,
   interleaved, median of several repeats, reported as a ratio. With ``--pymarl-src DIR`` (the
   ``src`` folder of an oxwhirl/pymarl checkout) PyMARL's own learner runs in the same loop, with
   the same weights and batch (its first loss is printed next to ours).
2. End to end: ``train()`` for a fixed number of env steps with PyMARL's QMIX defaults for SMAC
   (episode runner, batch 32, buffer 5000; test phases of 32 episodes every 10,000 steps), env steps
   per second including start-up, acting, training and tests, and where the time went.
3. ``--acting-episodes N``: acting alone (no learner), PyMARL's ``EpisodeRunner`` and the
   ``FastEpisodeRunner`` training uses (the same episodes, bit for bit) playing N training episodes
   each in turn, 5 rounds, with the same untrained QMIX controller: microseconds per env step, the
   medians and their ratio.
4. ``--e2e-compare REV``: the same end-to-end run with ``pymarl_explained`` at git revision ``REV``
   (extracted into a temporary folder) and with this tree, in alternating subprocesses so that both
   see the same machine, after one warm-up run each (numba's caches); the median of each and of
   the per-pair ratios. The absolute rate depends much on the machine (the same code has measured
   2x apart on this project's machines); the ratio is what carries over.
5. ``--e2e-runners``: the same end-to-end run with ``runner=episode`` (PyMARL's alternation of
   acting and training on one core) and ``runner=pipelined`` (the next training episode played in
   a worker process while the learner trains: both cores), alternating, medians and the ratio.
   The pipelined runner's episodes are one update behind (runners/pipelined_runner.py).

    python benchmarks/bench_train.py [--repeats 7] [--e2e-steps 20000] [--config qmix] [--pymarl-src DIR]
    python benchmarks/bench_train.py --repeats 0 --e2e-steps 20000 --e2e-compare 3e5228b --e2e-pairs 3
    python benchmarks/bench_train.py --repeats 0 --e2e-steps 0 --acting-episodes 60
    python benchmarks/bench_train.py --repeats 0 --e2e-steps 20000 --e2e-runners --e2e-pairs 3
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch as th
from revisions import package_at

from pymarl_explained import load_config, train
from pymarl_explained.components.episode_buffer import EpisodeBatch, ReplayBuffer
from pymarl_explained.controllers import REGISTRY as mac_REGISTRY
from pymarl_explained.learners import REGISTRY as le_REGISTRY
from pymarl_explained.run import build_scheme
from pymarl_explained.runners.episode_runner import EpisodeRunner
from pymarl_explained.runners.fast_episode_runner import FastEpisodeRunner
from pymarl_explained.utils.allocator import keep_freed_memory


def gru_kernel_in_use() -> str:
    """Which GRU recurrence the whole-sequence unroll runs here."""
    from pymarl_explained.modules.agents import gru_kernel

    return "compiled" if gru_kernel.load_extension() is not None else f"torch's ({gru_kernel._load_error})"


class _NullLogger:
    console_logger = logging.getLogger("bench")

    def log_stat(self, *args, **kwargs) -> None:
        pass


def _full_batch(args, scheme, groups, preprocess, batch_size: int = 32, T: int = 61) -> EpisodeBatch:
    """A batch of ``batch_size`` episodes, all ``T`` steps filled, random but valid contents."""
    rng = np.random.default_rng(0)
    batch = EpisodeBatch(scheme, groups, batch_size, T, preprocess=preprocess)
    n, a = args.n_agents, args.n_actions
    avail = np.ones((batch_size, T, n, a), dtype=np.int32)
    avail[..., 0] = 0
    batch.update({
        "state": rng.standard_normal((batch_size, T, args.state_shape)).astype(np.float32),
        "obs": rng.standard_normal((batch_size, T, n, args.obs_shape)).astype(np.float32),
        "avail_actions": avail,
        "actions": rng.integers(1, a, size=(batch_size, T, n, 1)),
        "reward": rng.random((batch_size, T, 1)).astype(np.float32),
        "terminated": np.zeros((batch_size, T, 1), dtype=np.uint8),
    })
    return batch


def _played_batch(args, scheme, groups, preprocess, mac, batch_size: int = 32) -> EpisodeBatch:
    """``batch_size`` real episodes played by the untrained agents (epsilon 1: uniformly random
    available actions) with PyMARL's EpisodeRunner, cut to the longest one as run_sequential does."""
    runner_args = copy.copy(args)
    runner_args.env_args = {**args.env_args, "backend": "builtin", "seed": 0}
    runner = EpisodeRunner(runner_args, _NullLogger())
    runner.setup(scheme, groups, preprocess, mac)
    buffer = ReplayBuffer(scheme, groups, batch_size, runner.episode_limit + 1, preprocess=preprocess)
    for _ in range(batch_size):
        buffer.insert_episode_batch(runner.run(test_mode=False))
    runner.close_env()
    batch = buffer[:batch_size]
    return batch[:, : batch.max_t_filled()]


def bench_train_step(repeats: int, alg: str = "qmix", pymarl_src: str | None = None) -> list[dict]:
    """Per-step vs whole-sequence unroll (and PyMARL's own learner with ``pymarl_src``) on two
    batches: all 32 episodes filled to 61 steps, and 32 played episodes (the batches training sees
    early on: cut to the longest of them). All learners start from the same weights; their first
    losses on each batch are compared before timing."""
    config = load_config(alg, "sc2", {"env_args.map_name": "MarineMicro_MvsM_4"})
    env_info = {"state_shape": 68, "obs_shape": 40, "n_actions": 10, "n_agents": 4, "episode_limit": 60}
    args = SimpleNamespace(**config, device="cpu", **{k: v for k, v in env_info.items() if k != "episode_limit"})
    scheme, groups, preprocess = build_scheme(env_info)
    probe = EpisodeBatch(scheme, groups, 1, 61, preprocess=preprocess)

    def ours(fast: bool):
        a = copy.copy(args)
        a.learner_fast_unroll = fast
        th.manual_seed(0)
        mac = mac_REGISTRY["basic_mac"](probe.scheme, groups, a)
        return le_REGISTRY[config["learner"]](mac, probe.scheme, _NullLogger(), a)

    pymarl = None
    if pymarl_src:
        from pymarl_reference import import_pymarl, pymarl_batch_like, pymarl_learner_like

        pymarl = import_pymarl(pymarl_src)
    th.manual_seed(0)
    np.random.seed(0)
    batches = {"32 x 61 steps (all filled)": _full_batch(args, scheme, groups, preprocess),
               "32 played episodes": _played_batch(args, scheme, groups, preprocess, ours(True).mac)}
    results = []
    for label, batch in batches.items():
        learners = {"per_step": ours(False), "sequence": ours(True)}
        runs = {name: (learner, batch) for name, learner in learners.items()}
        if pymarl is not None:
            theirs = pymarl_learner_like(learners["sequence"], args, scheme, groups, pymarl)
            runs["pymarl"] = (theirs, pymarl_batch_like(batch, scheme, groups, args.n_actions, pymarl))
        losses = {name: learner.train(b, 0, 0) for name, (learner, b) in runs.items()}  # first step, same weights
        losses = {name: (stats or learner.logger.stats)["loss"] for (name, (learner, _)), stats
                  in zip(runs.items(), losses.values(), strict=True)}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, (learner, b) in runs.items():  # interleaved, so all see the same machine
                start = time.perf_counter()
                learner.train(b, 0, 0)
                times[name].append(time.perf_counter() - start)
        ms = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        filled = batch["filled"].sum(dim=1).flatten()
        results.append({"batch": label, "T": batch.max_seq_length, "mean_len": float(filled.float().mean()),
                        "per_step_ms": ms["per_step"], "sequence_ms": ms["sequence"],
                        "ratio": ms["per_step"] / ms["sequence"], "pymarl_ms": ms.get("pymarl"),
                        "pymarl_ratio": ms["pymarl"] / ms["sequence"] if "pymarl" in ms else None,
                        "losses": losses})
    return results


def bench_acting(episodes: int, rounds: int = 5) -> dict[str, list[float]]:
    """Microseconds per env step of ``episodes`` training episodes, EpisodeRunner and
    FastEpisodeRunner in turn for ``rounds`` rounds (one untrained QMIX controller, epsilon 1)."""
    config = load_config("qmix", "sc2", {"env_args.map_name": "MarineMicro_MvsM_4", "env_args.backend": "builtin"})
    env_info = {"state_shape": 68, "obs_shape": 40, "n_actions": 10, "n_agents": 4, "episode_limit": 60}
    args = SimpleNamespace(**config, device="cpu", **{k: v for k, v in env_info.items() if k != "episode_limit"})
    args.env_args = {**args.env_args, "seed": 0}
    scheme, groups, preprocess = build_scheme(env_info)
    mac = mac_REGISTRY["basic_mac"](EpisodeBatch(scheme, groups, 1, 61, preprocess=preprocess).scheme, groups, args)
    runners = {}
    for runner_class in (EpisodeRunner, FastEpisodeRunner):
        runner = runner_class(args, _NullLogger())
        runner.setup(scheme, groups, preprocess, mac)
        for _ in range(5):  # warm-up: numba's and the kernel's first calls
            runner.run(test_mode=False)
        runners[runner_class.__name__] = runner
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(rounds):
        for name, runner in runners.items():
            start, steps = time.perf_counter(), 0
            for _ in range(episodes):
                runner.run(test_mode=False)
                steps += runner.t  # env steps of the episode
            times[name].append((time.perf_counter() - start) / steps * 1e6)
    for runner in runners.values():
        runner.close_env()
    return times


def _e2e_config(steps: int, results: str, threads: int = 1) -> dict:
    """``train()``'s settings for the end-to-end runs: PyMARL's QMIX and SMAC defaults on
    MarineMicro_MvsM_4 with the built-in simulator; no progress bar, checkpoints or TensorBoard."""
    return {"env_args.map_name": "MarineMicro_MvsM_4", "env_args.backend": "builtin", "t_max": steps, "seed": 1,
            "progress_bar": False, "local_results_path": results, "save_model": False, "use_tensorboard": False,
            "torch_threads": threads}


def bench_end_to_end(steps: int, threads: int = 1) -> dict[str, float]:
    """``train()`` for ``steps`` env steps with PyMARL's QMIX defaults; also the time spent inside
    ``EpisodeRunner.run`` (training and test episodes: acting and the env) and ``QLearner.train``."""
    from pymarl_explained.learners.q_learner import QLearner

    logging.getLogger("pymarl").setLevel(logging.WARNING)
    parts = {"train_episodes_s": 0.0, "train_episode_steps": 0, "test_episodes_s": 0.0,
             "learner_s": 0.0, "learner_calls": 0}
    run_episode, learner_train = EpisodeRunner.run, QLearner.train

    def timed_run(self, test_mode: bool = False):
        start = time.perf_counter()
        batch = run_episode(self, test_mode)
        if test_mode:
            parts["test_episodes_s"] += time.perf_counter() - start
        else:
            parts["train_episodes_s"] += time.perf_counter() - start
            parts["train_episode_steps"] += int(batch["filled"].sum())
        return batch

    def timed_train(self, *args, **kwargs):
        start = time.perf_counter()
        stats = learner_train(self, *args, **kwargs)
        parts["learner_s"] += time.perf_counter() - start
        parts["learner_calls"] += 1
        return stats

    EpisodeRunner.run, QLearner.train = timed_run, timed_train
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config("qmix", "sc2", _e2e_config(steps, tmp, threads))
            start = time.perf_counter()
            run = train(config)
            elapsed = time.perf_counter() - start
    finally:
        EpisodeRunner.run, QLearner.train = run_episode, learner_train
    return {"env_steps": run.t_env, "seconds": elapsed, "steps_per_s": run.t_env / elapsed, **parts}


# one end-to-end run in a fresh interpreter, with whichever pymarl_explained PYTHONPATH names
_E2E_CODE = """
import json, logging, sys, tempfile, time
from pymarl_explained import load_config, train
steps, config = int(sys.argv[1]), json.loads(sys.argv[2])
logging.getLogger("pymarl").setLevel(logging.WARNING)
with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    run = train(load_config("qmix", "sc2", {**config, "local_results_path": tmp}))
    elapsed = time.perf_counter() - start
print(json.dumps({"env_steps": run.t_env, "seconds": elapsed}))
"""


def _e2e_subprocess(package_parent: str, steps: int, overrides: dict | None = None) -> float:
    """Env steps per second of one end-to-end run of the package under ``package_parent``."""
    config = json.dumps({**_e2e_config(steps, ""), **(overrides or {})})
    environ = dict(os.environ, PYTHONPATH=package_parent)
    out = subprocess.run([sys.executable, "-c", _E2E_CODE, str(steps), config], env=environ, capture_output=True,
                         text=True, cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise SystemExit(f"the end-to-end run under {package_parent} failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    return result["env_steps"] / result["seconds"]


def compare_end_to_end(rev: str, steps: int, pairs: int) -> None:
    """This tree against git ``rev``: alternating end-to-end runs, medians and the median ratio."""
    root = Path(__file__).resolve().parents[1]
    with package_at(rev) as old:
        for path in (old, str(root)):  # numba compiles into each version's cache once
            _e2e_subprocess(path, 500)
        old_rates, new_rates = [], []
        for _ in range(pairs):
            old_rates.append(_e2e_subprocess(old, steps))
            new_rates.append(_e2e_subprocess(str(root), steps))
        ratio = statistics.median(n / o for n, o in zip(new_rates, old_rates, strict=True))
        print(f"End to end, QMIX defaults, {steps} env steps, {pairs} alternating pairs: {rev}: "
              f"{statistics.median(old_rates):.0f} env steps/s ({', '.join(f'{r:.0f}' for r in old_rates)}); "
              f"this tree: {statistics.median(new_rates):.0f} ({', '.join(f'{r:.0f}' for r in new_rates)}); "
              f"this tree / {rev} = {ratio:.2f}")


def compare_runners(steps: int, pairs: int) -> None:
    """``runner=episode`` (PyMARL's alternation) against ``runner=pipelined`` (the next training
    episode played in a worker process while the learner trains): alternating end-to-end runs of
    this tree, medians and the median ratio. Each uses one torch thread per process."""
    root = str(Path(__file__).resolve().parents[1])
    _e2e_subprocess(root, 500)  # numba's cache and the compiled kernel, once
    rates: dict[str, list[float]] = {"episode": [], "pipelined": []}
    for _ in range(pairs):
        for runner, values in rates.items():
            values.append(_e2e_subprocess(root, steps, {"runner": runner}))
    ratio = statistics.median(p / e for p, e in zip(rates["pipelined"], rates["episode"], strict=True))
    print(f"End to end, QMIX defaults, {steps} env steps, {pairs} alternating pairs: " + "; ".join(
        f"runner={name}: {statistics.median(v):.0f} env steps/s ({', '.join(f'{r:.0f}' for r in v)})"
        for name, v in rates.items()) + f"; pipelined / episode = {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--e2e-steps", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads, also the end-to-end run's torch_threads (default 1; 0: torch's default)")
    parser.add_argument("--e2e-compare", metavar="REV", default=None,
                        help="also run the end-to-end benchmark with the package at git revision REV, alternating")
    parser.add_argument("--e2e-pairs", type=int, default=3,
                        help="alternating run pairs of --e2e-compare and --e2e-runners")
    parser.add_argument("--e2e-runners", action="store_true",
                        help="also compare runner=episode and runner=pipelined end to end, alternating")
    parser.add_argument("--config", default="qmix", help="algorithm config of the train-step benchmark")
    parser.add_argument("--acting-episodes", type=int, default=0,
                        help="acting alone: EpisodeRunner vs FastEpisodeRunner, this many episodes per round")
    parser.add_argument("--no-keep-freed-memory", action="store_true",
                        help="leave glibc's malloc thresholds alone (training raises them, utils/allocator.py)")
    parser.add_argument("--pymarl-src", default=None,
                        help="the src folder of an oxwhirl/pymarl checkout: time PyMARL's own learner too")
    args = parser.parse_args()
    if args.threads:
        th.set_num_threads(args.threads)
    if not args.no_keep_freed_memory:  # as training does (main.my_main); PyMARL's learner gets it too
        keep_freed_memory()
    print(f"torch {th.__version__}, {th.get_num_threads()} threads, GRU kernel: {gru_kernel_in_use()}, "
          f"freed memory kept: {not args.no_keep_freed_memory}")
    if args.repeats > 0:
        print_train_step(args)
    if args.acting_episodes > 0:
        print_acting(args.acting_episodes)
    if args.e2e_steps:
        print_end_to_end(args)
    if args.e2e_compare:
        compare_end_to_end(args.e2e_compare, args.e2e_steps or 20000, args.e2e_pairs)
    if args.e2e_runners:
        compare_runners(args.e2e_steps or 20000, args.e2e_pairs)


def print_train_step(args) -> None:
    print(f"{args.config} train step on MarineMicro_MvsM_4 batches (median of {args.repeats}):")
    pymarl_head = f" {'PyMARL own':>11} {'PyMARL/ours':>11}" if args.pymarl_src else ""
    print(f"  {'batch':28} {'T':>3} {'mean len':>8} {'per-step':>11} {'whole-sequence':>15} {'ratio':>6}{pymarl_head}")
    for r in bench_train_step(args.repeats, args.config, args.pymarl_src):
        line = (f"  {r['batch']:28} {r['T']:>3} {r['mean_len']:>8.1f} {r['per_step_ms']:>8.1f} ms "
                f"{r['sequence_ms']:>12.1f} ms {r['ratio']:>5.2f}x")
        if r["pymarl_ms"] is not None:
            line += f" {r['pymarl_ms']:>8.1f} ms {r['pymarl_ratio']:>10.2f}x"
        print(line)
        print("    first-step losses (same weights, same batch): "
              + ", ".join(f"{k} {v:.6f}" for k, v in r["losses"].items()))


def print_acting(episodes: int) -> None:
    times = bench_acting(episodes)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"Acting alone, {episodes} training episodes per round, 5 rounds, us per env step:")
    for name, values in times.items():
        print(f"  {name:18} {', '.join(f'{v:.0f}' for v in values)}; median {medians[name]:.0f}")
    print(f"  EpisodeRunner / FastEpisodeRunner = {medians['EpisodeRunner'] / medians['FastEpisodeRunner']:.2f}")


def print_end_to_end(args) -> None:
    e = bench_end_to_end(args.e2e_steps, args.threads)
    rest = e["seconds"] - e["train_episodes_s"] - e["learner_s"] - e["test_episodes_s"]
    print(f"End to end, QMIX defaults, MarineMicro_MvsM_4: {e['env_steps']} env steps in {e['seconds']:.1f} s "
          f"= {e['steps_per_s']:.0f} env steps/s")
    print(f"  training episodes (acting + env): {e['train_episodes_s']:.1f} s = "
          f"{e['train_episodes_s'] / max(e['train_episode_steps'], 1) * 1e6:.0f} us per env step; "
          f"learner.train: {e['learner_s']:.1f} s = {e['learner_s'] / max(e['learner_calls'], 1) * 1e3:.1f} ms "
          f"per call ({e['learner_calls']} calls); test episodes: {e['test_episodes_s']:.1f} s; "
          f"start-up and the rest: {rest:.1f} s")

if __name__ == "__main__":
    main()
