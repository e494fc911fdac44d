"""Replays of built-in battles: recording, saving, loading, and drawing them with matplotlib.

The StarCraft II replay equivalent. A replay file (``.npz``) holds, for each recorded episode and
each step (frame 0 is the state after ``reset``): unit positions, health, weapon cooldowns,
orders, targets, shots fired, the agents' actions and the reward. Typical use in a notebook::

    env.save_replay()                         # prints and returns the path
    replay = load_replay(path)
    anim = animate_replay(replay, episode=0)  # then HTML(anim.to_jshtml())
    fig = plot_replay_frames(replay, n_frames=6)
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pymarl_explained.utils.atomic import atomic_output

from .maps import MAP_SIZE, PATHABLE_Y_MAX, PATHABLE_Y_MIN
from .units import MARINE_FIRE_RANGE, MARINE_HEALTH, MARINE_RADIUS

FIELDS = ("pos", "hp", "cd", "order", "target", "shots", "actions", "reward")
"""Per-frame arrays of an episode record."""
ORDER_NAMES = ("idle", "move", "attack", "attack-move")
ALLY_COLOUR = "tab:blue"
ENEMY_COLOUR = "tab:red"


@dataclass
class Replay:
    """Recorded episodes: ``episodes[k][field]`` is an array with one row per frame."""

    meta: dict
    episodes: list[dict[str, np.ndarray]] = field(default_factory=list)

    def frame(self, episode: int, t: int) -> dict[str, np.ndarray]:
        """The arrays of one frame."""
        return {k: v[t] for k, v in self.episodes[episode].items()}


class ReplayRecorder:
    """Keeps the per-step record of the last ``max_episodes`` episodes of a single environment."""

    def __init__(self, meta: dict, max_episodes: int = 32) -> None:
        self.meta = meta
        self.episodes: deque[dict[str, list]] = deque(maxlen=max_episodes)
        self.finished = False

    def start(self, core: Any) -> None:
        """Open a new episode with the state just after a reset (or a ``set_units``).

        An episode in which no step was taken (e.g. the constructor's reset) is replaced.
        """
        if self.episodes and len(self.episodes[-1]["pos"]) <= 1:
            self.episodes.pop()
        self.episodes.append({k: [] for k in FIELDS})
        self.finished = False
        self.add(core, np.full(core.n_agents, -1), 0.0)

    def restart(self, core: Any) -> None:
        """Replace the current episode by one starting from the present state."""
        if self.episodes:
            self.episodes.pop()
        self.start(core)

    def add(self, core: Any, actions: np.ndarray, reward: float) -> None:
        """Append the present state of environment 0 of ``core`` and the step that led to it."""
        ep = self.episodes[-1]
        for name, value in snapshot(core, actions, reward).items():
            ep[name].append(value)

    def to_replay(self) -> Replay:
        return Replay(dict(self.meta), [{k: np.stack(v) for k, v in ep.items()} for ep in self.episodes])

    def keep_current_only(self) -> None:
        """After a save: forget the saved episodes but keep an unfinished one, which will be
        saved again, complete, by the next save."""
        current = self.episodes[-1] if self.episodes else None
        self.episodes.clear()
        if current is not None and not self.finished:
            self.episodes.append(current)


class BatchReplayRecorder:
    """Keeps the per-step record of the last ``max_episodes`` episodes of every environment of a
    :class:`BatchedMarineEnv` (what the ParallelRunner plays with ``save_replay=True``).

    The environments of a batch are reset together and end at different steps; each one's
    episode is a separate record, ordered by environment within a batch. Recording costs one
    snapshot per stepped environment and step, so it is switched on only when a replay is wanted.
    """

    def __init__(self, meta: dict, n_envs: int, max_episodes: int = 32) -> None:
        self.meta = meta
        self.n_envs = n_envs
        self.done: deque[dict[str, list]] = deque(maxlen=max_episodes)
        self.current: list[dict[str, list] | None] = [None] * n_envs
        self.finished = [False] * n_envs

    def start(self, core: Any) -> None:
        """A batch reset: close the episodes in progress and open one per environment."""
        self._close_current()
        for env in range(self.n_envs):
            frame = snapshot(core, np.full(core.n_agents, -1), 0.0, env=env)
            self.current[env] = {k: [v] for k, v in frame.items()}
            self.finished[env] = False

    def add(self, core: Any, actions: np.ndarray, rewards: np.ndarray, stepped: np.ndarray,
            terminated: np.ndarray) -> None:
        """Append the new state of every environment stepped in this step."""
        for env in np.flatnonzero(stepped):
            episode = self.current[env]
            if episode is None:
                continue
            for name, value in snapshot(core, actions[env], float(rewards[env]), env=int(env)).items():
                episode[name].append(value)
            self.finished[env] = bool(terminated[env])

    def _close_current(self) -> None:
        for env, episode in enumerate(self.current):
            if episode is not None and len(episode["pos"]) > 1:  # an episode with no step is dropped
                self.done.append(episode)
            self.current[env] = None

    def to_replay(self) -> Replay:
        episodes = list(self.done) + [ep for ep in self.current if ep is not None and len(ep["pos"]) > 1]
        return Replay(dict(self.meta), [{k: np.stack(v) for k, v in ep.items()} for ep in episodes])

    def keep_current_only(self) -> None:
        """After a save: forget the saved episodes, keep the unfinished ones (saved complete later)."""
        self.done.clear()
        for env in range(self.n_envs):
            if self.finished[env]:
                self.current[env] = None


def map_drawing(core: Any) -> dict:
    """What drawing a battle needs besides the units: per-unit health maxima and radii, and the
    pathing grid (left out on the marine band, the drawing's default)."""
    sc = core.scenario
    out = {"health_max": core.health_max.tolist(), "radius": [t.radius for t in sc.unit_types]}
    if sc.params.map_type != "marines" or sc.params.a_race != sc.params.b_race:
        out["pathing"] = sc.terrain.pathing.tolist()
    return out


def replay_meta(core: Any) -> dict:
    """What a replay file says about its battle: map, sizes, seed, the env arguments (those that
    are plain values) and :func:`map_drawing`."""
    env_args = {k: v for k, v in core.env_args.items() if v is None or isinstance(v, bool | int | float | str)}
    return {"map_name": core.map_name, "n_agents": core.n_agents, "n_enemies": core.n_enemies,
            "step_mul": int(core.env_args["step_mul"]), "seed": core.seed_value, "env_args": env_args,
            **map_drawing(core)}


def snapshot(core: Any, actions: Any = None, reward: float = 0.0, env: int = 0) -> dict[str, Any]:
    """One replay frame of environment ``env`` of a :class:`BatchedMarineEnv` (compact dtypes)."""
    if actions is None:
        actions = np.full(core.n_agents, -1)
    return {
        "pos": core.pos[env].astype(np.float32),
        "hp": core.hp[env].astype(np.float32),
        "cd": core.cd[env].astype(np.float32),
        "order": core.order[env].astype(np.int8),
        "target": core.target[env].astype(np.int16),
        "shots": core.shots[env].astype(np.int16),
        "actions": np.asarray(actions, dtype=np.int16),
        "reward": np.float32(reward),
    }


def save_replay_file(replay: Replay, replay_dir: str, prefix: str) -> str:
    """Write ``replay`` atomically (temporary file, then ``os.replace``); return the path."""
    os.makedirs(replay_dir, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d-%H-%M-%S")
    path = os.path.join(replay_dir, f"{prefix}_{stamp}.npz")
    k = 1
    while os.path.exists(path):
        path = os.path.join(replay_dir, f"{prefix}_{stamp}_{k}.npz")
        k += 1
    arrays = {f"ep{i}/{name}": arr for i, ep in enumerate(replay.episodes) for name, arr in ep.items()}
    arrays["meta"] = np.array(json.dumps({**replay.meta, "n_episodes": len(replay.episodes)}))
    with atomic_output(path) as tmp:  # never a half-written replay; mode 0644 under umask 022
        np.savez_compressed(tmp, **arrays)
    return path


def load_replay(path: str | os.PathLike) -> Replay:
    """Read a replay written by ``save_replay``."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        episodes = [
            {name: data[f"ep{i}/{name}"] for name in FIELDS} for i in range(meta["n_episodes"])
        ]
    return Replay(meta, episodes)


# ----------------------------------------------------------------------------------------------
# Drawing.
# ----------------------------------------------------------------------------------------------
def draw_frame(ax: Any, frame: dict[str, np.ndarray], n_agents: int, title: str = "",
               health_max: Any = None, radius: Any = None, pathing: Any = None) -> None:
    """Draw one frame on ``ax``: the pathable cells, units (faded with lost health, a cross when
    dead), the weapon range of living agents, and a line from every unit that fired to its target.

    ``health_max`` and ``radius`` (one value per unit) and ``pathing`` (SMAC's ``[x, y]`` grid)
    default to the marine maps' numbers and band.
    """
    from matplotlib.patches import Circle, Rectangle

    ax.clear()
    pos, hp, shots, target = frame["pos"], frame["hp"], frame["shots"], frame["target"]
    n = len(hp)
    health_max = np.full(n, MARINE_HEALTH) if health_max is None else np.asarray(health_max, float)
    radius = np.full(n, MARINE_RADIUS) if radius is None else np.asarray(radius, float)
    if pathing is None:
        ax.add_patch(Rectangle((0, PATHABLE_Y_MIN), MAP_SIZE, PATHABLE_Y_MAX - PATHABLE_Y_MIN,
                               facecolor="0.93", edgecolor="0.6"))
        y_lim = (PATHABLE_Y_MIN - 1, PATHABLE_Y_MAX + 1)
    else:
        grid = np.asarray(pathing)
        ax.imshow(np.where(grid.T > 0, 0.93, 0.75), cmap="gray", vmin=0, vmax=1, origin="lower",
                  extent=(0, grid.shape[0], 0, grid.shape[1]), interpolation="nearest")
        y_lim = (0, grid.shape[1])
    for k in range(n):
        colour = ALLY_COLOUR if k < n_agents else ENEMY_COLOUR
        x, y = pos[k]
        if hp[k] <= 0:
            ax.plot(x, y, marker="x", color=colour, alpha=0.5, markersize=5)
            continue
        alpha = 0.25 + 0.75 * min(float(hp[k]) / float(health_max[k]), 1.0)
        ax.add_patch(Circle((x, y), radius[k], color=colour, alpha=alpha))
        label = str(k) if k < n_agents else str(k - n_agents)
        ax.text(x, y, label, ha="center", va="center", fontsize=6, color="white")
        if k < n_agents:
            ax.add_patch(Circle((x, y), MARINE_FIRE_RANGE, fill=False, color=colour, alpha=0.08))
        t = int(target[k])
        if shots[k] > 0 and t >= 0:
            ax.plot([x, pos[t][0]], [y, pos[t][1]], color=colour, linewidth=0.8, alpha=0.7)
    ax.set_xlim(0, MAP_SIZE)
    ax.set_ylim(*y_lim)
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=8)


def _map_kwargs(meta: dict) -> dict:
    """The drawing arguments a replay's metadata carries (none for older replays: marine defaults)."""
    return {k: meta[k] for k in ("health_max", "radius", "pathing") if k in meta}


def _frame_title(replay: Replay, episode: int, t: int) -> str:
    ep = replay.episodes[episode]
    n_agents = replay.meta["n_agents"]
    alive_a = int((ep["hp"][t][:n_agents] > 0).sum())
    alive_e = int((ep["hp"][t][n_agents:] > 0).sum())
    ret = float(ep["reward"][: t + 1].sum())
    return f"step {t}: {alive_a} vs {alive_e} alive, return {ret:.2f}"


def plot_replay_frames(replay: Replay, episode: int = 0, n_frames: int = 6) -> Any:
    """A strip of ``n_frames`` evenly spaced frames of one episode, as a matplotlib Figure.

    The caller saves it, e.g. ``fig.savefig("figures/battle.png", metadata={"Software": None})``.
    """
    import matplotlib.pyplot as plt

    ep = replay.episodes[episode]
    T = len(ep["pos"])
    steps = np.unique(np.linspace(0, T - 1, num=min(n_frames, T)).round().astype(int))
    fig, axes = plt.subplots(1, len(steps), figsize=(2.6 * len(steps), 2.0), squeeze=False)
    for ax, t in zip(axes[0], steps, strict=True):
        draw_frame(ax, replay.frame(episode, int(t)), replay.meta["n_agents"],
                   _frame_title(replay, episode, int(t)), **_map_kwargs(replay.meta))
    fig.suptitle(f"{replay.meta.get('map_name', '')}: agents blue, enemies red", fontsize=9)
    fig.tight_layout()
    return fig


def animate_replay(replay: Replay, episode: int = 0, interval_ms: int = 200) -> Any:
    """A ``matplotlib.animation.FuncAnimation`` of one episode (``HTML(anim.to_jshtml())``)."""
    import matplotlib.pyplot as plt
    from matplotlib.animation import FuncAnimation

    fig, ax = plt.subplots(figsize=(6, 3.6))
    n_agents = replay.meta["n_agents"]
    T = len(replay.episodes[episode]["pos"])

    def update(t: int) -> list:
        draw_frame(ax, replay.frame(episode, t), n_agents, _frame_title(replay, episode, t),
                   **_map_kwargs(replay.meta))
        return []

    anim = FuncAnimation(fig, update, frames=T, interval=interval_ms, blit=False)
    plt.close(fig)
    return anim


def save_replay_gif(replay: Replay, path: str | os.PathLike, episode: int = -1, fps: int = 5) -> str:
    """Write one episode of ``replay`` as an animated GIF (atomically, mode 0644); return the path."""
    from matplotlib.animation import PillowWriter

    episode = episode % len(replay.episodes)
    anim = animate_replay(replay, episode=episode, interval_ms=1000 // fps)
    with atomic_output(path) as tmp:
        anim.save(tmp, writer=PillowWriter(fps=fps), dpi=80)
    return os.fspath(path)
