"""The comparison helpers of notebook 06 on small hand-made metrics files."""

from __future__ import annotations

import json
import math

import matplotlib
import pytest

matplotlib.use("Agg")

from pymarl_explained.plotting.compare import load_runs, plot_compare, results_table  # noqa: E402


def _write(tmp_path, alg, seed, wins):
    lines = [json.dumps({"key": "test_battle_won_mean", "t_env": 1000 * i, "value": w}) for i, w in enumerate(wins)]
    (tmp_path / f"{alg}__3m__seed{seed}.metrics.jsonl").write_text("\n".join(lines) + "\n")
    clock = [json.dumps({"t_env": 1000 * i, "elapsed_s": 30.0 * i}) for i in range(len(wins))]
    (tmp_path / f"{alg}__3m__seed{seed}.wallclock.jsonl").write_text("\n".join(clock) + "\n")


def test_load_runs_and_table(tmp_path):
    _write(tmp_path, "qmix", 0, [0.0, 0.2, 0.6, 0.95])
    _write(tmp_path, "qmix", 1, [0.0, 0.1, 0.3, 0.4])
    _write(tmp_path, "iql", 0, [0.0, 0.0, 0.1, 0.2])
    runs = load_runs(tmp_path)
    assert [(r.alg, r.seed) for r in runs] == [("iql", 0), ("qmix", 0), ("qmix", 1)]
    rows = {(r["alg"], r["seed"]): r for r in results_table(runs)}
    assert rows[("qmix", 0)]["steps_to_50"] == 2000 and rows[("qmix", 0)]["minutes_to_50"] == 1.0
    assert rows[("qmix", 0)]["steps_to_90"] == 3000 and rows[("qmix", 0)]["best"] == 0.95
    assert rows[("qmix", 0)]["last_mean"] == sum([0.0, 0.2, 0.6, 0.95]) / 4  # fewer phases than last_n
    assert results_table(runs, last_n=2)[1]["last_mean"] == (0.6 + 0.95) / 2
    assert math.isnan(rows[("qmix", 1)]["steps_to_90"])
    fig = plot_compare(runs, x="t_env", published={2500: 0.95})
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["iql (1 seeds)", "qmix (2 seeds)", "QMIX, real SMAC 3m (published)"]
    fig2 = plot_compare(runs, x="wallclock")
    assert fig2.axes[0].get_xlabel().startswith("wall-clock")


def test_odd_files_and_runs_without_the_key_or_a_clock_are_skipped(tmp_path):
    _write(tmp_path, "qmix", 0, [0.0, 0.5, 0.9])
    (tmp_path / "notes.metrics.jsonl").write_text("")  # not written by the sweep's export
    loss_only = json.dumps({"key": "loss", "t_env": 0, "value": 1.0})
    (tmp_path / "coma__3m__seed0.metrics.jsonl").write_text(loss_only + "\n")  # no wallclock file either
    with pytest.warns(UserWarning, match="notes.metrics.jsonl"):
        runs = load_runs(tmp_path)
    assert [(r.alg, r.seed) for r in runs] == [("coma", 0), ("qmix", 0)]
    assert [r["alg"] for r in results_table(runs)] == ["qmix"]
    plot_compare(runs, x="wallclock")
    (tmp_path / "iql__3m__seed0.metrics.jsonl").write_text(
        json.dumps({"key": "test_battle_won_mean", "t_env": 0, "value": 0.0}) + "\n")  # no wallclock file
    with pytest.warns(UserWarning):
        runs = load_runs(tmp_path)
    labels = [t.get_text() for t in plot_compare(runs, x="wallclock").axes[0].get_legend().get_texts()]
    assert labels == ["qmix (1 seeds)"]
