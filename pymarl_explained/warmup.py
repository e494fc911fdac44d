"""Build once what a first run would otherwise build while the user waits.

- the compiled GRU kernel (``modules/agents/gru_kernel.py``; without a compiler this says why and
  training uses torch's GRU kernel);
- the built-in simulator's numba functions for the marine maps, compiled by one random episode of
  MarineMicro_MvsM_4 and cached on disk next to their source (about 20 s when nothing is cached).

``make install`` runs it: ``python -m pymarl_explained.warmup``.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def warm_up(map_name: str = "MarineMicro_MvsM_4") -> dict[str, float]:
    """Build the kernel and compile the simulator; returns the seconds each took."""
    from pymarl_explained.envs import REGISTRY as env_REGISTRY
    from pymarl_explained.modules.agents.gru_kernel import load_extension

    start = time.perf_counter()
    load_extension()
    kernel_s = time.perf_counter() - start

    start = time.perf_counter()
    env = env_REGISTRY["sc2"](map_name=map_name, backend="builtin", seed=0)
    rng = np.random.default_rng(0)
    env.reset()
    terminated = False
    while not terminated:
        avail = np.asarray(env.get_avail_actions())
        actions = [int(rng.choice(np.flatnonzero(row))) for row in avail]
        _, terminated, _ = env.step(actions)
        env.get_obs()
        env.get_state()
    env.close()
    return {"gru_kernel_s": kernel_s, "simulator_s": time.perf_counter() - start}


def main() -> int:
    seconds = warm_up()
    print(f"warm-up: GRU kernel {seconds['gru_kernel_s']:.0f} s, simulator {seconds['simulator_s']:.0f} s "
          "(both cached for later runs)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
