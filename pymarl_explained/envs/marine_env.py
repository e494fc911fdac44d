"""``MarineBattleEnv``: the built-in, StarCraft-free SMAC battle with SMAC's exact API (every map of
:data:`pymarl_explained.envs.maps.MAPS`; the name is historical).

It is a :class:`BatchedMarineEnv` of one environment, seen through SMAC's interface: lists of
float32 observations, a float reward, a bool ``terminated``, SMAC's info dictionary. It also keeps
a replay of the last 32 episodes (``save_replay``) and can draw the battle (``render``).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from pymarl_explained.errors import InvalidActionError

from .batched import BatchedMarineEnv, env_info, is_integer_dtype
from .multiagentenv import MultiAgentEnv
from .replay import ReplayRecorder, draw_frame, map_drawing, replay_meta, save_replay_file, snapshot


class MarineBattleEnv(MultiAgentEnv):
    """SMAC's ``StarCraft2Env`` for SMAC's maps and the MarineMicro maps, simulated in-process.

    Takes SMAC's constructor arguments (all of them, kept in ``self.env_args``) plus ``backend``.
    """

    backend = "builtin"

    def __init__(self, **env_args: Any) -> None:
        self.backend_reason = str(env_args.pop("backend_reason", "built-in simulator chosen"))
        self._core = BatchedMarineEnv(1, **env_args)
        core = self._core
        self.env_args: dict = core.env_args
        self.map_name: str = core.map_name
        self.n_agents = core.n_agents
        self.n_enemies = core.n_enemies
        self.n_actions = core.n_actions
        self.episode_limit = core.episode_limit
        self.layout = core.layout
        self.max_reward = core.max_reward
        self._episode_steps = 0
        self._total_steps = 0
        self.reward = 0.0
        self._active = np.ones(1, np.bool_)
        self._replay = ReplayRecorder(replay_meta(core))
        self._replay.start(core)

    # ---------------------------------------------------------------- SMAC's API
    def reset(self) -> tuple[list[np.ndarray], np.ndarray]:
        """Start a new episode; return ``(obs list, state)`` like SMAC."""
        self._core.reset()
        self._episode_steps = 0
        self._replay.start(self._core)
        return self.get_obs(), self.get_state()

    def step(self, actions: Any) -> tuple[float, bool, dict]:
        """Take one action per agent (list, array or tensor of ints); return SMAC's triple."""
        acts = _as_action_row(actions, self.n_agents)
        _, term, info = self._core.step(acts, self._active)
        self._episode_steps += 1
        self._total_steps += 1
        self.reward = float(self._core.reward64[0])  # float64, as SMAC's Python float
        out = {"battle_won": bool(info["battle_won"][0]), "dead_allies": int(info["dead_allies"][0]),
               "dead_enemies": int(info["dead_enemies"][0])}
        if "episode_limit" in info and info["episode_limit"][0]:
            out["episode_limit"] = True
        self._replay.add(self._core, acts[0], self.reward)
        self._replay.finished = bool(term[0])
        return self.reward, bool(term[0]), out

    def get_obs(self) -> list[np.ndarray]:
        return list(self._core.get_obs()[0])

    def get_obs_agent(self, agent_id: int) -> np.ndarray:
        return self._core.get_obs()[0, agent_id]

    def get_obs_size(self) -> int:
        return self.layout.obs_size

    def get_state(self) -> np.ndarray:
        return self._core.get_state()[0]

    def get_state_size(self) -> int:
        return self.layout.state_size

    def get_avail_actions(self) -> list[list[int]]:
        return self._core.get_avail_actions()[0].tolist()

    def get_avail_agent_actions(self, agent_id: int) -> list[int]:
        return self._core.get_avail_actions()[0, agent_id].tolist()

    def get_total_actions(self) -> int:
        return self.n_actions

    def get_env_info(self) -> dict:
        return env_info(self)

    def get_stats(self) -> dict:
        return self._core.get_stats()

    def seed(self) -> int:
        """The seed in use (drawn at random when none was given)."""
        return self._core.seed_value

    def close(self) -> None:
        """Nothing to release (no game process)."""

    # ---------------------------------------------------------------- hand placement
    def set_units(self, **kwargs: Any) -> None:
        """Place units by hand; see :meth:`BatchedMarineEnv.set_units` for the arguments."""
        self._core.set_units(**kwargs, env=0)
        self._replay.restart(self._core)

    # ---------------------------------------------------------------- watching
    def render(self, mode: str = "human") -> Any:
        """Draw the present state with matplotlib: a Figure, or an RGB array with ``mode="rgb_array"``."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.6))
        frame = snapshot(self._core)
        draw_frame(ax, frame, self.n_agents, f"{self.map_name}, step {self._episode_steps}",
                   **map_drawing(self._core))
        if mode == "rgb_array":
            fig.canvas.draw()
            img = np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()
            plt.close(fig)
            return img
        return fig

    def save_replay(self) -> str:
        """Write the episodes recorded since construction or the last save; print and return the path.

        Directory: ``replay_dir``, or ``replays/`` under the current directory when empty (SMAC's
        default is the game's own Replays folder, which does not exist here). File name:
        ``{replay_prefix or map_name}_{date-time}.npz``.
        """
        replay_dir = self.env_args["replay_dir"] or os.path.join(os.getcwd(), "replays")
        prefix = self.env_args["replay_prefix"] or self.map_name
        path = save_replay_file(self._replay.to_replay(), replay_dir, prefix)
        self._replay.keep_current_only()
        print(f"Replay saved at: {path}")
        return path

    @property
    def replay(self):
        """The episodes recorded so far, as a :class:`~pymarl_explained.envs.replay.Replay`."""
        return self._replay.to_replay()


def _as_action_row(actions: Any, n_agents: int) -> np.ndarray:
    """Turn a list/array/tensor of ``n_agents`` integer actions into an int64 array ``[1, A]``."""
    if hasattr(actions, "detach"):  # torch tensor
        actions = actions.detach().cpu().numpy()
    arr = np.asarray(actions)
    if arr.ndim != 1 or arr.shape[0] != n_agents:
        got = arr.shape[0] if arr.ndim == 1 else f"an array of shape {arr.shape}"
        raise InvalidActionError(f"step() needs one action per agent: {n_agents} actions, got {got}.")
    if not is_integer_dtype(arr.dtype):
        if not np.all(np.mod(arr.astype(float), 1) == 0):
            raise InvalidActionError(f"actions must be integers, got {arr.tolist()}.")
        arr = arr.astype(np.int64)
    return arr.astype(np.int64).reshape(1, n_agents)
