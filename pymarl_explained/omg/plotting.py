"""Figures of notebook 04 (the OMG batch-sizing notes): batch sizes, ``_refine_batch``'s regrouping, subgoals.

OMG here is a reconstruction (the fork's code is not public); the regrouping drawn by
:func:`plot_refine_batch` is the package's interpretation of ``_refine_batch``.
"""

from __future__ import annotations

import numpy as np
from matplotlib import pyplot as plt
from matplotlib.figure import Figure


def plot_batch_sizes(stages: list[tuple[str, int]], title: str = "") -> Figure:
    """Horizontal bars, one per stage of the loop: ``[("runner.run() batch", 1), ("buffer sample", 256), ...]``."""
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(stages) + 1.0))
    labels = [label for label, _ in stages][::-1]
    values = [value for _, value in stages][::-1]
    bars = ax.barh(labels, values, color="#4c72b0")
    for bar, value in zip(bars, values, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {value}", va="center", fontsize=9)
    ax.set_xscale("log")
    ax.set_xlim(0.8, max(values) * 3)
    ax.set_xlabel("episodes (log scale)")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def plot_refine_batch(batch_size: int, n_agents: int, ego_units: np.ndarray, title: str = "") -> Figure:
    """The regrouping: cell (b, j) of the refined batch holds episode ``b * n_agents + j``'s ego trajectory.

    ``ego_units`` (batch_size, n_agents): the unit the ego controlled in that episode (the cell's colour).
    """
    fig, ax = plt.subplots(figsize=(1.1 * n_agents + 2.0, 0.42 * batch_size + 1.2))
    ax.imshow(ego_units, cmap="Pastel1", vmin=0, vmax=8, aspect="auto")
    for b in range(batch_size):
        for j in range(n_agents):
            ax.text(j, b, f"ep {b * n_agents + j}\nunit {int(ego_units[b, j])}", ha="center", va="center", fontsize=7)
    ax.set_xticks(range(n_agents), [f"slot {j}" for j in range(n_agents)])
    ax.set_yticks(range(batch_size), [f"pseudo-ep {b}" for b in range(batch_size)])
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_subgoals_vs_states(distance: np.ndarray, chosen: np.ndarray, last: int, title: str = "") -> Figure:
    """Heatmap of ``distance[t, t2]``: the inferred subgoal at step t vs the prior embedding of the input
    actually reached at step t2; dots: the future step chosen as the training target at each t."""
    fig, ax = plt.subplots(figsize=(6.5, 5.0))
    im = ax.imshow(distance[: last + 1, : last + 1], cmap="viridis_r", origin="lower", aspect="auto")
    steps = np.arange(last + 1)
    ax.plot(steps, steps, color="white", lw=0.8, ls="--", label="t2 = t")
    ax.scatter(chosen[: last + 1], steps, s=12, color="red", label="target step (optimistic)")
    nearest = distance[: last + 1, : last + 1].argmin(axis=1)
    ax.scatter(nearest, steps, s=10, marker="x", color="orange", label="closest reached input")
    ax.set_xlabel("t2: step whose input was reached")
    ax.set_ylabel("t: step at which the subgoal was inferred")
    ax.legend(loc="upper left", fontsize=8)
    fig.colorbar(im, ax=ax, label="|inferred subgoal - prior embedding| (L2)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
