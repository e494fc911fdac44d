"""The parent's side of a worker process (:mod:`.worker`): start it in a session of its own,
read its messages, stop it cleanly or kill its whole tree.

A worker leads its own session and process group, so a Ctrl-C in the terminal reaches only the
sweep, which then decides: SIGTERM to each worker (its kernel saves a checkpoint and stops), and
SIGKILL to the worker's and the kernel's process groups when that takes too long or on a second
Ctrl-C. The kernel leads a session of its own too (jupyter_client starts it so), which is why the
worker reports its pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from .worker import PARENT_ENV


class WorkerProcess:
    """A running worker: ``wait_result()`` blocks until it ends and returns its result."""

    def __init__(self, spec: dict[str, Any], log_path: Path):
        env = {**os.environ, PARENT_ENV: str(os.getpid())}
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "pymarl_explained.sweeping.worker", json.dumps(spec)],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, env=env,
                                         start_new_session=True)
        self.kernel_pid: int | None = None
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_result(self) -> dict[str, Any]:
        """Read the worker's messages until it exits; a worker that died without a result (killed,
        out of memory) gives a failed result that says how it ended."""
        result = None
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                message = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "kernel" in message:
                self.kernel_pid = message["kernel"]
            result = message.get("result", result)
        code = self.proc.wait()
        if result is not None:
            return result
        self.kill_kernel()  # the worker was killed: its kernel would notice within a second; do not wait
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
        return {"status": "failed", "error": f"worker process died ({how}); see {self.log_path}", "seconds": None}

    def stop(self) -> None:
        """Ask for a clean stop (the kernel saves a last checkpoint)."""
        _signal_pid(self.proc.pid, signal.SIGTERM)

    def kill(self) -> None:
        """Kill the worker's and the kernel's process groups (their env workers included)."""
        self.kill_kernel()
        _signal_group(self.proc.pid, signal.SIGKILL)

    def kill_kernel(self) -> None:
        if self.kernel_pid:
            _signal_group(self.kernel_pid, signal.SIGKILL)


def _signal_pid(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass
