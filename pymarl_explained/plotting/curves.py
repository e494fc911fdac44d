"""Plot helpers used by the command line (the curve at the end of ``make train``) and the notebooks.

Every helper returns a pyplot Figure and leaves showing it to the caller (``plt.show()`` in a
notebook; scripts close it after saving). :func:`save_figure` writes PNGs reproducibly (no
software/date metadata) and atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from pymarl_explained.utils.atomic import atomic_output
from pymarl_explained.utils.logging import read_metrics

Series = Mapping[str, tuple[np.ndarray, np.ndarray]]

TRAINING_KEYS = (
    "return_mean",
    "test_return_mean",
    "test_battle_won_mean",
    "ep_length_mean",
    "loss",
    "td_error_abs",
    "q_taken_mean",
    "epsilon",
)


def _as_series(metrics: Series | str | Path) -> Series:
    return read_metrics(metrics) if isinstance(metrics, (str, Path)) else metrics


def plot_training_curves(metrics: Series | str | Path, keys: Sequence[str] = TRAINING_KEYS,
                         title: str | None = None, ncols: int = 4) -> Figure:
    """One small panel per stat against ``t_env`` (keys the run never logged are skipped)."""
    series = _as_series(metrics)
    present = [k for k in keys if k in series and len(series[k][0])]
    if not present:
        raise ValueError(f"None of {list(keys)} was logged; logged stats: {sorted(series)}")
    nrows = -(-len(present) // ncols)
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3.2 * min(ncols, len(present)), 2.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, min(ncols, len(present)), squeeze=False).ravel()
    for ax, key in zip(axes, present, strict=False):
        t, v = series[key]
        ax.plot(t, v, marker="o" if len(t) < 15 else None, ms=3)
        ax.set_title(key, fontsize=10)
        ax.set_xlabel("t_env")
        ax.grid(alpha=0.3)
        if key.endswith("battle_won_mean"):
            ax.set_ylim(-0.05, 1.05)
    for ax in axes[len(present):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def save_figure(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Save a PNG without metadata that changes between runs, via a temp file and os.replace."""
    path = Path(path)
    with atomic_output(path) as tmp:  # mode 0644 under umask 022, never a half-written file
        fig.savefig(tmp, dpi=dpi, format="png", metadata={"Software": None})
    return path


def write_training_curve(run_dir: str | Path, title: str) -> Path | None:
    """Plot a run's metrics.jsonl into ``<run_dir>/curve.png``; None if nothing was logged.

    Called at the end of every run; a plotting problem is logged as a warning and never fails
    the run that produced the metrics.
    """
    import matplotlib.pyplot as plt

    from pymarl_explained.utils.logging import get_logger

    run_dir = Path(run_dir)
    try:
        fig = plot_training_curves(run_dir / "metrics.jsonl", title=title)
    except ValueError:
        return None
    try:
        return save_figure(fig, run_dir / "curve.png")
    except Exception as exc:  # the run itself succeeded: a plotting problem must not fail it
        get_logger().warning(f"Could not write the training curve: {exc}")
        return None
    finally:
        plt.close(fig)
