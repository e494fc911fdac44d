"""Pictures of EpisodeBatch and ReplayBuffer (notebook 03_episode_buffer).

- :func:`field_memory`: shape, dtype and bytes of every tensor of a batch (a table, no plot).
- :func:`plot_field_memory`: those bytes as a bar chart, labelled with the shapes.
- :func:`buffer_snapshot` and :func:`plot_buffer_history`: the replay buffer as a ring of slots
  (which slot holds which episode, where ``buffer_index`` points) next to its ``filled`` mask as a
  heatmap (slot x t), one row per moment (e.g. after each ``insert_episode_batch``).

Plot helpers return a pyplot Figure; the notebook calls ``plt.show()`` and saves it with
:func:`pymarl_explained.plotting.save_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MIB = 2**20


def field_memory(batch: Any) -> list[dict[str, Any]]:
    """One row per tensor of ``batch``: ``key``, ``kind`` (transition/episode), ``shape``,
    ``dtype`` (e.g. ``"float32"``), ``element_size`` and ``bytes``.

    Works for tensors on the ``meta`` device too (sizes without allocating anything).
    """
    rows = []
    for kind, store in (("transition", batch.data.transition_data), ("episode", batch.data.episode_data)):
        for key, tensor in store.items():
            rows.append({
                "key": key,
                "kind": kind,
                "shape": tuple(tensor.shape),
                "dtype": str(tensor.dtype).replace("torch.", ""),
                "element_size": tensor.element_size(),
                "bytes": tensor.element_size() * tensor.numel(),
            })
    return rows


def plot_field_memory(rows: Sequence[Mapping[str, Any]], title: str | None = None) -> Any:
    """Horizontal bars: MiB per key (from :func:`field_memory`), labelled with shape and dtype."""
    import matplotlib.pyplot as plt

    if not rows:
        raise ValueError("plot_field_memory needs at least one row")
    keys = [r["key"] for r in rows]
    mib = np.array([r["bytes"] / MIB for r in rows])
    fig, ax = plt.subplots(figsize=(8.5, 0.45 * len(rows) + 1.3))
    y = np.arange(len(rows))[::-1]
    ax.barh(y, mib, color=["tab:blue" if r["dtype"].startswith("float") else "tab:green" for r in rows])
    for yi, r, m in zip(y, rows, mib, strict=True):
        shape = "[" + ", ".join(str(s) for s in r["shape"]) + "]"
        ax.text(m + mib.max() * 0.01, yi, f"{shape} {r['dtype']}: {m:.1f} MiB", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels(keys)
    ax.set_xlim(0, mib.max() * 1.55)
    ax.set_xlabel("MiB (blue: float, green: integer)")
    total = mib.sum()
    ax.set_title(title or f"memory per key, total {total:.1f} MiB", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def buffer_snapshot(buffer: Any, slot_labels: Sequence[str | None], label: str,
                    highlight: Sequence[int] = ()) -> dict[str, Any]:
    """What :func:`plot_buffer_history` draws of a ReplayBuffer at one moment.

    ``slot_labels[i]`` names the episode held by slot ``i`` (None for an empty slot); the caller
    keeps track of it, because the buffer itself stores no episode ids. ``highlight`` marks slots
    (e.g. the ones just sampled).
    """
    if len(slot_labels) != buffer.buffer_size:
        raise ValueError(f"{len(slot_labels)} slot labels for a buffer of {buffer.buffer_size} slots")
    return {
        "label": label,
        "filled": buffer["filled"][:, :, 0].cpu().numpy().copy(),
        "slot_labels": list(slot_labels),
        "buffer_index": int(buffer.buffer_index),
        "episodes_in_buffer": int(buffer.episodes_in_buffer),
        "highlight": [int(i) for i in highlight],
    }


def _group_colour(label: str | None) -> str:
    """Slots filled by the same insert share a colour: labels look like ``"b1:e3"``."""
    if label is None:
        return "white"
    palette = ["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink"]
    group = label.split(":")[0]
    digits = "".join(ch for ch in group if ch.isdigit())
    return palette[int(digits) % len(palette)] if digits else "tab:gray"


def _draw_ring(ax: Any, snap: Mapping[str, Any]) -> None:
    from matplotlib.patches import FancyArrowPatch, Wedge

    labels = snap["slot_labels"]
    n = len(labels)
    for i, lab in enumerate(labels):
        # slot 0 at the top, clockwise
        theta2 = 90 - 360 * i / n
        theta1 = theta2 - 360 / n
        edge = "red" if i in snap["highlight"] else "0.3"
        ax.add_patch(Wedge((0, 0), 1.0, theta1, theta2, width=0.45, facecolor=_group_colour(lab),
                           alpha=0.55 if lab is not None else 1.0, edgecolor=edge,
                           linewidth=2.2 if i in snap["highlight"] else 1.0))
        mid = np.deg2rad((theta1 + theta2) / 2)
        ax.text(0.775 * np.cos(mid), 0.775 * np.sin(mid), lab if lab is not None else "empty",
                ha="center", va="center", fontsize=7)
        ax.text(1.15 * np.cos(mid), 1.15 * np.sin(mid), str(i), ha="center", va="center",
                fontsize=7, color="0.35")
    idx = snap["buffer_index"]
    mid = np.deg2rad(90 - 360 * idx / n - 180 / n)
    ax.add_patch(FancyArrowPatch((0, 0), (0.52 * np.cos(mid), 0.52 * np.sin(mid)),
                                 arrowstyle="-|>", mutation_scale=12, color="black"))
    ax.text(0, -1.42, f"buffer_index = {idx}, episodes_in_buffer = {snap['episodes_in_buffer']}",
            ha="center", fontsize=8)
    ax.set_xlim(-1.35, 1.35)
    ax.set_ylim(-1.55, 1.3)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_buffer_history(snapshots: Sequence[Mapping[str, Any]], max_t: int | None = None) -> Any:
    """One row per snapshot: the ring of slots with ``buffer_index`` as an arrow (slot 0 on top,
    clockwise; highlighted slots outlined in red) and the ``filled`` mask (slots x t)."""
    import matplotlib.pyplot as plt

    if not snapshots:
        raise ValueError("plot_buffer_history needs at least one snapshot")
    n = len(snapshots)
    fig, axes = plt.subplots(n, 2, figsize=(11, 2.7 * n), squeeze=False,
                             gridspec_kw={"width_ratios": [1, 2.6]})
    for (ax_ring, ax_map), snap in zip(axes, snapshots, strict=True):
        _draw_ring(ax_ring, snap)
        ax_ring.set_title(snap["label"], fontsize=9)
        filled = snap["filled"] if max_t is None else snap["filled"][:, :max_t]
        ax_map.imshow(filled, aspect="auto", cmap="Greys", vmin=0, vmax=1.6, interpolation="nearest")
        lengths = filled.sum(axis=1).astype(int)
        ylabels = [f"slot {i}: {lab if lab is not None else 'empty'} ({lengths[i]} filled)"
                   for i, lab in enumerate(snap["slot_labels"])]
        ax_map.set_yticks(range(len(ylabels)))
        ax_map.set_yticklabels(ylabels, fontsize=7)
        for i in snap["highlight"]:
            ax_map.get_yticklabels()[i].set_color("red")
        ax_map.set_xlabel("t", fontsize=8)
        ax_map.tick_params(axis="x", labelsize=7)
        ax_map.set_title("filled mask (grey = a stored step, white = padding)", fontsize=9)
    fig.tight_layout()
    return fig
