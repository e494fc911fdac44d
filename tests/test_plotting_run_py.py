"""The figures of notebooks 00 and 01 (pymarl_explained.plotting.run_py)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pymarl_explained.components.episode_buffer import ReplayBuffer  # noqa: E402
from pymarl_explained.plotting import save_figure  # noqa: E402
from pymarl_explained.plotting.run_py import (  # noqa: E402
    plot_config_layers,
    plot_scheme_shapes,
    plot_training_timeline,
    scheme_rows,
)
from pymarl_explained.run import build_scheme  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


ENV_INFO = {"state_shape": 68, "obs_shape": 40, "n_actions": 10, "n_agents": 4, "episode_limit": 60}


def _texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_config_layers_marks_the_winning_layer(tmp_path):
    layers = [("default.yaml", {"t_max": 10000, "env_args": {}}),
              ("envs/sc2.yaml", {"t_max": 2050000, "env_args": {"map_name": "3m"}}),
              ("algs/qmix.yaml", {"mixer": "qmix"}),
              ("command line", {"env_args": {"map_name": "MarineMicro_MvsM_4"}})]
    fig = plot_config_layers(layers, ["t_max", "mixer", "env_args.map_name"])
    assert isinstance(fig, Figure)
    texts = _texts(fig)
    assert "final config" in texts and "command line" in texts
    assert "env_args.map_name" in texts and "2050000" in texts
    assert save_figure(fig, tmp_path / "layers.png").stat().st_size > 0


def test_scheme_shapes_table():
    scheme, groups, preprocess = build_scheme(ENV_INFO)
    buffer = ReplayBuffer(scheme, groups, 8, 61, preprocess=preprocess)
    rows = {r["key"]: r for r in scheme_rows(buffer)}
    assert rows["obs"]["shape"] == (8, 61, 4, 40)
    assert rows["actions_onehot"]["shape"] == (8, 61, 4, 10)
    assert rows["filled"]["dtype"] == "int64"
    fig = plot_scheme_shapes(buffer)
    assert isinstance(fig, Figure)
    assert "max_seq_length=61" in fig.axes[0].get_title()


def test_training_timeline_axes():
    records = [{"t_env": 20 * i, "episodes_in_buffer": min(i, 4), "buffer_index": i % 4,
                "trained": i >= 2, "tested": i in (1, 5)} for i in range(1, 8)]
    fig = plot_training_timeline(records, batch_size=2, buffer_size=4, t_max=120)
    ax_t, ax_b = fig.axes
    assert ax_t.get_ylabel() == "t_env (env steps)"
    assert ax_b.get_xlabel().startswith("loop iteration")
    labels = ax_b.get_legend_handles_labels()[1]
    assert "batch_size = 2" in labels and "buffer_size = 4" in labels
