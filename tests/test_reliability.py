"""Reliability: every bad input is one clear line and exit status 2 before anything is written;
file modes; the log in sacred's cout.txt; Ctrl-C and SIGTERM stop a real run cleanly."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import RecordingLogger

from pymarl_explained.main import main
from pymarl_explained.run import load_checkpoint
from pymarl_explained.utils import config_utils
from pymarl_explained.utils.atomic import atomic_save, atomic_write_text
from pymarl_explained.utils.checkpoint import METADATA_FILE, find_checkpoint, save_checkpoint
from pymarl_explained.utils.interrupts import RunTerminated, sigterm_as_interrupt

ROOT = Path(__file__).resolve().parent.parent
QUICK = ["env_args.map_name=3m", "env_args.backend=builtin"]


def fake_checkpoint(folder: Path, t_env: int, **signature) -> Path:
    """A ``<t_env>`` checkpoint folder holding only the checkpoint.json a save writes."""
    path = folder / str(t_env)
    path.mkdir(parents=True)
    meta = {"name": "qmix", "learner": "q_learner", "mac": "basic_mac", "agent": "rnn", "mixer": "qmix",
            "rnn_hidden_dim": 64, "obs_last_action": True, "obs_agent_id": True, "t_env": t_env, **signature}
    (path / "checkpoint.json").write_text(json.dumps(meta))
    return path


@pytest.fixture
def bad_yaml_dir(tmp_path, monkeypatch):
    """Algorithm files a user might get wrong, in a config folder of their own."""
    algs = tmp_path / "userconfigs" / "algs"
    algs.mkdir(parents=True)
    (algs / "broken.yaml").write_text("learner: q_learner\n  mixer: [qmix\n")
    (algs / "alist.yaml").write_text("- learner\n- mixer\n")
    (algs / "nolearner.yaml").write_text("name: nolearner\nagent_output_type: q\naction_selector: epsilon_greedy\n")
    (algs / "badtype.yaml").write_text("name: badtype\nlearner: q_learner\nbatch_size: thirty-two\n")
    monkeypatch.setattr(config_utils, "CONFIG_DIRS", [*config_utils.CONFIG_DIRS, tmp_path / "userconfigs"])
    return tmp_path


# (argv, a piece of the one error line). Each was a traceback, a silent acceptance, or an error
# only after sacred had started, before the fix.
CATALOGUE = [
    (["--config", "qmix"], "Write --config=NAME, with '='"),
    (["--config=qmix", "t_max=5"], "sacred's overrides come after the word 'with'"),
    (["--config=qmx"], "Unknown --config 'qmx'. Did you mean 'qmix'?"),
    (["--config=qmix", "with", "t_mx=5"], "Unknown config key 't_mx'"),
    (["--config=qmix", "with", "t_max=abc"], "Bad value for 't_max': expected int"),
    (["--config=qmix", "--env_args.map_name=8m", "--t_max=abc"], "Bad value for 't_max'"),
    (["--config=qmix", "with", "batch_size=0"], "'batch_size': it must be a whole number >= 1, got 0"),
    (["--config=qmix", "with", "test_interval=0"], "'test_interval': it must be a whole number >= 1"),
    (["--config=qmix", "with", "runner=parallel", "batch_size_run=0"], "'batch_size_run': it must be"),
    (["--config=qmix", "with", "env_args.reward_scale_rate=0"], "'env_args.reward_scale_rate': it must be a number"),
    (["--config=qmix", "with", "t_max=-5"], "'t_max': it must be a whole number >= 1, got -5"),
    (["--config=qmix", "with", "epsilon_start=2.0", "epsilon_finish=-1.0"], "'epsilon_start': it must be a number"),
    (["--config=qmix", "with", "epsilon_start=0.1", "epsilon_finish=0.5"], "epsilon_finish (0.5) > epsilon_start"),
    (["--config=qmix", "with", "gamma=1.5"], "'gamma': it must be a number between 0 and 1"),
    (["--config=qmix", "with", "evaluate=True"], "evaluate=True needs checkpoint_path"),
    (["--config=qmix", "with", "save_replay=True"], "save_replay=True records the evaluation episodes"),
    (["--config=qmix", "with", "checkpoint_path=nowhere"], "checkpoint_path 'nowhere' is not a directory"),
    (["--config=qmix", "with", "env_args.backend=starcraft"], "backend='starcraft' needs"),
    (["--config=qmix", "with", "env_args.map_name=3mm"], "3mm"),
    (["--config=broken"], "broken.yaml is not valid YAML (line 2, column 8): mapping values are not allowed here"),
    (["--config=alist"], "alist.yaml must hold a mapping of config keys"),
    (["--config=nolearner"], "The config defines no 'learner'"),
    (["--config=badtype"], "badtype.yaml: Bad value for 'batch_size': expected int"),
]


@pytest.mark.parametrize("argv, message", CATALOGUE, ids=[" ".join(a) for a, _ in CATALOGUE])
def test_bad_input_is_one_clear_line_and_nothing_is_written(argv, message, bad_yaml_dir, monkeypatch, capsys):
    work = bad_yaml_dir / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert main([*argv[:1], *argv[1:]]) == 2
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("pymarl_explained: error: "), err
    assert message in lines[0]
    assert "Traceback" not in out + err
    assert list(work.iterdir()) == []  # no results/, no sacred run


def test_a_checkpoint_of_another_algorithm_is_named_before_anything_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    models = tmp_path / "models" / "qmix_token"
    fake_checkpoint(models, 500)
    assert main(["--config=iql", "with", *QUICK, f"checkpoint_path={models}", "evaluate=True"]) == 2
    err = capsys.readouterr().err
    assert "was saved by a 'qmix' run and cannot be loaded into this 'iql' run: mixer 'qmix' (this run: None)" in err
    assert "--config=qmix" in err and sorted(p.name for p in tmp_path.iterdir()) == ["models"]


def test_help_lists_the_algorithms_env_configs_and_maps(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m pymarl_explained")
    for name in ("qmix", "coma", "2iql1qmix1iql_omg", "sc2", "MarineMicro_MvsM_4", "27m_vs_30m"):
        assert name in out
    assert "dummy" not in out


def test_nearest_load_step_is_announced_and_partial_saves_are_removed(tmp_path):
    models = tmp_path / "tok"
    for t in (100, 300):
        fake_checkpoint(models, t)
    (models / "400.partial").mkdir()
    assert find_checkpoint(str(models), 0) == (300, str(models / "300"))
    assert not (models / "400.partial").exists()

    class Learner:
        def load_models(self, path):
            self.loaded = path

    class Runner:
        t_env = 0

    args = type("Args", (), {"checkpoint_path": str(models), "load_step": 180})()
    logger, runner, learner = RecordingLogger(), Runner(), Learner()
    assert load_checkpoint(args, runner, learner, logger) == 100 == runner.t_env
    assert "No checkpoint at load_step=180: loading the closest one, t_env=100" in logger.infos
    args.load_step = 300
    logger = RecordingLogger()
    load_checkpoint(args, runner, learner, logger)
    assert not any("No checkpoint" in line for line in logger.infos)


# ---------------------------------------------------------------------------- files
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640)])
def test_atomic_files_get_the_mode_of_a_plain_open(tmp_path, umask, mode):
    """mkstemp's 0600 hid checkpoints and results from other users; now the umask decides, as for open()."""
    from pymarl_explained.plotting import save_figure

    old = os.umask(umask)
    try:
        atomic_save({"w": torch.zeros(2)}, tmp_path / "agent.th")
        atomic_write_text(tmp_path / "config.json", "{}")
        import matplotlib.pyplot as plt

        fig = plt.figure()
        save_figure(fig, tmp_path / "curve.png")
        plt.close(fig)
        with open(tmp_path / "plain.txt", "w") as f:
            f.write("x")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"agent.th": mode, "config.json": mode, "curve.png": mode, "plain.txt": mode}


def test_cout_txt_holds_the_log(tmp_path):
    """PyMARL's cout.txt has the whole console log; from the command line ours had only the progress bar."""
    argv = [sys.executable, "-m", "pymarl_explained", "--config=qmix", "--env-config=sc2", "with", *QUICK,
            "t_max=150", "batch_size=2", "buffer_size=4", "test_interval=100", "log_interval=100", "test_nepisode=1",
            "progress_bar=False", f"local_results_path={tmp_path}"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    cout = (tmp_path / "sacred" / "1" / "cout.txt").read_text()
    for line in ("Beginning training for 150 timesteps", "Recent Stats | t_env:", "Finished Training"):
        assert line in cout


# ---------------------------------------------------------------------------- interrupts
def _start_training(tmp_path: Path, runner: str = "episode") -> subprocess.Popen:
    argv = [sys.executable, "-m", "pymarl_explained", "--config=qmix", "--env-config=sc2", "with", *QUICK,
            f"runner={runner}",
            "t_max=10000000", "test_interval=100000", "log_interval=100000", "batch_size=2", "buffer_size=4",
            "save_model=True", "save_model_interval=200", "progress_bar=False", "seed=3",
            f"local_results_path={tmp_path / 'results'}"]
    return subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.parametrize("sig, raised", [(signal.SIGINT, KeyboardInterrupt), (signal.SIGTERM, RunTerminated)])
def test_a_signal_during_a_checkpoint_takes_effect_when_the_checkpoint_is_complete(tmp_path, sig, raised):
    """A real Ctrl-C (or SIGTERM) half-way through ``save_checkpoint``: the checkpoint is completed,
    then the interrupt is raised. (Inside ``torch.save``'s zip writer an interrupt came out as a
    RuntimeError, "unexpected pos", and the run lost its last checkpoint.)"""

    class Learner:
        def save_models(self, path):
            atomic_save({"w": torch.zeros(3)}, os.path.join(path, "agent.th"))
            os.kill(os.getpid(), sig)
            time.sleep(0.05)  # without the deferral the interrupt is raised here
            atomic_save({"w": torch.ones(3)}, os.path.join(path, "opt.th"))

    args = type("Args", (), {"local_results_path": str(tmp_path), "unique_token": "run"})()
    with sigterm_as_interrupt(), pytest.raises(raised):
        save_checkpoint(args, Learner(), 123, RecordingLogger())
    folder = tmp_path / "models" / "run"
    assert sorted(p.name for p in folder.iterdir()) == ["123"]
    assert sorted(p.name for p in (folder / "123").iterdir()) == ["agent.th", METADATA_FILE, "opt.th"]
    assert torch.load(folder / "123" / "opt.th")["w"].sum() == 3
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


@pytest.mark.slow
@pytest.mark.parametrize("sig, status, runner", [(signal.SIGINT, 130, "episode"), (signal.SIGTERM, 143, "episode"),
                                                 (signal.SIGINT, 130, "pipelined")])
def test_an_interrupted_run_stops_promptly_and_keeps_its_work(tmp_path, sig, status, runner):
    proc = _start_training(tmp_path, runner)
    models = tmp_path / "results" / "models"
    deadline = time.time() + 120
    while not (models.exists() and len([p for d in models.iterdir() for p in d.iterdir() if p.name.isdigit()]) >= 2):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.2)
    sent = time.time()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert time.time() - sent < 15
    assert proc.returncode == status, err
    assert "Traceback" not in out + err and "closed file" not in out + err
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith(f"pymarl_explained: {sig.name}: training stopped")

    run_dir = next((tmp_path / "results" / "runs").iterdir())
    assert (run_dir / "curve.png").is_file()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last_t = max(m["t_env"] for m in metrics if m["key"] == "episode")
    token_dir = next(models.iterdir())
    saved = sorted(int(p.name) for p in token_dir.iterdir() if p.name.isdigit())
    assert saved[-1] == last_t  # a final checkpoint at the t_env where training stopped
    assert not list(token_dir.glob("*.partial"))
    sacred_run = next(p for p in (tmp_path / "results" / "sacred").iterdir() if p.name.isdigit())
    assert json.loads((sacred_run / "run.json").read_text())["status"] == "INTERRUPTED"
    assert "Training interrupted" in (sacred_run / "cout.txt").read_text()


# ---------------------------------------------------------------------------- replays
def test_the_batched_pool_records_each_env_as_its_own_replay_episode(tmp_path):
    """The parallel runner's pool records every env; each record equals a single env's own replay
    under the same seed and actions (env i of a batch seeded s plays as an env seeded s + i)."""
    import numpy as np

    from pymarl_explained.envs import MarineBattleEnv
    from pymarl_explained.envs.replay import load_replay
    from pymarl_explained.runners.env_pools import BatchedEnvPool

    args = {"map_name": "3m", "backend": "builtin", "seed": 11, "replay_dir": str(tmp_path), "replay_prefix": "pool"}
    pool = BatchedEnvPool("sc2", dict(args), 3, record_replay=True)
    rng = np.random.default_rng(0)
    actions_taken: list[list[np.ndarray]] = [[] for _ in range(3)]
    for _ in range(2):  # two batches of 3 episodes
        obs = pool.reset()
        running = np.ones(3, bool)
        while running.any():
            avail = obs["avail_actions"]
            actions = np.argmax(rng.random(avail.shape) * avail, axis=-1)
            for i in np.flatnonzero(running):
                actions_taken[i].append(actions[i])
            _, terminated, _, obs = pool.step(actions, running.copy())
            running &= ~terminated
        for i in range(3):
            actions_taken[i].append(None)  # episode boundary
    old = os.umask(0o022)
    try:
        path = pool.save_replay()
    finally:
        os.umask(old)
    assert Path(path).name.startswith("pool_") and stat.S_IMODE(Path(path).stat().st_mode) == 0o644
    replay = load_replay(path)
    assert len(replay.episodes) == 6 and replay.meta["n_agents"] == 3
    for i in range(3):
        single = MarineBattleEnv(**{**args, "seed": 11 + i, "replay_dir": str(tmp_path / f"single{i}")})
        for action in actions_taken[i]:
            if action is None:
                single.reset()
            else:
                single.step(action)
        expected = single.replay.episodes  # the constructor's episode, the one after its reset, and an empty one
        for batch in range(2):
            got = replay.episodes[3 * batch + i]
            for name in ("pos", "hp", "actions", "reward"):
                np.testing.assert_array_equal(got[name], expected[batch][name])
    assert load_replay(pool.save_replay()).episodes == []  # a second save holds only what came after


@pytest.mark.slow
def test_coma_evaluate_with_save_replay_writes_the_test_episodes(tmp_path):
    """Stock COMA uses the parallel runner, whose pool had no save_replay (AttributeError, no replay)."""
    from pymarl_explained.envs.replay import load_replay

    common = ["--config=coma", "--env-config=sc2", "with", *QUICK, "batch_size_run=2", "progress_bar=False",
              f"local_results_path={tmp_path / 'results'}", f"env_args.replay_dir={tmp_path / 'replays'}"]
    argv = [sys.executable, "-m", "pymarl_explained", *common, "t_max=40", "batch_size=2", "buffer_size=2",
            "save_model=True", "save_model_interval=20", "test_interval=1000", "test_nepisode=2"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    token = next((tmp_path / "results" / "models").iterdir())
    argv = [sys.executable, "-m", "pymarl_explained", *common, f"checkpoint_path={token}", "evaluate=True",
            "save_replay=True", "test_nepisode=4"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    (replay_file,) = (tmp_path / "replays").iterdir()
    assert stat.S_IMODE(replay_file.stat().st_mode) == 0o644
    replay = load_replay(replay_file)
    assert len(replay.episodes) == 4 and replay.meta["map_name"] == "3m"  # 2 runs of batch_size_run=2
    assert all(len(ep["pos"]) >= 2 and ep["actions"][0].tolist() == [-1, -1, -1] for ep in replay.episodes)
