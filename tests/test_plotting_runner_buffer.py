"""Plot helpers of notebooks 02 (episode runner) and 03 (episode buffer)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from pymarl_explained.components.episode_buffer import EpisodeBatch, ReplayBuffer  # noqa: E402
from pymarl_explained.components.transforms import OneHot  # noqa: E402
from pymarl_explained.plotting import save_figure  # noqa: E402
from pymarl_explained.plotting.buffer import (  # noqa: E402
    buffer_snapshot,
    field_memory,
    plot_buffer_history,
    plot_field_memory,
)
from pymarl_explained.plotting.episode_runner import plot_episode_batch, plot_t_and_t_env  # noqa: E402


def _scheme(n_agents=4, n_actions=10, state=68, obs=40):
    scheme = {
        "state": {"vshape": state},
        "obs": {"vshape": obs, "group": "agents"},
        "actions": {"vshape": (1,), "group": "agents", "dtype": torch.long},
        "avail_actions": {"vshape": (n_actions,), "group": "agents", "dtype": torch.int},
        "reward": {"vshape": (1,)},
        "terminated": {"vshape": (1,), "dtype": torch.uint8},
    }
    return scheme, {"agents": n_agents}, {"actions": ("actions_onehot", [OneHot(out_dim=n_actions)])}


def _episode(length, T=8, n_agents=4):
    scheme, groups, pre = _scheme(n_agents=n_agents)
    batch = EpisodeBatch(scheme, groups, 1, T, preprocess=pre)
    for t in range(length + 1):
        batch.update({"state": torch.ones(1, 68), "obs": torch.ones(1, n_agents, 40)}, ts=t)
        batch.update({"actions": torch.full((1, n_agents, 1), t % 10)}, ts=t)
        if t < length:
            batch.update({"reward": [(0.5,)], "terminated": [(t == length - 1,)]}, ts=t)
    return batch


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_field_memory_matches_the_documents_table():
    scheme, groups, pre = _scheme()
    batch = EpisodeBatch(scheme, groups, 5000, 61, preprocess=pre, device="meta")  # nothing allocated
    rows = {r["key"]: r for r in field_memory(batch)}
    assert rows["state"]["shape"] == (5000, 61, 68) and rows["state"]["dtype"] == "float32"
    assert rows["obs"]["shape"] == (5000, 61, 4, 40)
    assert rows["actions"]["dtype"] == "int64" and rows["actions"]["bytes"] == 5000 * 61 * 4 * 8
    assert rows["actions_onehot"]["shape"] == (5000, 61, 4, 10)
    assert rows["filled"]["kind"] == "transition"
    assert sum(r["bytes"] for r in rows.values()) == 5000 * 61 * (68 * 4 + 160 * 4 + 4 * 8 + 40 * 4 + 4 + 1
                                                                  + 40 * 4 + 8)


def test_plot_field_memory_returns_a_figure(tmp_path):
    scheme, groups, pre = _scheme()
    rows = field_memory(EpisodeBatch(scheme, groups, 10, 5, preprocess=pre))
    fig = plot_field_memory(rows)
    assert len(fig.axes) == 1 and len(fig.axes[0].patches) == len(rows)
    assert save_figure(fig, tmp_path / "m.png").stat().st_size > 0
    with pytest.raises(ValueError):
        plot_field_memory([])


def test_buffer_history_after_a_wrap_around(tmp_path):
    scheme, groups, pre = _scheme()
    buffer = ReplayBuffer(scheme, groups, 6, 8, preprocess=pre)
    labels = [None] * 6
    snaps = [buffer_snapshot(buffer, labels, "empty")]
    for b in range(2):
        for e in range(4):
            slot = buffer.buffer_index
            buffer.insert_episode_batch(_episode(3 + e))
            labels[slot] = f"b{b}:e{e}"
        snaps.append(buffer_snapshot(buffer, labels, f"after batch {b}", highlight=[0, 1] if b else []))
    assert snaps[-1]["buffer_index"] == 2 and snaps[-1]["episodes_in_buffer"] == 6
    assert snaps[-1]["filled"].shape == (6, 8) and snaps[-1]["filled"][0].sum() == 6  # b1:e2: 5 steps + 1
    assert snaps[-1]["slot_labels"] == ["b1:e2", "b1:e3", "b0:e2", "b0:e3", "b1:e0", "b1:e1"]
    assert snaps[0]["filled"].sum() == 0  # snapshots are copies, not views
    fig = plot_buffer_history(snaps, max_t=8)
    assert len(fig.axes) == 2 * len(snaps)
    save_figure(fig, tmp_path / "ring.png")
    with pytest.raises(ValueError):
        buffer_snapshot(buffer, labels[:5], "wrong")
    with pytest.raises(ValueError):
        plot_buffer_history([])


def test_plot_t_and_t_env():
    records, t_env = [], 0
    for i, length in enumerate([21, 28, 19, 28]):
        test = i == 3
        t_env += 0 if test else length
        records.append({"t": length, "t_env": t_env, "test_mode": test})
    fig = plot_t_and_t_env(records, title="t vs t_env")
    ax_t, ax_env = fig.axes
    assert [p.get_height() for p in ax_t.patches] == [21, 28, 19, 28]
    assert ax_env.get_ylim()[1] >= 68
    with pytest.raises(ValueError):
        plot_t_and_t_env([])


def test_plot_episode_batch_marks_the_extra_row():
    batch = _episode(5)
    assert int(batch["filled"].sum()) == 6
    fig = plot_episode_batch(batch)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("extra row t=5" in s for s in texts)
    assert np.isclose(fig.axes[0].images[0].get_array().shape[1], 8)
