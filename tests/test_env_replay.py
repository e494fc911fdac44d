"""Replays and rendering of the built-in simulator."""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pymarl_explained.envs import MarineBattleEnv  # noqa: E402
from pymarl_explained.envs.replay import (  # noqa: E402
    Replay,
    animate_replay,
    load_replay,
    plot_replay_frames,
)


def play_episode(env: MarineBattleEnv, rng: np.random.Generator) -> int:
    env.reset()
    steps, term = 0, False
    while not term:
        avail = np.array(env.get_avail_actions())
        _, term, _ = env.step(np.argmax(rng.random(avail.shape) * avail, axis=-1))
        steps += 1
    return steps


def test_save_and_load_replay(tmp_path, capsys):
    env = MarineBattleEnv(map_name="3m", seed=5, replay_dir=str(tmp_path / "rp"), replay_prefix="demo")
    rng = np.random.default_rng(0)
    lengths = [play_episode(env, rng) for _ in range(2)]
    path = env.save_replay()
    assert os.path.dirname(path) == str(tmp_path / "rp") and os.path.basename(path).startswith("demo_")
    assert path in capsys.readouterr().out
    assert [f for f in os.listdir(tmp_path / "rp") if f.endswith(".tmp")] == []
    replay = load_replay(path)
    assert replay.meta["map_name"] == "3m" and replay.meta["n_agents"] == 3
    assert replay.meta["env_args"]["replay_prefix"] == "demo"
    eps = replay.episodes
    assert len(eps) == 2  # the constructor's own reset, with no step taken, is not kept
    assert [len(ep["pos"]) for ep in eps] == [n + 1 for n in lengths]
    ep = eps[-1]
    assert ep["pos"].shape == (lengths[-1] + 1, 6, 2) and ep["hp"].shape == (lengths[-1] + 1, 6)
    assert ep["actions"].shape == (lengths[-1] + 1, 3) and (ep["actions"][0] == -1).all()
    assert {"cd", "order", "target", "shots", "reward"} <= set(ep)
    assert (ep["hp"][-1][:3] == 0).all() or (ep["hp"][-1][3:] == 0).all() or len(ep["pos"]) == 61
    # a second save holds only what came after the first
    play_episode(env, rng)
    assert len(load_replay(env.save_replay()).episodes) == 1


def test_replay_is_bounded():
    env = MarineBattleEnv(map_name="3m", seed=1)
    for _ in range(40):
        env.reset()
        env.step([1, 1, 1])
    assert len(env.replay.episodes) == 32


def test_figures_and_animation(tmp_path):
    env = MarineBattleEnv(map_name="MarineMicro_MvsM_4", seed=2, replay_dir=str(tmp_path))
    play_episode(env, np.random.default_rng(1))
    replay = load_replay(env.save_replay())
    fig = plot_replay_frames(replay, episode=len(replay.episodes) - 1, n_frames=4)
    assert isinstance(fig, Figure) and len(fig.axes) == 4
    fig.savefig(tmp_path / "strip.png", metadata={"Software": None})
    short = Replay(replay.meta, [{k: v[:3] for k, v in replay.episodes[-1].items()}])
    anim = animate_replay(short)
    assert isinstance(anim, FuncAnimation)
    html = anim.to_jshtml()  # what a notebook shows with HTML(...)
    assert "<img" in html or "img" in html
    img = env.render(mode="rgb_array")
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    assert isinstance(env.render(), Figure)
