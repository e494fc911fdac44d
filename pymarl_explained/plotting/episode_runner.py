"""Pictures of the EpisodeRunner (notebook 02_episode_runner).

- :func:`plot_t_and_t_env`: ``t`` (steps of each episode) and ``t_env`` (env steps of the whole
  run) over a sequence of training and test episodes: ``t`` restarts at 0 every episode, ``t_env``
  only grows in training episodes.
- :func:`plot_episode_batch`: what one episode's EpisodeBatch holds at each ``t``: the agents'
  actions, reward, ``terminated`` and ``filled``, with the extra row after the last step and the
  zero padding up to ``episode_limit + 1``.

Both return a pyplot Figure; the notebook calls ``plt.show()`` and saves it with
:func:`pymarl_explained.plotting.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

TRAIN_COLOUR = "tab:blue"
TEST_COLOUR = "tab:orange"


def plot_t_and_t_env(records: Sequence[Mapping[str, Any]], title: str | None = None) -> Any:
    """Two panels over episodes: the length ``t`` of each episode, and ``t_env`` after it.

    ``records`` holds one mapping per episode, in the order played, with keys ``t`` (the
    runner's ``t`` after the episode), ``t_env`` (the runner's ``t_env`` after it) and
    ``test_mode`` (bool).
    """
    import matplotlib.pyplot as plt

    if not records:
        raise ValueError("plot_t_and_t_env needs at least one episode record")
    n = len(records)
    x = np.arange(1, n + 1)
    t = np.array([int(r["t"]) for r in records])
    t_env = np.array([int(r["t_env"]) for r in records])
    test = np.array([bool(r["test_mode"]) for r in records])
    colours = [TEST_COLOUR if m else TRAIN_COLOUR for m in test]

    fig, (ax_t, ax_env) = plt.subplots(1, 2, figsize=(10, 3.4))
    ax_t.bar(x, t, color=colours)
    for xi, ti in zip(x, t, strict=True):
        ax_t.text(xi, ti, str(ti), ha="center", va="bottom", fontsize=7)
    ax_t.set_xlabel("episode")
    ax_t.set_ylabel("t at the end of the episode")
    ax_t.set_title("t: steps inside each episode (reset to 0 by reset())", fontsize=9)
    ax_t.set_xticks(x)

    # t_env before and after every episode: flat during test episodes
    before = np.concatenate([[0], t_env[:-1]])
    for xi, b, a, m in zip(x, before, t_env, test, strict=True):
        ax_env.plot([xi - 1, xi], [b, a], color=TEST_COLOUR if m else TRAIN_COLOUR, linewidth=2.5)
    ax_env.plot(np.concatenate([[0], x]), np.concatenate([[0], t_env]), "k.", markersize=4)
    ax_env.set_xlabel("episodes played")
    ax_env.set_ylabel("t_env")
    ax_env.set_title("t_env: env steps of the whole run (training episodes only)", fontsize=9)
    ax_env.set_xticks(np.concatenate([[0], x]))
    for ax in (ax_t, ax_env):
        ax.grid(alpha=0.3)
    from matplotlib.patches import Patch

    ax_env.legend(handles=[Patch(color=TRAIN_COLOUR, label="training episode"),
                           Patch(color=TEST_COLOUR, label="test episode")], fontsize=8, loc="upper left")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_episode_batch(batch: Any, episode: int = 0, title: str | None = None) -> Any:
    """One episode of an EpisodeBatch, step by step (columns are ``t``).

    Rows: each agent's action (``-`` where nothing is stored), the reward, ``terminated`` and
    ``filled``. The last step of the episode ``T - 1``, the extra row ``T`` (final observation and
    the action selected there) and the padding after it are marked.
    """
    import matplotlib.pyplot as plt

    actions = batch["actions"][episode, :, :, 0].numpy()  # (T_max, n_agents)
    reward = batch["reward"][episode, :, 0].numpy()
    terminated = batch["terminated"][episode, :, 0].numpy()
    filled = batch["filled"][episode, :, 0].numpy()
    T_max, n_agents = actions.shape
    n_filled = int(filled.sum())  # T + 1 rows were written: steps 0..T-1 and the extra row T

    rows = [f"agent {a} action" for a in range(n_agents)] + ["reward", "terminated", "filled"]
    grid = np.zeros((len(rows), T_max))
    grid[:n_agents] = np.where(filled[None, :] > 0, 0.35, 0.0)
    grid[n_agents] = np.where(reward > 0, 0.6, 0.0)
    grid[n_agents + 1] = terminated * 0.9
    grid[n_agents + 2] = filled * 0.75

    fig, ax = plt.subplots(figsize=(min(0.2 * T_max + 2.5, 16), 0.38 * len(rows) + 1.4))
    ax.imshow(grid, aspect="auto", cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
    for t in range(T_max):
        for a in range(n_agents):
            if filled[t]:
                ax.text(t, a, str(int(actions[t, a])), ha="center", va="center", fontsize=6)
        if filled[t]:
            if reward[t]:
                ax.text(t, n_agents, f"{reward[t]:.2f}".lstrip("0"), ha="center", va="center",
                        fontsize=5, rotation=90)
            ax.text(t, n_agents + 1, str(int(terminated[t])), ha="center", va="center", fontsize=6)
            ax.text(t, n_agents + 2, str(int(filled[t])), ha="center", va="center", fontsize=6)
    if n_filled:
        last = n_filled - 1
        ax.axvline(last - 0.5, color="tab:red", linewidth=1.2)
        ax.axvline(last + 0.5, color="0.3", linewidth=1.2, linestyle="--")
        if last + 1 < T_max:
            ax.text(last + 0.8, 0, f"<- extra row t={last}: final obs + extra action", ha="left",
                    va="center", fontsize=7, color="tab:red")
        if last + 1 < T_max:
            ax.text((last + T_max) / 2, len(rows) / 2 - 0.5, "padding: filled = 0", ha="center",
                    va="center", fontsize=8, color="0.35")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    step = 5 if T_max > 20 else 1
    ax.set_xticks(range(0, T_max, step))
    ax.set_xlabel("t")
    ax.set_title(title or f"episode {episode} of the batch: {n_filled - 1} steps, max_seq_length {T_max}",
                 fontsize=9)
    fig.tight_layout()
    return fig
