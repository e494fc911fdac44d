"""Choosing between the built-in simulator and the real StarCraft II game.

``env_args["backend"]``: ``"builtin"`` always uses the simulator; ``"starcraft"`` always uses the
real game (and fails with an explanation if it is not installed); ``"auto"`` (default) uses the
real game only when both the SMAC package and the game are present, else the simulator.
"""

from __future__ import annotations

from typing import Any

from pymarl_explained.errors import EnvironmentSetupError

from .args import complete_env_args
from .batched import BatchedMarineEnv
from .maps import get_map_params
from .marine_env import MarineBattleEnv
from .multiagentenv import MultiAgentEnv
from .starcraft import StarCraftEnv, find_sc2, smac_status

_announced: set[str] = set()


def resolve_backend(env_args: dict) -> tuple[str, str]:
    """Return ``(backend, reason)``: "builtin" or "starcraft" and one line saying why.

    Builds nothing, so the training code can record the decision in the run's config.
    """
    choice = env_args.get("backend", "auto")
    if choice == "builtin":
        return "builtin", "requested with env_args.backend=builtin"
    if choice == "starcraft":
        return "starcraft", "requested with env_args.backend=starcraft"
    if choice != "auto":
        raise EnvironmentSetupError(f"env_args.backend={choice!r} is not one of auto, builtin, starcraft.")
    path, sc2_why = find_sc2()  # checked first: it needs no import
    if path is None:
        return "builtin", sc2_why
    usable, smac_why = smac_status()
    if not usable:
        return "builtin", smac_why
    return "starcraft", f"SMAC installed and {sc2_why}"


def announce(backend: str, reason: str) -> None:
    """Print the backend decision once per process per distinct decision."""
    line = f"[pymarl_explained] env backend: {backend} ({reason})"
    if line not in _announced:
        _announced.add(line)
        print(line, flush=True)


def make_env(**env_args: Any) -> MultiAgentEnv:
    """``REGISTRY["sc2"]``: build the SMAC environment on the resolved backend."""
    args = complete_env_args(env_args)
    backend, reason = resolve_backend(args)
    announce(backend, reason)
    args["backend_reason"] = reason
    if backend == "starcraft":
        return StarCraftEnv(**args)
    get_map_params(args["map_name"])  # unknown map: clear error before anything else
    args["backend"] = backend  # env.env_args records the resolved backend
    return MarineBattleEnv(**args)


def make_batched_env(n_envs: int, **env_args: Any) -> BatchedMarineEnv:
    """B built-in environments in lockstep (env i seeded ``seed + i``), for the parallel runner."""
    args = complete_env_args(env_args)
    backend, reason = resolve_backend(args)
    if backend == "starcraft":
        raise EnvironmentSetupError(
            f"The batched environment runs only on the built-in simulator, but the backend resolved "
            f"to starcraft ({reason}). Set env_args.backend=builtin, or use one real game per "
            "worker process."
        )
    announce(backend, reason)
    args["backend"] = backend
    seed = args.pop("seed")
    env = BatchedMarineEnv(n_envs, seed=seed, **args)
    env.backend = "builtin"
    env.backend_reason = reason
    return env
