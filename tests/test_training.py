"""End-to-end: the training package trains, resumes, evaluates and is reproducible."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch as th
from conftest import RecordingLogger

import pymarl_explained.run as run_py
from pymarl_explained import load_config, train
from pymarl_explained.errors import CheckpointError, ConfigError
from pymarl_explained.utils.logging import read_metrics

ROOT = Path(__file__).resolve().parent.parent

TINY = {
    "env_args.map_name": "MarineMicro_MvsM_4",
    "env_args.backend": "builtin",
    "t_max": 400,
    "batch_size": 4,
    "buffer_size": 8,
    "test_interval": 200,
    "test_nepisode": 2,
    "log_interval": 200,
    "runner_log_interval": 100,
    "learner_log_interval": 100,
    "target_update_interval": 5,
    "epsilon_anneal_time": 1000,
    "progress_bar": False,
    "seed": 3,
}


def tiny_config(tmp_path: Path, alg: str = "qmix", **extra) -> dict:
    overrides = {**TINY, "local_results_path": str(tmp_path / "results"), **extra}
    return load_config(alg, "sc2", overrides)


@pytest.mark.parametrize("alg", ["qmix", "vdn", "iql"])
def test_train_api_writes_metrics_curve_and_sacred_run(tmp_path, alg):
    run = train(tiny_config(tmp_path, alg))
    assert run.t_env > 400
    assert run.run_dir.is_dir()
    for name in ("metrics.jsonl", "curve.png", "config.json", "wallclock.jsonl"):
        assert (run.run_dir / name).is_file(), name
    metrics = run.metrics
    for key in ("return_mean", "test_return_mean", "test_battle_won_mean", "ep_length_mean", "epsilon",
                "loss", "grad_norm", "td_error_abs", "q_taken_mean", "target_mean"):
        assert key in metrics, key
    # the first test phase runs at t_env 0 (last_test_T starts at -test_interval - 1)
    assert metrics["test_return_mean"][0][0] < 100
    sacred_config = json.loads((run.sacred_dir / "config.json").read_text())
    assert sacred_config["env_backend"]["name"] == "builtin"
    assert sacred_config["env_args"]["difficulty"] == "7"  # real-game-only args are kept
    assert json.loads((run.sacred_dir / "run.json").read_text())["status"] == "COMPLETED"
    info = json.loads((run.sacred_dir / "info.json").read_text())
    assert info["loss_T"] == list(metrics["loss"][0])


def test_same_seed_gives_identical_metrics(tmp_path):
    a = train(tiny_config(tmp_path / "a"))
    b = train(tiny_config(tmp_path / "b"))
    assert a.metrics_path.read_bytes() == b.metrics_path.read_bytes()
    c = train(tiny_config(tmp_path / "c", seed=4))
    assert c.metrics_path.read_bytes() != a.metrics_path.read_bytes()


def test_resume_from_checkpoint_and_evaluate(tmp_path):
    first = train(tiny_config(tmp_path, save_model=True, save_model_interval=200))
    steps = sorted(int(p.name) for p in first.models_dir.iterdir())
    # saved after the first episode, then every save_model_interval, and at the end
    assert 0 < steps[0] < 61 and steps[-1] == first.t_env and len(steps) >= 3
    for name in ("agent.th", "mixer.th", "opt.th"):
        assert (first.models_dir / str(steps[-1]) / name).is_file()
    assert not list(first.models_dir.rglob("*.tmp*"))

    resumed = train(tiny_config(tmp_path, checkpoint_path=str(first.models_dir), t_max=800))
    t_loaded = steps[-1]
    ts = resumed.metrics["return_mean"][0]
    assert ts[0] > t_loaded  # t_env continues from the loaded step
    assert resumed.t_env > 800
    # what run_sequential loads is the saved checkpoint: online and target networks and the optimiser
    args = SimpleNamespace(**tiny_config(tmp_path, checkpoint_path=str(first.models_dir), use_cuda=False), device="cpu")
    runner, _, learner = run_py.build_components(args, RecordingLogger())
    try:
        assert run_py.load_checkpoint(args, runner, learner, RecordingLogger()) == t_loaded == runner.t_env
    finally:
        runner.close_env()
    folder = first.models_dir / str(t_loaded)
    for module, name in [(learner.mac.agent, "agent.th"), (learner.target_mac.agent, "agent.th"),
                         (learner.mixer, "mixer.th"), (learner.target_mixer, "mixer.th")]:
        saved = th.load(folder / name)
        assert saved.keys() == module.state_dict().keys()
        assert all(th.equal(saved[k], v) for k, v in module.state_dict().items()), name
    saved_opt, loaded_opt = th.load(folder / "opt.th")["state"], learner.optimiser.state_dict()["state"]
    assert saved_opt and all(th.equal(saved_opt[i]["square_avg"], loaded_opt[i]["square_avg"]) for i in saved_opt)

    closest = train(tiny_config(tmp_path, checkpoint_path=str(first.models_dir), load_step=steps[1] - 3,
                                evaluate=True, test_nepisode=3))
    assert closest.t_env == steps[1]
    assert "test_battle_won_mean" in closest.metrics
    assert "loss" not in closest.metrics


def test_bad_checkpoint_and_evaluate_without_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="not a directory"):
        train(tiny_config(tmp_path, checkpoint_path=str(tmp_path / "missing")))
    with pytest.raises(ConfigError, match="evaluate=True needs checkpoint_path"):
        train(tiny_config(tmp_path, evaluate=True))
    with pytest.raises(ConfigError, match="runner=episode needs batch_size_run=1"):
        train(tiny_config(tmp_path, batch_size_run=2))


def test_parallel_runner_trains(tmp_path):
    run = train(tiny_config(tmp_path, runner="parallel", batch_size_run=4, test_nepisode=4))
    metrics = run.metrics
    # the episode counter counts episodes, 4 per runner.run: t_env / episodes is a mean episode length
    # (MarineMicro_MvsM_4: at most 60 steps; about 20 for untrained agents), not 4 times one
    assert metrics["episode"][1][-1] == run.episodes
    assert 5 <= run.t_env / run.episodes <= 60
    assert "loss" in metrics and "test_battle_won_mean" in metrics


def _cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pymarl_explained", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_documents_command_verbatim(tmp_path):
    """The study documents' command, with a small t_max, writes its sacred run."""
    out = _cli(["--config=qmix", "--env-config=sc2", "with", "env_args.map_name=MarineMicro_MvsM_4",
                "t_max=300", "test_nepisode=2", "progress_bar=False", "batch_size=4", "buffer_size=8"], tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    log = out.stdout + out.stderr
    assert "env backend: builtin" in log
    assert "Recent Stats | t_env:" in log
    assert "Finished Training" in log
    run_json = json.loads((tmp_path / "results" / "sacred" / "1" / "run.json").read_text())
    assert run_json["status"] == "COMPLETED"
    config = json.loads((tmp_path / "results" / "sacred" / "1" / "config.json").read_text())
    assert config["t_max"] == 300 and config["env_args"]["map_name"] == "MarineMicro_MvsM_4"
    (run_dir,) = (tmp_path / "results" / "runs").iterdir()
    assert (run_dir / "curve.png").is_file()
    assert "test_battle_won_mean" in read_metrics(run_dir / "metrics.jsonl")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config=qmx"], "Unknown --config 'qmx'"),
        (["--env-config=sc3"], "Unknown --env-config 'sc3'"),
        (["with", "t_mx=10"], "Did you mean 't_max'"),
        (["with", "t_max=abc"], "expected int"),
        (["with", "env_args.map_name=4m"], "Unknown map '4m'"),
        (["with", "runner=fast"], "Unknown runner 'fast'"),
    ],
)
def test_cli_bad_input_is_one_clear_line(tmp_path, args, message):
    out = _cli(args, tmp_path)
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr


def test_readme_train_command(tmp_path):
    """`make train` (the README's first command) with a tiny TRAIN_T_MAX."""
    python = Path(sys.executable)
    venv = python.parent.parent
    out = subprocess.run(["make", "-C", str(ROOT), "train", "TRAIN_T_MAX=300", f"VENV={venv}",
                          f"RESULTS={tmp_path / 'results'}"],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    curves = list((tmp_path / "results" / "runs").glob("*/curve.png"))
    assert len(curves) == 1
    assert "Training curves:" in out.stdout + out.stderr
    # the trained team's greedy battle, next to the curves, its path printed
    gif = curves[0].parent / "battle.gif"
    assert gif.read_bytes()[:6] == b"GIF89a" and stat.S_IMODE(gif.stat().st_mode) == 0o644
    assert "A greedy test battle of the trained team" in out.stdout + out.stderr and str(gif) in out.stdout + out.stderr


def test_ctrl_c_during_a_save_still_ends_with_a_checkpoint_at_the_stop(tmp_path, monkeypatch):
    """Ctrl-C that lands inside a periodic save (the save is lost, being atomic): the final save in
    finish_training still writes the t_env where training stopped (it once skipped it, believing
    that t_env saved)."""
    real_save, saves = run_py.save_checkpoint, []

    class HalfSaver:  # the learner's save, stopped by Ctrl-C after its first file
        def __init__(self, learner):
            self.learner = learner

        def save_models(self, path):
            self.learner.mac.save_models(path)
            raise KeyboardInterrupt

    def save_checkpoint(args, learner, t_env, logger):
        saves.append(t_env)
        return real_save(args, HalfSaver(learner) if len(saves) == 3 else learner, t_env, logger)

    monkeypatch.setattr(run_py, "save_checkpoint", save_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path, save_model=True, save_model_interval=100, t_max=2000))
    stop_t = saves[2]
    assert len(saves) == 4 and saves[3] == stop_t  # the final save, at the interrupted one's t_env
    (token_dir,) = (tmp_path / "results" / "models").iterdir()
    assert sorted(int(p.name) for p in token_dir.iterdir()) == sorted(saves[:2] + [stop_t])
    assert sorted(p.name for p in (token_dir / str(stop_t)).iterdir()) == [
        "agent.th", "checkpoint.json", "mixer.th", "opt.th"]
    (run_dir,) = (tmp_path / "results" / "runs").iterdir()
    assert max(int(ts.max()) for ts, _ in read_metrics(run_dir / "metrics.jsonl").values()) == stop_t


@pytest.mark.parametrize("outcomes, shown, played", [([False, True, False], "won", 2), ([False] * 9, "not won", 8)])
def test_battle_animation_shows_the_first_won_of_a_few_greedy_battles(tmp_path, monkeypatch, outcomes, shown, played):
    import numpy as np

    import pymarl_explained.envs.replay as replay_module

    episodes, modes = [], []

    class Runner:  # plays scripted battles: 2 allies, 2 enemies; a win leaves the enemies at 0 hp
        env = SimpleNamespace()

        def run(self, test_mode):
            modes.append(test_mode)
            won = outcomes[len(episodes)]
            episodes.append({"hp": [np.array([40.0, 40.0, 0.0 if won else 10.0, 0.0]) for _ in range(5)],
                             "pos": [None] * (6 + len(episodes))})
            Runner.env.replay = SimpleNamespace(episodes=list(episodes))

    Runner.env.replay = SimpleNamespace(episodes=[])
    monkeypatch.setattr(replay_module, "save_replay_gif", lambda replay, path, episode: (replay, path, episode))
    logger = RecordingLogger()
    args = SimpleNamespace(n_agents=2, run_dir=str(tmp_path))
    replay, path, episode = run_py.save_battle_animation(args, Runner(), logger)
    assert len(episodes) == played and all(modes) and episode == -1 and path == tmp_path / "battle.gif"
    assert replay.episodes[-1] is episodes[-1]
    (line,) = logger.infos
    assert line.startswith(f"A greedy test battle of the trained team ({shown}, {4 + played} steps: ")
    assert f"of {played} greedy episodes" in line


def test_checkpoint_folder_appears_only_when_complete(tmp_path, monkeypatch):
    """A save interrupted half-way leaves no <t_env> folder that find_checkpoint could pick."""
    from types import SimpleNamespace

    from pymarl_explained.utils.checkpoint import find_checkpoint, save_checkpoint

    class HalfSaver:
        def save_models(self, path):
            (Path(path) / "agent.th").write_bytes(b"x")
            raise KeyboardInterrupt  # killed before mixer.th and opt.th

    class FullSaver:
        def save_models(self, path):
            for name in ("agent.th", "mixer.th", "opt.th"):
                (Path(path) / name).write_bytes(b"x")

    args = SimpleNamespace(local_results_path=str(tmp_path), unique_token="tok")
    logger = SimpleNamespace(console_logger=__import__("logging").getLogger("test"))
    save_checkpoint(args, FullSaver(), 100, logger)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(args, HalfSaver(), 200, logger)
    assert find_checkpoint(str(tmp_path / "models" / "tok"), 0) == (100, str(tmp_path / "models" / "tok" / "100"))
    save_checkpoint(args, FullSaver(), 200, logger)
    assert find_checkpoint(str(tmp_path / "models" / "tok"), 0)[0] == 200
    assert sorted(p.name for p in (tmp_path / "models" / "tok").iterdir()) == ["100", "200"]
