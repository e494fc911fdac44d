"""Shared helpers of the sweep tests: tiny run parameters, a process-tree watcher, waiting for files."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

#: Test-speed notebook parameters of every sweep test (a few hundred env steps per run).
TINY_PARAMS = ["--param", "test_nepisode=2", "--param", "test_interval=200",
               "--param", "extra_overrides=batch_size=4 buffer_size=8"]


def _proc_table() -> dict[int, tuple[int, str]]:
    """pid -> (ppid, start time) of every process (Linux /proc)."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            table[int(entry)] = (int(fields[1]), fields[19])
    return table


class TreeWatcher:
    """Records every descendant of ``root`` (pid and start time) while it runs, so that a test can
    check afterwards that none of them is still alive (orphans included: reparented processes keep
    their start time)."""

    def __init__(self, root: int):
        self.root = root
        self.seen: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            table = _proc_table()
            family = {self.root} | set(self.seen)
            changed = True
            while changed:
                changed = False
                for pid, (ppid, _) in table.items():
                    if ppid in family and pid not in family:
                        family.add(pid)
                        changed = True
            for pid in family - {self.root}:
                if pid in table and pid not in self.seen:
                    self.seen[pid] = table[pid][1]
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def alive(self) -> list[int]:
        table = _proc_table()
        return [pid for pid, start in self.seen.items() if pid in table and table[pid][1] == start]

    def wait_all_gone(self, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.2)
        return self.alive()


def checkpoints(point_dir: Path) -> list[int]:
    """The t_env of every checkpoint of a grid point (all its runs)."""
    return sorted(int(p.name) for p in point_dir.glob("models/*/*") if p.name.isdigit())


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def attempts(point_dir: Path) -> list[dict]:
    path = point_dir / "attempts.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
