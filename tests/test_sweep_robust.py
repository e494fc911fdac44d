"""Sweeps that survive interrupts: real sweeps of tiny runs, signals sent by the test, no process
left behind; resume from checkpoints and metrics stitched into one series; the export refuses
unfinished runs. (The Ray backend: test_sweep_ray.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sweep_helpers import TINY_PARAMS, TreeWatcher, attempts, checkpoints, wait_for

from pymarl_explained import sweep
from pymarl_explained.envs.maps import get_map_params
from pymarl_explained.sweeping.lineage import run_chain, stitched_metrics, stitched_wallclock

ROOT = Path(__file__).resolve().parent.parent
QMIX, IQL = "qmix__MarineMicro_MvsM_4__seed0", "iql__MarineMicro_MvsM_4__seed0"
#: dense logging (every 100 env steps) so that the stitched series can be checked step by step
PARAMS = [*TINY_PARAMS, "--param", "log_interval=100"]


def start_sweep(out: Path, *args: str) -> subprocess.Popen:
    """The sweep command in a process of its own (as from a terminal), watched by the test."""
    return subprocess.Popen([sys.executable, "-m", "pymarl_explained.sweep", "--out", str(out), *args, *PARAMS],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def manifest(out: Path) -> dict:
    return json.loads((out / "sweep.json").read_text())


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ------------------------------------------------------------------ stitching, by hand (fast)
def _fake_run(point: Path, token: str, t_max: int, records: list[tuple[str, int, float]],
              clock: list[tuple[int, float]], parent: str | None = None, start: int = 0) -> None:
    run = point / "runs" / token
    run.mkdir(parents=True)
    config = {"t_max": t_max, "checkpoint_path": str(point / "models" / parent) if parent else "", "load_step": start}
    if parent:
        config["resumed_from"] = {"t_env": start}
    (run / "config.json").write_text(json.dumps(config))
    (run / "metrics.jsonl").write_text("".join(json.dumps({"key": k, "t_env": t, "value": v}) + "\n"
                                               for k, t, v in records))
    (run / "wallclock.jsonl").write_text("".join(json.dumps({"t_env": t, "elapsed_s": s}) + "\n" for t, s in clock))


def test_stitching_follows_the_resume_links(tmp_path):
    point = tmp_path / "qmix__MarineMicro_MvsM_4__seed0"
    # a: fresh, killed at 350 (its last checkpoint was at 200): 250-350 is lost
    _fake_run(point, "t1_a", 500, [("r", 0, 0.0), ("r", 100, 1.0), ("r", 200, 2.0), ("r", 300, 3.0), ("r", 350, 3.5)],
              [(0, 1.0), (200, 5.0), (300, 7.0)])
    # z: a fresh start that died before its first checkpoint, newer than a (it must not be the head)
    _fake_run(point, "t9_z", 500, [("r", 0, 9.0)], [(0, 1.0)])
    # b: resumed from a at 200, interrupted at 420 (final checkpoint at 420)
    _fake_run(point, "t2_b", 500, [("r", 300, 30.0), ("r", 400, 40.0), ("r", 420, 42.0)], [(300, 2.0), (400, 4.0)],
              parent="t1_a", start=200)
    # c: resumed from b at 420, finished past t_max
    _fake_run(point, "t3_c", 500, [("r", 500, 50.0), ("r", 510, 51.0)], [(500, 3.0)], parent="t2_b", start=420)
    chain = run_chain(point)
    assert [r.token for r in chain] == ["t1_a", "t2_b", "t3_c"]
    assert [(r["t_env"], r["value"]) for r in stitched_metrics(chain)] == [
        (0, 0.0), (100, 1.0), (200, 2.0), (300, 30.0), (400, 40.0), (420, 42.0), (500, 50.0), (510, 51.0)]
    # seconds continue from the last kept record: a kept up to 5.0 (t=200), b up to 5.0 + 4.0
    assert [(r["t_env"], r["elapsed_s"]) for r in stitched_wallclock(chain)] == [
        (0, 1.0), (200, 5.0), (300, 7.0), (400, 9.0), (500, 12.0)]
    export = tmp_path / "export"
    assert sweep.main(["--configs", "qmix", "--seeds", "0", "--out", str(tmp_path), "--export", str(export),
                       "--export-only"]) == 0
    assert [r["value"] for r in read_jsonl(export / "qmix__MarineMicro_MvsM_4__seed0.metrics.jsonl")] == [
        0.0, 1.0, 2.0, 30.0, 40.0, 42.0, 50.0, 51.0]


def test_export_only_refuses_unfinished_runs_unless_asked(tmp_path, capsys):
    done, partial = tmp_path / QMIX, tmp_path / IQL
    _fake_run(done, "t1", 300, [("r", 0, 0.0), ("r", 310, 1.0)], [(0, 1.0)])
    _fake_run(partial, "t1", 300, [("r", 0, 0.0), ("r", 120, 1.0)], [(0, 1.0)])
    export = tmp_path / "export"
    args = ["--configs", "qmix", "iql", "--seeds", "0", "--out", str(tmp_path), "--export", str(export),
            "--export-only"]
    assert sweep.main(args) == 1
    err = capsys.readouterr().err
    assert "not exported, unfinished" in err and f"{IQL} (t_env 120 of 300)" in err and QMIX not in err
    assert sorted(p.name for p in export.iterdir()) == [f"{QMIX}.metrics.jsonl", f"{QMIX}.wallclock.jsonl"]
    assert sweep.main([*args, "--include-unfinished"]) == 0
    assert f"exported unfinished runs: {IQL} (t_env 120 of 300)" in capsys.readouterr().err
    assert len(list(export.iterdir())) == 4


def test_an_attempt_after_the_last_checkpoint_of_a_finished_training_trains_nothing(tmp_path):
    """A node that died after training ended (while the notebook drew the curves) left a checkpoint
    past t_max: the retry is finished at once, without a notebook run (which would log nothing and
    fail on its plots)."""
    from pymarl_explained.sweeping.grid import GridPoint
    from pymarl_explained.sweeping.worker import Stopper, run_attempt

    point = GridPoint("qmix", 0, "MarineMicro_MvsM_4", 600)
    (tmp_path / point.name / "models" / "tok" / "609").mkdir(parents=True)
    spec = {"point": point.to_json(), "out": str(tmp_path), "notebook": str(tmp_path / "missing.ipynb"),
            "checkpoint_interval": 100}
    result = run_attempt(spec, Stopper())
    assert (result["status"], result["start_t_env"], result["end_t_env"]) == ("finished", 609, 609)
    assert [(a["event"], a.get("outcome")) for a in attempts(tmp_path / point.name)] == [("start", None),
                                                                                       ("end", "finished")]
    assert not (tmp_path / f"{point.name}.ipynb").exists()
    # a checkpoint at t_max itself: the loop goes on, so the notebook runs (here it is missing: failed)
    (tmp_path / "other" / point.name / "models" / "tok" / "600").mkdir(parents=True)
    result = run_attempt({**spec, "out": str(tmp_path / "other")}, Stopper())
    assert result["status"] == "failed" and "missing.ipynb" in result["error"]


def test_sweep_refuses_to_reuse_or_resume_the_wrong_folder(tmp_path, capsys):
    out = tmp_path / "sw"
    assert sweep.main(["--out", str(out), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err
    (out / QMIX).mkdir(parents=True)
    assert sweep.main(["--configs", "qmix", "--seeds", "0", "--out", str(out)]) == 2
    assert "--resume continues it" in capsys.readouterr().err
    (out / "sweep.json").write_text(json.dumps({"grid": {"configs": ["qmix"], "seeds": [0], "t_max": 300},
                                                "runs": {}}))
    assert sweep.main(["--out", str(out), "--resume", "--t-max", "500"]) == 2
    assert "t_max=300" in capsys.readouterr().err
    for param in ("extra_overrides=save_model_interval=5", "extra_overrides=lr=0.1 checkpoint_path=x"):
        with pytest.raises(SystemExit, match="the sweep sets them"):
            sweep.main(["--configs", "qmix", "--seeds", "0", "--out", str(tmp_path / "new"), "--param", param])


# ------------------------------------------------------------------ real sweeps, real signals
@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_and_resume_stitches_the_runs(tmp_path):
    t_max = 1500  # long enough that Ctrl-C after the checkpoint at 200 lands mid-run
    grid = ["--configs", "qmix", "iql", "--seeds", "0", "--t-max", str(t_max), "--checkpoint-interval", "100"]
    # an uninterrupted reference of the QMIX run (same seed)
    ref = tmp_path / "ref"
    assert sweep.main(["--configs", "qmix", "--seeds", "0", "--t-max", str(t_max), "--checkpoint-interval", "100",
                       "--out", str(ref), "--export", str(tmp_path / "ref_export"), *PARAMS]) == 0

    out = tmp_path / "sw"
    proc = start_sweep(out, *grid, "--jobs", "1")  # QMIX runs, IQL waits in the queue
    tree = TreeWatcher(proc.pid)
    try:
        wait_for(lambda: [t for t in checkpoints(out / QMIX) if t >= 200], 300, "a checkpoint at t_env >= 200")
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        stop_seconds = time.monotonic() - sent
    finally:
        tree.stop()
    assert proc.returncode == 130, err
    assert stop_seconds < 60, stop_seconds
    print(f"SIGINT to exit: {stop_seconds:.1f} s")
    assert tree.seen and tree.wait_all_gone(5) == []  # the worker, its kernel and everything below it
    assert "1 interrupted" in err and "1 not started" in err
    runs = manifest(out)["runs"]
    assert runs[IQL] == {"status": "pending", "error": None, "attempts": []} and not (out / IQL).exists()
    assert runs[QMIX]["status"] == "interrupted"
    (first,) = runs[QMIX]["attempts"]
    assert first["outcome"] == "interrupted" and first["start_t_env"] == 0
    # a last checkpoint at the t_env where training stopped, and the metrics up to there
    stop_t = first["end_t_env"]
    assert stop_t == checkpoints(out / QMIX)[-1] and 200 <= stop_t < t_max
    (run_dir,) = (out / QMIX / "runs").iterdir()
    assert max(r["t_env"] for r in read_jsonl(run_dir / "metrics.jsonl")) == stop_t
    assert (run_dir / "curve.png").is_file()

    # --resume: skips nothing finished, resumes QMIX from its checkpoint, starts IQL
    export = tmp_path / "export"
    assert sweep.main(["--out", str(out), "--resume", "--export", str(export)]) == 0
    runs = manifest(out)["runs"]
    assert {name: run["status"] for name, run in runs.items()} == {QMIX: "finished", IQL: "finished"}
    first, second = runs[QMIX]["attempts"]
    assert (second["start_t_env"], second["outcome"]) == (stop_t, "finished")
    assert [a["start_t_env"] for a in runs[IQL]["attempts"]] == [0]
    resumed = json.loads(next(d for d in (out / QMIX / "runs").iterdir() if d != run_dir).joinpath(
        "config.json").read_text())
    assert resumed["resumed_from"]["t_env"] == stop_t
    assert any("replay buffer" in item for item in resumed["resumed_from"]["not_restored"])

    # the same exported files as the uninterrupted sweep; the QMIX series is one stitched series
    assert sorted(p.name for p in export.iterdir()) == sorted(
        [f"{n}.{k}.jsonl" for n in (QMIX, IQL) for k in ("metrics", "wallclock")])
    stitched = read_jsonl(export / f"{QMIX}.metrics.jsonl")
    reference = read_jsonl(tmp_path / "ref_export" / f"{QMIX}.metrics.jsonl")
    # before the stop: the uninterrupted run's records (same seed). At the stop itself the interrupted
    # run logged its last "episode" stat and, if Ctrl-C came after that step's training, its learner
    # stats: whatever it logged there is the reference's too (Ctrl-C may land before or after them)
    assert [r for r in stitched if r["t_env"] < stop_t] == [r for r in reference if r["t_env"] < stop_t]
    at_stop = [r for r in stitched if r["t_env"] == stop_t and r["key"] != "episode"]
    assert all(r in reference for r in at_stop), at_stop
    keys = [(r["key"], r["t_env"]) for r in stitched]
    assert len(keys) == len(set(keys))  # no duplicate
    steps = [r["t_env"] for r in stitched if r["key"] == "return_mean"]
    assert steps == sorted(steps) and max(r["t_env"] for r in stitched) > t_max
    after = [t for t in steps if t > stop_t]
    assert after and after[0] - stop_t <= get_map_params("MarineMicro_MvsM_4").limit  # no gap: its first episode
    assert {r["key"] for r in stitched if r["t_env"] > stop_t} >= {"return_mean", "epsilon", "test_battle_won_mean"}
    clock = [r["elapsed_s"] for r in read_jsonl(export / f"{QMIX}.wallclock.jsonl")]
    assert clock == sorted(clock)

    # resuming a finished sweep runs nothing
    assert sweep.main(["--out", str(out), "--resume"]) == 0
    assert len(manifest(out)["runs"][QMIX]["attempts"]) == 2


@pytest.mark.slow
def test_a_dead_worker_fails_its_run_and_a_killed_sweep_leaves_no_process(tmp_path):
    out = tmp_path / "sw"
    proc = start_sweep(out, "--configs", "qmix", "iql", "--seeds", "0", "--t-max", "100000",
                       "--checkpoint-interval", "100", "--jobs", "2")
    tree = TreeWatcher(proc.pid)
    try:
        for name in (QMIX, IQL):
            wait_for(lambda n=name: [t for t in checkpoints(out / n) if t >= 100], 300, f"a checkpoint of {name}")
        (victim,) = [a for a in attempts(out / QMIX) if a["event"] == "start"]
        os.kill(victim["pid"], signal.SIGKILL)  # one worker dies
        wait_for(lambda: manifest(out)["runs"][QMIX]["status"] == "failed", 60, "the dead worker's run to fail")
        runs = manifest(out)["runs"]
        assert "worker process died (killed by SIGKILL)" in runs[QMIX]["error"]
        assert [a["outcome"] for a in runs[QMIX]["attempts"]] == ["lost"]
        assert runs[IQL]["status"] == "running" and proc.poll() is None  # the other run goes on
        survivor = [a for a in attempts(out / IQL) if a["event"] == "start"][0]["pid"]
        os.kill(proc.pid, signal.SIGKILL)  # the sweep dies: its worker notices, stops cleanly, exits
        proc.communicate(timeout=30)
        assert tree.wait_all_gone(60) == [], "processes left after the sweep was killed"
    finally:
        tree.stop()
        for pid in tree.alive():
            os.kill(pid, signal.SIGKILL)
    ends = [a for a in attempts(out / IQL) if a["event"] == "end"]
    assert [(e["outcome"], e["attempt"].split("-")[2]) for e in ends] == [("interrupted", str(survivor))]
    assert ends[0]["end_t_env"] == checkpoints(out / IQL)[-1]  # a last checkpoint when it stopped


@pytest.mark.slow
def test_sigterm_then_ctrl_c_kills_at_once(tmp_path):
    out = tmp_path / "sw"
    proc = start_sweep(out, "--configs", "qmix", "--seeds", "0", "--t-max", "100000", "--checkpoint-interval",
                       "100", "--jobs", "1")
    tree = TreeWatcher(proc.pid)
    try:
        wait_for(lambda: checkpoints(out / QMIX), 300, "the run's first checkpoint")
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        kill_seconds = time.monotonic() - sent
    finally:
        tree.stop()
    assert proc.returncode == 143, err
    assert "killing the running runs" in err and kill_seconds < 20
    assert tree.wait_all_gone(5) == []
    assert manifest(out)["runs"][QMIX]["status"] == "interrupted"
