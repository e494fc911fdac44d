"""Random-policy sanity table: win rate, episode length and return of a uniformly random valid policy
on every map of the built-in simulator (SMAC's 23 maps, then the MarineMicro maps).

Run from the repository root::

    .venv/bin/python benchmarks/random_policy.py               # 256 episodes per map, ~3 minutes
    .venv/bin/python benchmarks/random_policy.py --episodes 64

Each map is played by 64 batched environments (seed 0, environment i seeded 0 + i) with SMAC's
default arguments (dense reward scaled to 20 for a flawless win); actions are drawn uniformly among
the available ones (numpy seed 0). Prints a markdown table.
"""

from __future__ import annotations

import argparse

import numpy as np

from pymarl_explained.envs import BatchedMarineEnv
from pymarl_explained.envs.maps import MAPS, SMAC_MAPS


def play(map_name: str, n_episodes: int, n_envs: int = 64) -> dict:
    """Play ``n_episodes`` (a multiple of ``n_envs``) random episodes; return the averages."""
    env = BatchedMarineEnv(n_envs, seed=0, map_name=map_name)
    rng = np.random.default_rng(0)
    wins, lengths, returns, timeouts = [], [], [], []
    for _ in range(max(1, n_episodes // n_envs)):
        env.reset()
        ret, length = np.zeros(n_envs), np.zeros(n_envs)
        won = np.zeros(n_envs, bool)
        while not env.done.all():
            active = ~env.done
            avail = env.get_avail_actions()
            r, _, info = env.step(np.argmax(rng.random(avail.shape) * avail, axis=-1))
            ret += r * active
            length += active
            won |= info["battle_won"]
        wins += won.tolist()
        lengths += length.tolist()
        returns += ret.tolist()
        timeouts += (length >= env.episode_limit).tolist()
    return {"win": float(np.mean(wins)), "length": float(np.mean(lengths)), "return": float(np.mean(returns)),
            "timeout": float(np.mean(timeouts)), "limit": env.episode_limit, "episodes": len(wins)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=256, help="episodes per map (multiple of 64)")
    args = parser.parse_args()
    print("| map | episodes | win rate | mean length (limit) | time-outs | mean return |")
    print("|---|---:|---:|---:|---:|---:|")
    names = list(SMAC_MAPS) + [m for m in MAPS if m not in SMAC_MAPS and "_" not in m[len("MarineMicro_MvsM_"):]]
    for name in names:
        res = play(name, args.episodes)
        print(f"| {name} | {res['episodes']} | {res['win']:.1%} | {res['length']:.1f} ({res['limit']}) | "
              f"{res['timeout']:.0%} | {res['return']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
