"""One attempt at a grid point, in a worker process of its own (``python -m
pymarl_explained.sweeping.worker SPEC``), started by the local backend or by a Ray task.

The attempt resumes from the point's latest checkpoint (if any), records itself in
``<point>/attempts.jsonl``, and executes the training notebook with papermill. The kernel runs
``train()``; a stop request (SIGTERM or SIGINT to this process, or its parent dying) sends one
SIGINT to the kernel's process group, so ``run_sequential`` stops, saves a last checkpoint and the
curve, and the notebook cell ends with a KeyboardInterrupt; a second request kills the kernel's
process group at once. The kernel (ipykernel polls its parent) and the env workers (they exit
when their parent dies) never outlive this process.

Messages to the parent are JSON lines on the original stdout (``{"kernel": pid}``, then
``{"result": {...}}``); anything else this process prints goes to stderr, the run's log.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .grid import GridPoint, notebook_parameters
from .lineage import latest_checkpoint
from .manifest import append_attempt_event, read_attempts, start_event

#: The env variable naming the pid that started this worker (it stops when that pid is gone).
PARENT_ENV = "PYMARL_SWEEP_PARENT"
#: ``ename`` of a notebook cell stopped by our interrupt (SIGINT) or by SIGTERM inside the kernel.
INTERRUPT_ENAMES = ("KeyboardInterrupt", "RunTerminated")


class StopRequested(Exception):
    """Raised before the next notebook cell once a stop was requested."""


class Stopper:
    """The attempt's kernel and how to stop it: one SIGINT (a clean stop), then SIGKILL."""

    def __init__(self, announce=None):
        self.kernel_pid: int | None = None
        self.requests = 0
        self._announce = announce

    def kernel_started(self, pid: int | None) -> None:
        self.kernel_pid = pid
        if self._announce is not None:
            self._announce({"kernel": pid})
        if self.requests:
            self._signal(signal.SIGINT)

    def request(self) -> None:
        """First call: interrupt the kernel (training saves and stops). Later calls: kill it."""
        self.requests += 1
        self._signal(signal.SIGINT if self.requests == 1 else signal.SIGKILL)

    def _signal(self, signum: int) -> None:
        if self.kernel_pid is None:
            return
        try:
            os.killpg(self.kernel_pid, signum)  # the kernel leads its own session (jupyter_client)
        except (ProcessLookupError, PermissionError):
            pass

    def request_once(self) -> None:
        """The parent died: stop cleanly (also when both ways of noticing it fire)."""
        if not self.requests:
            self.request()

    def before_cell(self, **_: Any) -> None:
        if self.requests:  # the interrupt landed between two cells: run no more of them
            raise StopRequested("stop requested")


def _kernel_manager_class(stopper: Stopper):
    """An AsyncKernelManager that tells ``stopper`` the pid of the kernel it starts."""
    from jupyter_client.manager import AsyncKernelManager

    class SweepKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            await super().start_kernel(**kw)
            stopper.kernel_started(getattr(self.provisioner, "pid", None))

    return SweepKernelManager


def run_attempt(spec: dict[str, Any], stopper: Stopper) -> dict[str, Any]:
    """Run one attempt at ``spec["point"]``; returns ``{"status", "error", "seconds", "start_t_env",
    "end_t_env"}`` (status: finished, interrupted or failed)."""
    import papermill as pm

    point = GridPoint.from_json(spec["point"])
    out, notebook = Path(spec["out"]), Path(spec["notebook"])
    point_dir = out / point.name
    attempts = read_attempts(point_dir)
    if any(a["outcome"] == "finished" for a in attempts):  # e.g. a Ray retry after the result was lost
        return {"status": "finished", "error": None, "seconds": 0.0, "skipped": True}
    checkpoint = latest_checkpoint(point_dir)
    start_t_env = checkpoint.t_env if checkpoint else 0
    attempt_id = f"{len(attempts) + 1}-{socket.gethostname()}-{os.getpid()}-{time.time():.0f}"
    append_attempt_event(point_dir, start_event(attempt_id, start_t_env, str(checkpoint.folder) if checkpoint else None,
                                                spec.get("node")))
    if start_t_env > point.t_max:
        # the loop stops past t_max, so an earlier attempt finished training and was lost after its
        # last checkpoint (e.g. its node died while the notebook drew the curves): nothing to train;
        # its metrics are complete and the export stitches them as usual
        print(f"{point.name}: training already complete (checkpoint at t_env {start_t_env} > t_max "
              f"{point.t_max}); nothing to resume", file=sys.stderr, flush=True)
        append_attempt_event(point_dir, {"event": "end", "attempt": attempt_id, "outcome": "finished", "error": None,
                                         "end_t_env": start_t_env})
        return {"status": "finished", "error": None, "seconds": 0.0, "start_t_env": start_t_env,
                "end_t_env": start_t_env}
    parameters = notebook_parameters(point, point_dir.resolve(), int(spec["checkpoint_interval"]),
                                     checkpoint.folder.resolve() if checkpoint else None, start_t_env)
    status, error, started = "finished", None, time.time()
    try:
        pm.execute_notebook(str(notebook), str(out / f"{point.name}.ipynb"), parameters=parameters,
                            cwd=str(notebook.parent), progress_bar=False, kernel_name="python3",
                            kernel_manager_class=_kernel_manager_class(stopper),
                            on_cell_execute=stopper.before_cell, shutdown_kernel="immediate")
    except pm.PapermillExecutionError as exc:  # the failing cell and its exception
        if stopper.requests or exc.ename in INTERRUPT_ENAMES:
            status = "interrupted"
        else:
            status, error = "failed", f"cell [{exc.exec_count}] raised {exc.ename}: {exc.evalue}"
    except Exception as exc:  # the kernel died, the notebook could not be read or written, ...
        if stopper.requests:
            status = "interrupted"
        else:
            status, error = "failed", f"{type(exc).__name__}: {exc}"
    end = latest_checkpoint(point_dir)
    result = {"status": status, "error": error, "seconds": round(time.time() - started, 3),
              "start_t_env": start_t_env, "end_t_env": end.t_env if end else None}
    append_attempt_event(point_dir, {"event": "end", "attempt": attempt_id, "outcome": status, "error": error,
                                     "end_t_env": result["end_t_env"]})
    return result


def die_with_parent(parent_pid: int, on_death) -> None:
    """Call ``on_death()`` when ``parent_pid`` is no longer this process's parent: at once on Linux
    (PR_SET_PDEATHSIG delivers SIGUSR1), within half a second elsewhere (a polling thread)."""
    if sys.platform.startswith("linux"):
        signal.signal(signal.SIGUSR1, lambda *_: on_death())
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGUSR1)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        on_death()

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    spec = json.loads(argv[0])
    # our messages keep the original stdout; everything else printed here goes to the log (stderr)
    channel = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)

    def announce(message: dict[str, Any]) -> None:
        try:
            channel.write(json.dumps(message) + "\n")
        except (BrokenPipeError, OSError):  # the parent is gone: the log still has everything
            pass

    stopper = Stopper(announce)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopper.request())
    parent = int(os.environ.get(PARENT_ENV, os.getppid()))
    die_with_parent(parent, stopper.request_once)
    result = run_attempt(spec, stopper)
    announce({"result": result})
    return {"finished": 0, "failed": 1}.get(result["status"], 130)


if __name__ == "__main__":
    sys.exit(main())
