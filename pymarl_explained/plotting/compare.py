"""Comparing runs: several algorithms x seeds, against env steps and against wall-clock.

Reads the flat folder written by ``python -m pymarl_explained.sweep --export DIR``: one
``<alg>__<map>__seed<k>.metrics.jsonl`` (and ``.wallclock.jsonl``) per run.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from pymarl_explained.utils.logging import read_metrics

#: Published QMIX test win rates on SMAC's real 3m map (PyMARL defaults, real StarCraft II, 3 seeds):
#: env steps -> test win rate. Two points read off the published learning curve ("about 95% by 0.25M
#: env steps, about 100% from 0.4M"), not the curve itself.
PUBLISHED_QMIX_3M = {250_000: 0.95, 400_000: 1.0}


@dataclass
class Run:
    """One finished run: its algorithm, map, seed, metrics and wall-clock per test phase."""

    alg: str
    map_name: str
    seed: int
    metrics: dict[str, tuple[np.ndarray, np.ndarray]]
    wallclock: dict[int, float]


def load_runs(directory: str | Path) -> list[Run]:
    """Every ``<alg>__<map>__seed<k>.metrics.jsonl`` in ``directory``, sorted by (alg, seed).

    Files named otherwise are skipped with a warning (they were not written by the sweep's export).
    """
    runs = []
    for path in sorted(Path(directory).glob("*.metrics.jsonl")):
        parts = path.name[: -len(".metrics.jsonl")].split("__")
        if len(parts) != 3 or not parts[2].removeprefix("seed").isdigit():
            warnings.warn(f"{path.name} is not named <alg>__<map>__seed<k>.metrics.jsonl; skipped", stacklevel=2)
            continue
        alg, map_name, seed = parts
        clock_path = path.with_name(path.name.replace(".metrics.", ".wallclock."))
        clock = {}
        if clock_path.is_file():
            for line in clock_path.read_text().splitlines():
                rec = json.loads(line)
                clock[int(rec["t_env"])] = float(rec["elapsed_s"])
        runs.append(Run(alg, map_name, int(seed.removeprefix("seed")), read_metrics(path), clock))
    return sorted(runs, key=lambda r: (r.alg, r.seed))


def by_algorithm(runs: list[Run]) -> dict[str, list[Run]]:
    groups: dict[str, list[Run]] = defaultdict(list)
    for r in runs:
        groups[r.alg].append(r)
    return dict(groups)


def mean_curve(runs: list[Run], key: str, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min and max over runs of ``key`` interpolated on ``grid`` (NaN past a run's end)."""
    rows = []
    for r in runs:
        if key not in r.metrics:
            continue
        t, v = r.metrics[key]
        row = np.interp(grid, t, v, left=np.nan, right=np.nan)
        rows.append(row)
    values = np.vstack(rows)
    with np.errstate(all="ignore"):
        return np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)


def plot_compare(runs: list[Run], key: str = "test_battle_won_mean", x: str = "t_env",
                 published: dict[int, float] | None = None) -> Figure:
    """Mean (line) and min-max spread (band) over seeds per algorithm; ``x`` is "t_env" or "wallclock"."""
    fig, ax = plt.subplots(figsize=(6.4, 3.8), layout="constrained")
    for alg, group in by_algorithm(runs).items():
        group = [r for r in group if key in r.metrics]
        if not group:
            continue
        if x == "t_env":  # the span that every run covers
            start = max(r.metrics[key][0][0] for r in group)
            end = min(r.metrics[key][0][-1] for r in group)
            grid = np.linspace(start, end, 200)
            mean, lo, hi = mean_curve(group, key, grid)
            xs = grid
        else:
            # wall-clock: each run's own clock at its test phases, then the same interpolation
            timed = []
            for r in group:
                t, v = r.metrics[key]
                secs = np.array([r.wallclock.get(int(ti), np.nan) for ti in t])
                ok = ~np.isnan(secs)
                if ok.any():  # a run without a wallclock file cannot be placed on this axis
                    timed.append((secs[ok] / 60, v[ok]))
            if not timed:
                continue
            start, end = max(s[0] for s, _ in timed), min(s[-1] for s, _ in timed)
            xs = np.linspace(start, end, 200)
            values = np.vstack([np.interp(xs, s, v, left=np.nan, right=np.nan) for s, v in timed])
            with np.errstate(all="ignore"):
                mean, lo, hi = np.nanmean(values, 0), np.nanmin(values, 0), np.nanmax(values, 0)
        (line,) = ax.plot(xs, mean, label=f"{alg} ({len(group)} seeds)")
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.2)
    if published and x == "t_env":
        ax.scatter(list(published), list(published.values()), marker="*", s=120, color="black", zorder=5,
                   label="QMIX, real SMAC 3m (published)")
    ax.set_xlabel("env steps (t_env)" if x == "t_env" else "wall-clock (minutes, this machine)")
    ax.set_ylabel(key)
    if key.endswith("battle_won_mean"):
        ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return fig


def first_reaching(t: np.ndarray, v: np.ndarray, level: float) -> float:
    """The first t at which v >= level (NaN if never)."""
    hit = np.flatnonzero(v >= level)
    return float(t[hit[0]]) if len(hit) else float("nan")


def results_table(runs: list[Run], key: str = "test_battle_won_mean", last_n: int = 10) -> list[dict]:
    """Per run: env steps, final and best value of ``key``, the mean of the last ``last_n`` logged
    values (one test phase is noisy: 32 episodes give steps of 0.03), and the env steps and
    minutes until the value first reached 50% and 90%.

    Runs that never logged ``key`` are left out."""
    rows = []
    for r in runs:
        if key not in r.metrics:
            continue
        t, v = r.metrics[key]
        row = {"alg": r.alg, "seed": r.seed, "t_env": int(t[-1]), "final": float(v[-1]), "best": float(v.max()),
               "last_mean": float(v[-last_n:].mean())}
        for level in (0.5, 0.9):
            steps = first_reaching(t, v, level)
            row[f"steps_to_{int(level * 100)}"] = steps
            row[f"minutes_to_{int(level * 100)}"] = (r.wallclock.get(int(steps), float("nan")) / 60
                                                     if not np.isnan(steps) else float("nan"))
        rows.append(row)
    return rows
