"""Speed of the built-in SMAC simulator: environment steps per second with random valid actions.

Run from the repository root::

    .venv/bin/python benchmarks/bench_env.py            # all measurements, ~2 minutes
    .venv/bin/python benchmarks/bench_env.py --quick    # fewer repeats
    .venv/bin/python benchmarks/bench_env.py --maps-only  # only the heterogeneous maps
    .venv/bin/python benchmarks/bench_env.py --compare REV  # marine maps: this tree vs git REV
    .venv/bin/python benchmarks/bench_env.py --smaclite PYTHON  # SMAClite on the same maps

``--compare REV`` extracts ``pymarl_explained`` at git revision ``REV`` into a temporary folder
and times the marine maps with both versions in alternating subprocesses (so that both see the same
machine load), in steps per CPU second of the benchmark process (``time.process_time``: what the
code costs, less sensitive than wall-clock time to other processes sharing the CPUs), reporting
the median of the per-pair ratios. ``--smaclite PYTHON`` runs SMAClite
(uoe-agents/smaclite, installed in the interpreter ``PYTHON``) with one env and random valid
actions on the same maps, for scale.

Measured:

* one ``MarineBattleEnv`` (SMAC's API: ``step`` + ``get_obs`` + ``get_state`` +
  ``get_avail_actions`` every step, ``reset`` at the end of each episode, random valid actions
  drawn with numpy) on MarineMicro_MvsM_4, 8m and 27m_vs_30m, and on SMAC's 2s3z, 3s5z, MMM2 and
  corridor;
* 64 ``BatchedMarineEnv`` environments in lockstep on the same maps (aggregate env steps/s,
  counting only active environments, resetting all when all have terminated, as the parallel
  runner does);
* the implementation choice: the numba game-loop kernel against a numpy version vectorised over
  ``[B, units]`` arrays doing the same work (targeting, shooting, walking, pairwise separation),
  for B = 1 and B = 64, in the same run;
* numba's first-call compile time (empty cache) and the load time from its on-disk cache.

Every figure is the median of several repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from revisions import package_at

from pymarl_explained.envs import BatchedMarineEnv, MarineBattleEnv
from pymarl_explained.envs import kernels as K
from pymarl_explained.envs.units import (
    MARINE_COOLDOWN_LOOPS,
    MARINE_DAMAGE,
    MARINE_FIRE_RANGE,
    MARINE_RADIUS,
    MARINE_SPEED_PER_LOOP,
    SIGHT_RANGE,
)


def single_env_rate(map_name: str, seconds: float) -> float:
    env = MarineBattleEnv(map_name=map_name, seed=0)
    rng = np.random.default_rng(0)
    env.reset()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        avail = np.asarray(env.get_avail_actions())
        actions = np.argmax(rng.random(avail.shape) * avail, axis=-1)
        _, term, _ = env.step(actions)
        env.get_obs()
        env.get_state()
        steps += 1
        if term:
            env.reset()
    return steps / (time.perf_counter() - start)


def batched_rate(map_name: str, n_envs: int, seconds: float) -> float:
    env = BatchedMarineEnv(n_envs, seed=0, map_name=map_name)
    rng = np.random.default_rng(0)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        avail = env.get_avail_actions()
        actions = np.argmax(rng.random(avail.shape) * avail, axis=-1)
        steps += int((~env.done).sum())
        env.step(actions)
        env.get_obs()
        env.get_state()
        if env.done.all():
            env.reset()
    return steps / (time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# The numpy alternative: one game loop vectorised over [B, N] (same work as kernels._game_loop).
# ---------------------------------------------------------------------------------------------
def numpy_game_loop(pos, hp, cd, order, goal, target, A):
    B, N = hp.shape
    idx = np.arange(N)
    alive = hp > 0
    diff = pos[:, None, :, :] - pos[:, :, None, :]  # [B, i, j, 2]: pos_j - pos_i
    dist = np.sqrt((diff**2).sum(-1))
    is_ally = idx < A
    # agents with an attack order
    tgt = np.clip(target, 0, N - 1)
    t_alive = np.take_along_axis(hp, tgt, 1) > 0
    t_dist = np.take_along_axis(dist, tgt[..., None], -1)[..., 0]
    attacking = alive & is_ally & (order == K.ATTACK)
    lost = attacking & ~t_alive
    order[lost] = K.IDLE
    target[lost] = -1
    attacking &= t_alive
    fire = attacking & (t_dist <= MARINE_FIRE_RANGE) & (cd <= 0)
    want = np.where((attacking & (t_dist > MARINE_FIRE_RANGE))[..., None],
                    np.take_along_axis(pos, tgt[..., None].repeat(2, -1), 1), np.nan)
    moving = alive & is_ally & (order == K.MOVE)
    want = np.where(moving[..., None], goal, want)
    # enemies: keep or acquire the nearest agent in range, else chase in sight, else attack-move
    d_en = np.where(alive[:, None, :A], dist[:, A:, :A], np.inf)  # [B, E, A]
    nearest = d_en.argmin(-1)
    nearest_d = d_en.min(-1)
    keep = (target[:, A:] >= 0) & t_alive[:, A:] & (t_dist[:, A:] <= MARINE_FIRE_RANGE)
    new_t = np.where(keep, target[:, A:], np.where(nearest_d <= MARINE_FIRE_RANGE, nearest, -1))
    target[:, A:] = new_t
    en_alive = alive[:, A:]
    fire[:, A:] = en_alive & (new_t >= 0) & (cd[:, A:] <= 0)
    chase = en_alive & (new_t < 0) & (nearest_d < SIGHT_RANGE)
    chase_pos = np.take_along_axis(pos, nearest[..., None].repeat(2, -1), 1)
    en_want = np.where(chase[..., None], chase_pos, goal[:, A:])
    want[:, A:] = np.where((en_alive & (new_t < 0))[..., None], en_want, np.nan)
    # shots land together
    victims = np.where(fire, np.where(is_ally, target, target), 0)
    dmg = np.zeros((B, N))
    rows = np.repeat(np.arange(B), N).reshape(B, N)
    np.add.at(dmg, (rows[fire], victims[fire]), MARINE_DAMAGE)
    cd += np.where(fire, MARINE_COOLDOWN_LOOPS, 0.0)
    cd[:] = np.where(alive & (cd > 0), cd - 1.0, np.where(alive, 0.0, cd))
    hp[:] = np.maximum(hp - dmg, 0.0)
    # walk
    alive = hp > 0
    step = want - pos
    d = np.sqrt((step**2).sum(-1))
    walk = alive & ~np.isnan(d)
    frac = np.where(d > MARINE_SPEED_PER_LOOP, MARINE_SPEED_PER_LOOP / np.maximum(d, 1e-12), 1.0)
    pos += np.where(walk[..., None], step * frac[..., None], 0.0)
    # separation (all pairs at once) and clamping
    diff = pos[:, None, :, :] - pos[:, :, None, :]
    dist = np.sqrt((diff**2).sum(-1))
    both = alive[:, :, None] & alive[:, None, :] & ~np.eye(N, dtype=bool)
    overlap = both & (dist < 2 * MARINE_RADIUS)
    push = np.where(overlap, 0.5 * (2 * MARINE_RADIUS - dist) / np.maximum(dist, 1e-9), 0.0)
    pos -= (diff * push[..., None]).sum(2) * 0.5
    np.clip(pos[..., 0], MARINE_RADIUS, 32 - MARINE_RADIUS, out=pos[..., 0])
    np.clip(pos[..., 1], 8 + MARINE_RADIUS, 24 - MARINE_RADIUS, out=pos[..., 1])


def loop_kernels_rate(n_envs: int, seconds: float, steps_per_episode: int = 20) -> tuple[float, float]:
    """Env steps per second of the game-loop work alone (numba ``uniform_step_kernel`` vs numpy), replaying
    the first ``steps_per_episode`` steps of a battle (agents stand, enemies walk in and fire)."""
    env = BatchedMarineEnv(n_envs, seed=0, map_name="MarineMicro_MvsM_4")
    A, B = env.n_agents, n_envs
    sc, tr = env.scenario, env.scenario.terrain
    names = ("pos", "hp", "sh", "en", "cd", "calm", "order", "goal", "target", "shots", "prev_hp",
             "dead_seen", "last_action", "ep_step", "stats")
    uniform_names = tuple(n for n in names if n not in ("en", "calm"))
    start_state = {n: getattr(env, n).copy() for n in names}
    stop = np.ones((B, A), np.int64)
    active = np.ones(B, np.bool_)
    outs = [np.zeros(B), *[np.zeros(B, np.bool_) for _ in range(2)], np.zeros(B, np.int64),
            np.zeros(B, np.int64), np.zeros(B, np.bool_)]
    reward, term, won, dead_a, dead_e, limit = outs

    def run_numba() -> float:
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            st = {n: v.copy() for n, v in start_state.items()}
            for _ in range(steps_per_episode):  # the kernel the env runs on this (uniform) map
                K.uniform_step_kernel(stop, active, *(st[n] for n in uniform_names), env._cfg, sc.uprop, tr.wbox,
                                      A, reward, term, won, dead_a, dead_e, limit)
            steps += B * steps_per_episode
        return steps / (time.perf_counter() - t0)

    def run_numpy() -> float:
        steps, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            st = {n: v.copy() for n, v in start_state.items()}
            for _ in range(steps_per_episode * 8):
                numpy_game_loop(st["pos"], st["hp"], st["cd"], st["order"], st["goal"], st["target"], A)
            steps += B * steps_per_episode
        return steps / (time.perf_counter() - t0)

    return run_numba(), run_numpy()


def compile_times() -> tuple[float, float]:
    """Seconds to import, build an env and take one step: with an empty numba cache, then cached."""
    code = ("import time; t=time.perf_counter(); from pymarl_explained.envs import MarineBattleEnv; "
            "e=MarineBattleEnv(map_name='3m', seed=0); e.step([1,1,1]); print(time.perf_counter()-t)")
    with tempfile.TemporaryDirectory() as cache:
        environ = dict(os.environ, NUMBA_CACHE_DIR=cache)
        cold = float(subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                                    text=True, check=True).stdout)
        warm = float(subprocess.run([sys.executable, "-c", code], env=environ, capture_output=True,
                                    text=True, check=True).stdout)
    return cold, warm


def median_of(fn, repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


MARINE_MAPS = ("MarineMicro_MvsM_4", "8m", "27m_vs_30m")
SMAC_MAPS = ("2s3z", "3s5z", "MMM2", "corridor", "27m_vs_30m")

_RATE_CODE = """
import sys, time, numpy as np
from pymarl_explained.envs import BatchedMarineEnv, MarineBattleEnv
kind, map_name, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
clock = time.process_time  # CPU seconds of this process: robust to other processes on the machine
rng = np.random.default_rng(0)
if kind == "single":
    env = MarineBattleEnv(map_name=map_name, seed=0)
    env.step(np.argmax(np.asarray(env.get_avail_actions()), -1)); env.reset()  # compile outside the timing
    steps, t0 = 0, clock()
    while clock() - t0 < seconds:
        avail = np.asarray(env.get_avail_actions())
        _, term, _ = env.step(np.argmax(rng.random(avail.shape) * avail, axis=-1))
        env.get_obs(); env.get_state(); steps += 1
        if term:
            env.reset()
else:
    env = BatchedMarineEnv(64, seed=0, map_name=map_name)
    env.step(np.argmax(env.get_avail_actions(), -1)); env.reset()  # compile outside the timing
    steps, t0 = 0, clock()
    while clock() - t0 < seconds:
        avail = env.get_avail_actions()
        steps += int((~env.done).sum())
        env.step(np.argmax(rng.random(avail.shape) * avail, axis=-1)); env.get_obs(); env.get_state()
        if env.done.all():
            env.reset()
print(steps / (clock() - t0))
"""


def _subprocess_rate(pythonpath: str, kind: str, map_name: str, seconds: float) -> float:
    environ = dict(os.environ, PYTHONPATH=pythonpath)
    out = subprocess.run([sys.executable, "-c", _RATE_CODE, kind, map_name, str(seconds)], env=environ,
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return float(out.stdout.strip().splitlines()[-1])


def compare_with_revision(rev: str, repeats: int, seconds: float) -> None:
    """Marine maps: this working tree against ``git rev``, alternating, median of the ratios."""
    root = Path(__file__).resolve().parents[1]
    with package_at(rev) as old:
        print(f"marine maps, this tree vs {rev}: median of {repeats} alternating pairs of {seconds:.0f} s")
        for kind, map_name in [("single", m) for m in MARINE_MAPS] + [("batched", "MarineMicro_MvsM_4")]:
            for path in (old, str(root)):  # warm the numba caches of both versions
                _subprocess_rate(path, kind, map_name, 0.2)
            new_r, old_r = [], []
            for _ in range(repeats):
                old_r.append(_subprocess_rate(old, kind, map_name, seconds))
                new_r.append(_subprocess_rate(str(root), kind, map_name, seconds))
            ratio = statistics.median(n / o for n, o in zip(new_r, old_r, strict=True))
            label = "single env" if kind == "single" else "64 batched"
            print(f"{label:11s} {map_name:20s} {rev}: {statistics.median(old_r):9,.0f}  this tree: "
                  f"{statistics.median(new_r):9,.0f} steps per CPU second   new/old = {ratio:.2f}")


_SMACLITE_CODE = """
import json, sys, time, numpy as np, gymnasium as gym, smaclite  # noqa: F401
map_name, seconds = sys.argv[1], float(sys.argv[2])
env = gym.make(f"smaclite/{map_name}-v0", use_cpp_rvo2=False)
rng = np.random.default_rng(0)
env.reset(seed=0)
steps, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds:
    avail = np.asarray(env.unwrapped.get_avail_actions())
    _, _, done, truncated, _ = env.step(np.argmax(rng.random(avail.shape) * avail, axis=-1).tolist())
    steps += 1
    if done or truncated:
        env.reset()
print(json.dumps(steps / (time.perf_counter() - t0)))
"""


def smaclite_rates(python: str, maps: tuple[str, ...], repeats: int, seconds: float) -> None:
    """SMAClite (pure Python, its Python ORCA) with one env and random valid actions, for scale."""
    for map_name in maps:
        rates = []
        for _ in range(repeats):
            out = subprocess.run([python, "-c", _SMACLITE_CODE, map_name, str(seconds)], capture_output=True,
                                 text=True, cwd=tempfile.gettempdir())
            if out.returncode != 0:
                print(f"SMAClite     {map_name:20s} failed: {out.stderr.strip().splitlines()[-1:]}")
                break
            rates.append(json.loads(out.stdout.strip().splitlines()[-1]))
        if rates:
            print(f"SMAClite     {map_name:20s} {statistics.median(rates):10,.0f} steps/s (one env)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat of 1 s instead of 5 of 2 s")
    parser.add_argument("--repeats", type=int, default=5, help="repeats of 2 s (default 5)")
    parser.add_argument("--maps-only", action="store_true", help="only SMAC's heterogeneous maps")
    parser.add_argument("--compare", metavar="REV", help="marine maps: this tree vs git revision REV")
    parser.add_argument("--smaclite", metavar="PYTHON", help="time SMAClite installed in PYTHON")
    args = parser.parse_args()
    repeats, seconds = (1, 1.0) if args.quick else (args.repeats, 2.0)
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"median of {repeats} repeat(s) of {seconds:.0f} s")
    if args.compare:
        compare_with_revision(args.compare, repeats, seconds)
        return
    if args.smaclite:
        smaclite_rates(args.smaclite, SMAC_MAPS, repeats, seconds)
        return
    maps = SMAC_MAPS if args.maps_only else MARINE_MAPS + SMAC_MAPS[:-1]
    for map_name in maps:
        rate = median_of(lambda m=map_name: single_env_rate(m, seconds), repeats)
        print(f"single env  {map_name:20s} {rate:10,.0f} steps/s")
    for map_name in ("MarineMicro_MvsM_4",) * (not args.maps_only) + SMAC_MAPS:
        rate = median_of(lambda m=map_name: batched_rate(m, 64, seconds), repeats)
        print(f"64 batched  {map_name:20s} {rate:10,.0f} steps/s (aggregate)")
    if args.maps_only:
        return
    for n_envs in (1, 64):
        pairs = [loop_kernels_rate(n_envs, seconds / 2) for _ in range(repeats)]
        nb = statistics.median(p[0] for p in pairs)
        npy = statistics.median(p[1] for p in pairs)
        print(f"game loops only, B={n_envs:2d}: numba {nb:10,.0f}  numpy {npy:10,.0f} env steps/s  "
              f"(numba/numpy = {nb / npy:.1f}x)")
    cold, warm = compile_times()
    print(f"import + first step: {cold:.1f} s with an empty numba cache, {warm:.1f} s cached")


if __name__ == "__main__":
    main()
