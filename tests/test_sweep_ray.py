"""The Ray backend on a local two-node cluster (``ray.cluster_utils.Cluster``): a real sweep of two
tiny runs; the worker node dies mid-run; every run finishes, the one on the dead node resumes from
its checkpoint on the head node, and the manifest records both attempts.

The sweep command is the README's (section "Running a sweep on a Ray cluster"), with this test's
output folder and cluster address in place of ``/shared/sweep`` and ``auto``."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import tempfile
import threading
from pathlib import Path

import pytest
from sweep_helpers import attempts, checkpoints, wait_for

from pymarl_explained import sweep

ray = pytest.importorskip("ray")
from ray.cluster_utils import Cluster  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POINTS = ("qmix__MarineMicro_MvsM_4__seed0", "iql__MarineMicro_MvsM_4__seed0")
T_MAX = 2400  # the node-death test's runs


def readme_cluster_command() -> list[str]:
    """The README's check command for a cluster, as an argv for ``sweep.main``."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Running a sweep on a Ray cluster"):]
    (line,) = [ln for ln in section.splitlines() if ln.startswith(".venv/bin/python -m pymarl_explained.sweep")
               and "--resume" not in ln and "/shared/sweep-check" in ln]
    return shlex.split(line)[3:]


def quiet_ray_env(monkeypatch) -> str:
    """Ray's files under a short private temp dir (AF_UNIX socket paths are limited to 107 bytes,
    and the default /tmp/ray is shared with anyone else's Ray); no usage-stats upload; generous
    start-up timeouts (a loaded 2-core machine starts a node's agent processes slowly, and the
    raylet aborts when they are late). Returns the temp dir."""
    temp_dir = tempfile.mkdtemp(prefix="rsw", dir="/tmp")
    os.makedirs(os.path.join(temp_dir, "ray"))
    monkeypatch.setenv("RAY_TMPDIR", temp_dir)
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    monkeypatch.setenv("RAY_agent_register_timeout_ms", "120000")
    monkeypatch.setenv("RAY_worker_register_timeout_seconds", "120")
    return temp_dir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_args(head: bool = False) -> dict:
    """One CPU per node (one run each); a small object store (each node would claim 30% of the
    machine's memory); no dashboard; the agents' ports chosen here: with port 0 the raylet waits
    for its agents to write their ports to files and aborts after about 15 s, too short on a
    loaded 2-core machine."""
    return {"num_cpus": 1, "object_store_memory": 100 * 2**20, **({"include_dashboard": False} if head else {}),
            "metrics_agent_port": free_port(), "metrics_export_port": free_port(),
            "dashboard_agent_listen_port": free_port(), "runtime_env_agent_port": free_port()}


def kill_processes_under(temp_dir: str) -> None:
    """SIGKILL every process whose command line names ``temp_dir`` (a half-started node's)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if temp_dir in cmdline:
            try:
                os.kill(int(proc.name), signal.SIGKILL)
            except OSError:
                pass


def start_cluster(temp_dir: str, with_worker: bool, attempts: int = 3):
    """A local cluster: the head node, and a worker node with ``with_worker``; ``(cluster, worker)``.

    Ray waits a fixed 30 s for a starting node to register with its GCS and then raises "timed out
    during startup"; on a loaded 2-core machine (the other test worker busy) that has happened.
    Such a start is retried with a fresh cluster after killing what the failed one left running:
    node start-up is Ray's business, the sweep is what these tests check."""
    for attempt in range(1, attempts + 1):
        cluster = Cluster()
        try:
            cluster.add_node(**node_args(head=True))
            worker = cluster.add_node(**node_args()) if with_worker else None
            cluster.wait_for_nodes()
            return cluster, worker
        except Exception as error:
            cluster.shutdown()
            kill_processes_under(temp_dir)
            if "timed out during startup" not in str(error) or attempt == attempts:
                raise


@pytest.mark.slow
def test_ray_sweep_survives_a_node_death(tmp_path, monkeypatch, capsys):
    temp_dir = quiet_ray_env(monkeypatch)
    cluster, worker = start_cluster(temp_dir, with_worker=True)
    out = tmp_path / "sweep"
    argv = [str(out) if a == "/shared/sweep-check" else cluster.address if a == "auto" else a
            for a in readme_cluster_command()]
    assert "--ray-address" in argv and cluster.address in argv and str(out) in argv
    # runs long enough for the node to die mid-run (the README's 600 steps take a few seconds)
    argv[argv.index("--t-max") + 1] = str(T_MAX)
    removed: dict = {}

    def kill_worker_node_mid_run() -> None:
        # the run placed on the worker node: its first attempt names that node
        def run_on_worker():
            for name in POINTS:
                starts = [a for a in attempts(out / name) if a["event"] == "start"]
                if starts and starts[0]["node"] == worker.node_id:
                    return name
            return None

        name = wait_for(run_on_worker, 300, "a run on the worker node")
        # mid-run: after a periodic checkpoint, before the end
        wait_for(lambda: [t for t in checkpoints(out / name) if t >= 100], 300, "a checkpoint at t_env >= 100")
        removed["name"], removed["checkpoints"] = name, checkpoints(out / name)
        cluster.remove_node(worker, allow_graceful=False)

    killer = threading.Thread(target=kill_worker_node_mid_run, daemon=True)
    killer.start()
    try:
        code = sweep.main(argv)
        killer.join(timeout=5)
        captured = capsys.readouterr()
        assert code == 0, captured
        assert "name" in removed, "the worker node was never removed"
        assert removed["checkpoints"][-1] < T_MAX  # it was removed before the run ended

        manifest = json.loads((out / "sweep.json").read_text())
        assert manifest["backend"] == f"ray {cluster.address}"
        for name in POINTS:
            assert manifest["runs"][name]["status"] == "finished"
        victim = manifest["runs"][removed["name"]]["attempts"]
        assert len(victim) == 2
        first, second = victim
        assert first["node"] == worker.node_id and first["outcome"] != "finished"
        assert second["node"] != worker.node_id and second["outcome"] == "finished"
        # the retry resumed from the latest checkpoint the dead node left
        assert second["start_t_env"] >= removed["checkpoints"][-1] > 0
        first_models = Path(second["checkpoint"])  # the first run's models/<token> folder
        assert first_models.parent == out / removed["name"] / "models"
        assert second["start_t_env"] == max(int(p.name) for p in first_models.iterdir() if p.name.isdigit())
        (other,) = [n for n in POINTS if n != removed["name"]]
        assert [a["outcome"] for a in manifest["runs"][other]["attempts"]] == ["finished"]

        # the resumed run's metrics continue the first run's: one series, exported as one file
        export = tmp_path / "export"
        assert sweep.main(["--out", str(out), "--export", str(export), "--export-only"]) == 0
        records = [json.loads(line) for line in (export / f"{removed['name']}.metrics.jsonl").read_text().splitlines()]
        keys = [(r["key"], r["t_env"]) for r in records]
        assert len(keys) == len(set(keys))
        episodes = [r["t_env"] for r in records if r["key"] == "episode"]
        assert episodes == sorted(episodes) and max(r["t_env"] for r in records) > T_MAX
        resumed_at = second["start_t_env"]
        assert any(r["t_env"] <= resumed_at for r in records) and any(r["t_env"] > resumed_at for r in records)
        assert "sweep: 2 finished, 0 failed" in captured.out
        assert not re.search(r"FAILED", captured.out)
    finally:
        if ray.is_initialized():
            ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.mark.slow
def test_ray_preflight_finds_an_unshared_out_folder(tmp_path, monkeypatch):
    """A node that cannot see the driver's --out is reported before any run starts."""
    from pymarl_explained.sweeping import ray_backend

    temp_dir = quiet_ray_env(monkeypatch)
    cluster, _ = start_cluster(temp_dir, with_worker=False)
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        out = tmp_path / "sweep"
        assert ray_backend.preflight(ray, out, sweep.TRAINING_NOTEBOOK) == []
        assert not (out / ".preflight").exists()  # the probe files are removed
        # the same node, but the probe file is removed before the node looks: as if not shared
        real_probe = ray_backend._probe

        def unshared(out_dir, token, notebook):
            for path in Path(out_dir, ".preflight").glob("driver-*"):
                path.unlink()
            return real_probe(out_dir, token, notebook)

        monkeypatch.setattr(ray_backend, "_probe", unshared)
        problems = ray_backend.preflight(ray, out, sweep.TRAINING_NOTEBOOK)
        assert len(problems) == 1 and "does not share" in problems[0] and str(out) in problems[0]
    finally:
        ray.shutdown()
        cluster.shutdown()
        shutil.rmtree(temp_dir, ignore_errors=True)
