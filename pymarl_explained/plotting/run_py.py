"""Figures of notebooks 00_package_tour and 01_run_py: the config merge, the scheme, the training loop.

- :func:`plot_config_layers`: which layer of the config merge (default.yaml -> env file ->
  algorithm file -> command line) sets each key, and which value wins.
- :func:`plot_scheme_shapes`: a table of an EpisodeBatch / ReplayBuffer's fields: vshape, group,
  dtype, the allocated tensor shape and its memory.
- :func:`plot_training_timeline`: ``run_sequential``'s loop iteration by iteration: ``t_env``,
  the buffer filling up, the iterations that trained and the test phases.

Each helper returns a pyplot Figure; the notebook saves it with
:func:`pymarl_explained.plotting.save_figure` and shows it with ``plt.show()``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

_MISSING = object()


def _lookup(config: Mapping[str, Any], dotted_key: str) -> Any:
    node: Any = config
    for part in dotted_key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _short(value: Any, width: int = 14) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def plot_config_layers(layers: Sequence[tuple[str, Mapping[str, Any]]], keys: Sequence[str],
                       final: Mapping[str, Any] | None = None, title: str | None = None) -> Figure:
    """A grid: one row per (dotted) key, one column per merge layer, plus the final value.

    ``layers`` are ``(name, dict)`` pairs in merge order, e.g.
    ``[("default.yaml", d), ("envs/sc2.yaml", e), ("algs/qmix.yaml", a), ("command line", c)]``.
    A cell shows the value the layer sets (empty when it does not set the key); the layer whose
    value survives (the last one setting it) is highlighted, and the last column is ``final``
    (or that winning value when ``final`` is None).
    """
    n_rows, n_cols = len(keys), len(layers) + 1
    fig = plt.figure(figsize=(1.9 * n_cols + 1.8, 0.42 * n_rows + 1.3), layout="constrained")
    ax = fig.subplots()
    ax.set_xlim(0, n_cols)
    ax.set_ylim(n_rows, -0.9)
    ax.axis("off")
    headers = [name for name, _ in layers] + ["final config"]
    for j, header in enumerate(headers):
        ax.text(j + 0.5, -0.45, header, ha="center", va="center", fontsize=9, fontweight="bold")
    for i, key in enumerate(keys):
        ax.text(-0.05, i + 0.5, key, ha="right", va="center", fontsize=9, family="monospace")
        values = [_lookup(layer, key) for _, layer in layers]
        set_by = [j for j, v in enumerate(values) if v is not _MISSING]
        winner = set_by[-1] if set_by else None
        for j, value in enumerate(values):
            face = "#fde9b6" if j == winner else ("#eeeeee" if value is not _MISSING else "white")
            ax.add_patch(_cell(j, i, face))
            if value is not _MISSING:
                style = "normal" if j == winner else "italic"
                color = "black" if j == winner else "#888888"
                ax.text(j + 0.5, i + 0.5, _short(value), ha="center", va="center", fontsize=8.5,
                        family="monospace", style=style, color=color)
        if final is not None:
            final_value = _lookup(final, key)
        else:
            final_value = values[winner] if winner is not None else _MISSING
        ax.add_patch(_cell(n_cols - 1, i, "#d4ecd4"))
        ax.text(n_cols - 0.5, i + 0.5, "" if final_value is _MISSING else _short(final_value),
                ha="center", va="center", fontsize=8.5, family="monospace", fontweight="bold")
    for j in range(n_cols - 1):
        ax.annotate("", xy=(j + 1.02, -0.45), xytext=(j + 0.98, -0.45),
                    arrowprops={"arrowstyle": "->", "color": "#555555"})
    ax.legend(handles=[Patch(facecolor="#fde9b6", edgecolor="#999999", label="value that wins"),
                       Patch(facecolor="#eeeeee", edgecolor="#999999", label="overridden later")],
              loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=2, fontsize=8, frameon=False)
    fig.suptitle(title or "Config merge: each layer overrides the ones before it", fontsize=11)
    return fig


def _cell(col: int, row: int, face: str):
    from matplotlib.patches import Rectangle

    return Rectangle((col + 0.03, row + 0.06), 0.94, 0.88, facecolor=face, edgecolor="#999999", lw=0.6)


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def scheme_rows(batch: Any) -> list[dict[str, Any]]:
    """One row per field of an EpisodeBatch (or ReplayBuffer): key, vshape, group, dtype,
    the allocated tensor's shape and its memory in MiB."""
    rows = []
    data = {**batch.data.transition_data, **batch.data.episode_data}
    for key, info in batch.scheme.items():
        tensor = data[key]
        vshape = info["vshape"]
        rows.append({
            "key": key,
            "vshape": tuple(vshape) if not isinstance(vshape, int) else (vshape,),
            "group": info.get("group", ""),
            "dtype": _dtype_name(tensor.dtype),
            "shape": tuple(tensor.shape),
            "MiB": tensor.numel() * tensor.element_size() / 2**20,
        })
    return rows


def plot_scheme_shapes(batch: Any, title: str | None = None) -> Figure:
    """The scheme of ``batch`` as a table figure (see :func:`scheme_rows`), with the total memory."""
    rows = scheme_rows(batch)
    columns = ["key", "vshape", "group", "dtype", "tensor shape", "MiB"]
    cells = [[r["key"], str(r["vshape"]), r["group"] or "-", r["dtype"], str(list(r["shape"])),
              f"{r['MiB']:.2f}"] for r in rows]
    total = sum(r["MiB"] for r in rows)
    cells.append(["total", "", "", "", "", f"{total:.2f}"])
    fig = plt.figure(figsize=(8.6, 0.36 * len(cells) + 1.0), layout="constrained")
    ax = fig.subplots()
    ax.axis("off")
    table = ax.table(cellText=cells, colLabels=columns, loc="center", cellLoc="center",
                     colWidths=[0.2, 0.11, 0.1, 0.1, 0.35, 0.1])
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.35)
    for (row, _col), cell in table.get_celld().items():
        if row == 0:
            cell.set_facecolor("#dde6f2")
            cell.set_text_props(fontweight="bold")
        elif row == len(cells):
            cell.set_facecolor("#f2f2f2")
            cell.set_text_props(fontweight="bold")
        elif rows[row - 1]["key"] in ("actions_onehot", "filled"):
            cell.set_facecolor("#fff4d6")  # added by EpisodeBatch, not in run_sequential's scheme
    ax.set_title(title or f"scheme -> tensors (batch_size={batch.batch_size}, "
                          f"max_seq_length={batch.max_seq_length})", fontsize=11)
    return fig


def plot_training_timeline(records: Sequence[Mapping[str, Any]], batch_size: int | None = None,
                           buffer_size: int | None = None, t_max: int | None = None,
                           title: str | None = None) -> Figure:
    """``run_sequential``'s loop, one point per iteration.

    Each record needs ``t_env`` (after the iteration's episode), ``episodes_in_buffer``,
    ``trained`` (bool) and ``tested`` (bool); ``buffer_index`` and ``max_ep_t`` are drawn when
    present. Top: ``t_env`` with the iterations that called ``learner.train`` and the test phases.
    Bottom: how many episodes the replay buffer holds (and its next slot).
    """
    it = np.arange(1, len(records) + 1)
    t_env = np.array([r["t_env"] for r in records])
    in_buffer = np.array([r["episodes_in_buffer"] for r in records])
    trained = np.array([bool(r["trained"]) for r in records])
    tested = np.array([bool(r["tested"]) for r in records])

    fig = plt.figure(figsize=(9, 5.6), layout="constrained")
    ax_t, ax_b = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    for i in it[tested]:
        ax_t.axvspan(i - 0.4, i + 0.4, color="#c9e3c9", zorder=0)
    ax_t.plot(it, t_env, color="#444444", lw=1, zorder=1)
    ax_t.scatter(it[~trained], t_env[~trained], s=28, facecolor="white", edgecolor="#444444",
                 zorder=2, label="episode collected, no train (buffer too small)")
    ax_t.scatter(it[trained], t_env[trained], s=28, color="#1f77b4", zorder=2,
                 label="episode collected + learner.train")
    if t_max is not None:
        ax_t.axhline(t_max, color="#d62728", ls="--", lw=1, label=f"t_max = {t_max}")
    handles, labels = ax_t.get_legend_handles_labels()
    handles.append(Patch(color="#c9e3c9"))
    labels.append("test phase after this episode")
    ax_t.legend(handles, labels, fontsize=8, loc="upper left")
    ax_t.set_ylabel("t_env (env steps)")
    ax_t.grid(alpha=0.3)

    ax_b.step(it, in_buffer, where="mid", color="#1f77b4", label="episodes_in_buffer")
    if all("buffer_index" in r for r in records):
        ax_b.plot(it, [r["buffer_index"] for r in records], "o", ms=3, color="#ff7f0e",
                  label="buffer_index (next slot)")
    if batch_size is not None:
        ax_b.axhline(batch_size, color="#2ca02c", ls=":", lw=1.2, label=f"batch_size = {batch_size}")
    if buffer_size is not None:
        ax_b.axhline(buffer_size, color="#d62728", ls="--", lw=1, label=f"buffer_size = {buffer_size}")
    ax_b.set_xlabel("loop iteration (one training episode each)")
    ax_b.set_ylabel("episodes")
    ax_b.legend(fontsize=8, loc="lower right")
    ax_b.grid(alpha=0.3)
    ax_b.set_xticks(it if len(it) <= 30 else np.linspace(1, len(it), 10).astype(int))
    fig.suptitle(title or "run_sequential's training loop, iteration by iteration", fontsize=11)
    return fig
