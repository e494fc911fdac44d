"""The real-game backend: a thin wrapper around ``smac.env.StarCraft2Env``.

``smac`` is imported only when this backend is chosen. The checks here turn the usual
installation mistakes into one clear message each:

* the PyPI package called ``smac`` is SMAC3, a hyperparameter optimiser, not the StarCraft
  Multi-Agent Challenge;
* StarCraft II is not installed, or ``SC2PATH`` does not point to it;
* a ``MarineMicro_*`` map is asked of the real game, which needs that user map file installed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

from pymarl_explained.errors import EnvironmentSetupError

from .args import BUILTIN_DEFAULTS
from .multiagentenv import MultiAgentEnv

SMAC_GIT = "git+https://github.com/oxwhirl/smac.git"
INSTALL_SMAC = f"pip install {SMAC_GIT}"
INSTALL_SC2 = (
    "install StarCraft II (Linux: download SC2.4.10 from https://github.com/Blizzard/s2client-proto "
    "and unzip it into ~/StarCraftII with the password 'iagreetotheeula'; Windows/macOS: the "
    "Battle.net client), copy SMAC's maps into StarCraftII/Maps/SMAC_Maps, and set "
    "SC2PATH=/path/to/StarCraftII if it is not ~/StarCraftII"
)


def default_sc2_path() -> str:
    """SMAC's default install location, ``~/StarCraftII``."""
    return os.path.expanduser("~/StarCraftII")


def find_sc2() -> tuple[str | None, str]:
    """Return ``(path, explanation)``: where StarCraft II is, or None and why it was not found."""
    env_path = os.environ.get("SC2PATH")
    if env_path:
        if os.path.isdir(env_path):
            return env_path, f"StarCraft II found at SC2PATH={env_path}"
        return None, f"StarCraft II not found: SC2PATH={env_path} does not exist"
    if os.path.isdir(default_sc2_path()):
        return default_sc2_path(), f"StarCraft II found at {default_sc2_path()}"
    return None, "StarCraft II not found: SC2PATH unset and ~/StarCraftII missing"


def smac_status() -> tuple[bool, str]:
    """Return ``(usable, explanation)`` for the installed ``smac`` package, without importing
    StarCraft2Env's game-launching code paths more than needed."""
    if _find_spec("smac") is None:
        return False, f"the SMAC package is not installed ({INSTALL_SMAC})"
    try:
        smac = importlib.import_module("smac")
    except Exception as exc:  # a broken install must not crash backend resolution
        return False, f"the smac package cannot be imported ({type(exc).__name__}: {exc})"
    if _is_smac3(smac):
        return False, "the installed 'smac' package is SMAC3 (a hyperparameter optimiser), not SMAC"
    try:
        env_mod = importlib.import_module("smac.env")
        _ = env_mod.StarCraft2Env
    except Exception as exc:
        return False, f"smac.env.StarCraft2Env cannot be imported ({type(exc).__name__}: {exc})"
    return True, "the SMAC package is installed"


def _is_smac3(module: Any) -> bool:
    """SMAC3 (automl/SMAC3) exposes a ``version`` 1.x/2.x, a ``facade`` module and ``Scenario``;
    the StarCraft Multi-Agent Challenge has ``smac.env`` instead."""
    markers = ("Scenario", "facade", "HyperparameterOptimizationFacade")
    if any(hasattr(module, name) for name in markers):
        return True
    if _find_spec("smac.facade") is not None:
        return True
    return _find_spec("smac.env") is None


def _find_spec(name: str) -> Any:
    """``importlib.util.find_spec`` that answers None instead of raising on odd installs."""
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError, AttributeError):
        return None


def check_starcraft_available(map_name: str) -> None:
    """Raise :class:`EnvironmentSetupError` with the fix if the real game cannot run ``map_name``."""
    usable, why = smac_status()
    if not usable:
        if "SMAC3" in why:
            raise EnvironmentSetupError(
                "The installed Python package 'smac' is SMAC3, a hyperparameter optimiser from "
                "PyPI, not the StarCraft Multi-Agent Challenge. Fix: `pip uninstall smac` then "
                f"`{INSTALL_SMAC}`. Or use backend='builtin' (no StarCraft II needed)."
            )
        raise EnvironmentSetupError(
            f"backend='starcraft' needs the StarCraft Multi-Agent Challenge: {why}. "
            f"Fix: `{INSTALL_SMAC}`. Or use backend='builtin' (no StarCraft II needed)."
        )
    path, why = find_sc2()
    if path is None:
        raise EnvironmentSetupError(
            f"backend='starcraft' needs the StarCraft II game: {why}. To fix it, {INSTALL_SC2}. "
            "Or use backend='builtin' (no StarCraft II needed)."
        )
    if map_name.startswith("MarineMicro"):
        maps_dir = os.path.join(path, "Maps")
        raise EnvironmentSetupError(
            f"Map {map_name!r} is not one of SMAC's maps: on the real game it needs the user map "
            f"file {map_name}.SC2Map under {maps_dir} and a map registry that knows it (a PyMARL "
            "fork's user-maps registry). Use backend='builtin' for the MarineMicro maps, or a "
            "SMAC map such as 3m or 8m with the real game."
        )


class StarCraftEnv(MultiAgentEnv):
    """``smac.env.StarCraft2Env`` behind the package's ``MultiAgentEnv`` interface."""

    backend = "starcraft"

    def __init__(self, **env_args: Any) -> None:
        self.backend_reason = str(env_args.pop("backend_reason", "real game chosen"))
        env_args.pop("backend", None)
        for name in BUILTIN_DEFAULTS:  # options of the built-in simulator only
            env_args.pop(name, None)
        self.env_args = dict(env_args)
        check_starcraft_available(env_args["map_name"])
        from smac.env import StarCraft2Env

        self._env = StarCraft2Env(**env_args)
        self.episode_limit = self._env.episode_limit
        self.n_agents = self._env.n_agents

    def __getattr__(self, name: str) -> Any:
        # everything else (n_enemies, battles_won, ...) is the wrapped env's
        if name == "_env":
            raise AttributeError(name)
        return getattr(self._env, name)

    def step(self, actions: Any) -> tuple[float, bool, dict]:
        return self._env.step(actions)

    def get_obs(self) -> list:
        return self._env.get_obs()

    def get_obs_agent(self, agent_id: int) -> Any:
        return self._env.get_obs_agent(agent_id)

    def get_obs_size(self) -> int:
        return self._env.get_obs_size()

    def get_state(self) -> Any:
        return self._env.get_state()

    def get_state_size(self) -> int:
        return self._env.get_state_size()

    def get_avail_actions(self) -> list:
        return self._env.get_avail_actions()

    def get_avail_agent_actions(self, agent_id: int) -> Any:
        return self._env.get_avail_agent_actions(agent_id)

    def get_total_actions(self) -> int:
        return self._env.get_total_actions()

    def reset(self) -> Any:
        return self._env.reset()

    def render(self, mode: str = "human") -> Any:
        return self._env.render(mode) if mode != "human" else self._env.render()

    def close(self) -> None:
        self._env.close()

    def seed(self) -> Any:
        return self._env.seed()

    def save_replay(self) -> Any:
        return self._env.save_replay()

    def get_env_info(self) -> dict:
        return self._env.get_env_info()

    def get_stats(self) -> dict:
        return self._env.get_stats()
