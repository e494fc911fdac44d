"""The local backend: at most ``jobs`` worker processes at a time on this machine.

Each run is a :class:`~.process.WorkerProcess` (its own session) watched by a thread that turns
its end into a ``concurrent.futures.Future``; a worker that dies fails only its own run (there is
no shared pool to break).
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from .process import WorkerProcess


class LocalBackend:
    """Runs on this machine; ``capacity`` runs at a time."""

    def __init__(self, out: Path, jobs: int):
        self.out = out
        self.capacity = jobs
        self.workers: dict[Future, WorkerProcess] = {}

    def describe(self) -> str:
        return f"{self.capacity} at a time on this machine"

    def submit(self, name: str, spec: dict[str, Any]) -> Future:
        """Start a worker now (from the calling thread, the main one: on Linux a worker stops when
        the thread that started it ends)."""
        future: Future = Future()
        future.set_running_or_notify_cancel()
        worker = WorkerProcess(spec, self.out / f"{name}.log")

        def wait() -> None:
            try:
                future.set_result(worker.wait_result())
            except BaseException as error:  # noqa: B036 - handed to the waiting main thread
                future.set_exception(error)

        threading.Thread(target=wait, name=f"wait-{name}", daemon=True).start()
        self.workers[future] = worker
        return future

    def stop(self) -> None:
        for future, worker in self.workers.items():
            if not future.done():
                worker.stop()

    def kill(self) -> None:
        for future, worker in self.workers.items():
            if not future.done():
                worker.kill()

    def close(self) -> None:
        pass
