"""The Ray backend (``--ray-address``): one Ray task per grid point on an existing Ray cluster.

Each task asks for one CPU, runs in a fresh Ray worker process (``max_calls=1``) and starts the
same worker process as the local backend (:mod:`.worker`), so a run stops, records its attempt
and resumes the same way on both. Ray retries a task only for system failures (its node died, its
worker process crashed: ``max_retries``); a bug in a run is a failed result, reported once with
its notebook cell (``retry_exceptions=False``). A retried task starts from the point's latest
checkpoint, which is why ``--out`` must be shared storage: the :func:`preflight` checks that every
node sees the driver's files (and the driver theirs) and runs the same package and notebook.

Ray is an optional extra (``pip install -e ".[ray]"``, Ray core only); it is imported only here.
"""

from __future__ import annotations

import hashlib
import socket
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .process import WorkerProcess

#: Seconds the preflight waits for its probe tasks (one per node).
PREFLIGHT_TIMEOUT_S = 180

def import_ray():
    """``ray``, or a SystemExit that says how to install it."""
    try:
        import ray
    except ImportError:
        raise SystemExit('sweep: --ray-address needs Ray: pip install -e ".[ray]" (in the same environment on '
                         "every node)") from None
    return ray

def source_digest(notebook: Path) -> str:
    """A hash of the package's code and configs and of the training notebook: equal on two nodes
    when they run the same code."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for path in sorted(p for p in package.rglob("*") if p.suffix in (".py", ".yaml") and p.is_file()):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    digest.update(notebook.read_bytes() if notebook.is_file() else b"missing notebook")
    return digest.hexdigest()[:16]

def _probe(out: str, token: str, notebook: str) -> dict[str, Any]:
    """Runs on one node: can it read the driver's probe file, and what code does it run?"""
    import ray

    import pymarl_explained

    node = ray.get_runtime_context().get_node_id()
    probe_dir = Path(out) / ".preflight"
    driver_file = probe_dir / f"driver-{token}"
    sees_driver = driver_file.is_file() and driver_file.read_text() == token
    if probe_dir.is_dir():
        (probe_dir / f"node-{token}-{node}").write_text(node)
    return {"node": node, "host": socket.gethostname(), "sees_driver": sees_driver,
            "version": pymarl_explained.__version__, "digest": source_digest(Path(notebook))}

def preflight(ray, out: Path, notebook: Path) -> list[str]:
    """Problems that would make a sweep on this cluster go wrong (an empty list: none)."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    import pymarl_explained

    nodes = [n for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0]
    if not nodes:
        return ["the Ray cluster has no node with a CPU"]
    token = uuid.uuid4().hex
    probe_dir = out / ".preflight"
    probe_dir.mkdir(parents=True, exist_ok=True)
    (probe_dir / f"driver-{token}").write_text(token)
    probe = ray.remote(num_cpus=0, max_retries=0)(_probe)
    refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n["NodeID"], soft=False))
            .remote(str(out.resolve()), token, str(notebook.resolve())) for n in nodes]
    try:
        answers = ray.get(refs, timeout=PREFLIGHT_TIMEOUT_S)
    except Exception as error:
        return [f"a preflight task failed: {type(error).__name__}: {error}"]
    mine = (pymarl_explained.__version__, source_digest(notebook))
    problems = []
    for answer in answers:
        where = f"node {answer['host']} ({answer['node'][:8]})"
        if not answer["sees_driver"] or not (probe_dir / f"node-{token}-{answer['node']}").is_file():
            problems.append(f"{where} does not share {out.resolve()} with the driver: --out must be on storage "
                            "every node mounts at the same path (NFS, a cluster filesystem)")
        if (answer["version"], answer["digest"]) != mine:
            problems.append(f"{where} runs pymarl_explained {answer['version']} (code digest {answer['digest']}), "
                            f"the driver {mine[0]} ({mine[1]}): install the same checkout on every node")
    for path in probe_dir.glob(f"*{token}*"):
        path.unlink(missing_ok=True)
    if not any(probe_dir.iterdir()):
        probe_dir.rmdir()
    return problems

def _run_point_task(spec: dict[str, Any], log_path: str) -> dict[str, Any]:
    """A Ray task: one attempt at a grid point, in a worker process of its own."""
    import ray

    worker = WorkerProcess({**spec, "node": ray.get_runtime_context().get_node_id()}, Path(log_path))
    try:
        return worker.wait_result()
    except KeyboardInterrupt:  # ray.cancel: stop cleanly (a last checkpoint), then report
        worker.stop()
        return worker.wait_result()

class RayBackend:
    """Submits every run at once; Ray places them (one CPU each, spread over the nodes)."""

    capacity = 1 << 30

    def __init__(self, address: str, out: Path, retries: int):
        self.ray = import_ray()
        self.out = out
        self.retries = retries
        self.refs: dict[Future, Any] = {}
        self.ray.init(address=address, log_to_driver=False, configure_logging=False)
        self.task = self.ray.remote(num_cpus=1, max_calls=1, max_retries=retries, retry_exceptions=False,
                                    scheduling_strategy="SPREAD")(_run_point_task)

    def describe(self) -> str:
        cpus = int(self.ray.cluster_resources().get("CPU", 0))
        nodes = sum(1 for n in self.ray.nodes() if n.get("Alive"))
        return f"Ray: {nodes} nodes, {cpus} CPUs, up to {self.retries} retries per run after a node failure"

    def preflight(self, notebook: Path) -> list[str]:
        return preflight(self.ray, self.out, notebook)

    def submit(self, name: str, spec: dict[str, Any]) -> Future:
        ref = self.task.remote(spec, str((self.out / f"{name}.log").resolve()))
        future = ref.future()
        self.refs[future] = ref
        return future

    def stop(self) -> None:
        for future, ref in self.refs.items():
            if not future.done():
                self.ray.cancel(ref, force=False)

    def kill(self) -> None:
        for future, ref in self.refs.items():
            if not future.done():
                self.ray.cancel(ref, force=True)

    def close(self) -> None:
        if self.ray.is_initialized():
            self.ray.shutdown()

def describe_failure(error: BaseException) -> str:
    """A Ray task's exception in one line (the node died and retries ran out, ...)."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")

