"""``<out>/sweep.json``: the grid, each run's status and every attempt at it.

An attempt (one execution of a grid point's notebook, by a local worker or a Ray task) appends a
``start`` and an ``end`` line to ``<out>/<point>/attempts.jsonl`` itself, so that an attempt the
driver never hears about (a Ray task retried on another node after its node died) is recorded
too; the driver merges those lines into the manifest and owns the statuses:

- ``pending``: not started; ``running``; ``finished``;
- ``interrupted``: stopped by Ctrl-C/SIGTERM (or the sweep died): ``--resume`` continues it from
  its latest checkpoint;
- ``failed``: the notebook raised (the error names the cell), or the worker or its node died for
  good; ``--resume`` tries it again from its latest checkpoint.

An attempt's outcome is ``finished``, ``interrupted``, ``failed``, or ``lost`` when it has no
``end`` line (its process or node was killed).
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from pathlib import Path
from typing import Any

from pymarl_explained.utils.atomic import atomic_write_text

from .lineage import read_jsonl

MANIFEST_NAME = "sweep.json"
ATTEMPTS_NAME = "attempts.jsonl"
STATUSES = ("pending", "running", "finished", "interrupted", "failed")


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def append_attempt_event(point_dir: Path, event: dict[str, Any]) -> None:
    """Append one line to ``<point>/attempts.jsonl`` (one write, mode 0644 under umask 022)."""
    point_dir.mkdir(parents=True, exist_ok=True)
    line = (json.dumps({**event, "time": now()}) + "\n").encode()
    fd = os.open(point_dir / ATTEMPTS_NAME, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def start_event(attempt_id: str, start_t_env: int, checkpoint: str | None, node: str | None = None) -> dict[str, Any]:
    return {"event": "start", "attempt": attempt_id, "host": socket.gethostname(), "pid": os.getpid(), "node": node,
            "start_t_env": start_t_env, "checkpoint": checkpoint}


def read_attempts(point_dir: Path) -> list[dict[str, Any]]:
    """The attempts at a point, oldest first: each ``start`` line merged with its ``end`` line."""
    attempts: dict[str, dict[str, Any]] = {}
    for event in read_jsonl(point_dir / ATTEMPTS_NAME):
        key = event.get("attempt")
        if event.get("event") == "start":
            attempts[key] = {k: v for k, v in event.items() if k not in ("event", "time")}
            attempts[key].update(started=event.get("time"), outcome="lost")
        elif event.get("event") == "end" and key in attempts:
            attempts[key].update(outcome=event["outcome"], ended=event.get("time"), end_t_env=event.get("end_t_env"),
                                 error=event.get("error"))
    return list(attempts.values())


class Manifest:
    """The sweep's record, rewritten atomically at every change (a crash leaves the previous one)."""

    def __init__(self, out: Path, data: dict[str, Any]):
        self.out = out
        self.data = data

    @property
    def path(self) -> Path:
        return self.out / MANIFEST_NAME

    @classmethod
    def load(cls, out: Path) -> Manifest | None:
        path = out / MANIFEST_NAME
        if not path.is_file():
            return None
        return cls(out, json.loads(path.read_text(encoding="utf-8")))

    @classmethod
    def create(cls, out: Path, grid: dict[str, Any], names: list[str]) -> Manifest:
        runs = {name: {"status": "pending", "error": None, "attempts": []} for name in names}
        return cls(out, {"grid": grid, "backend": None, "created": now(), "runs": runs})

    def run(self, name: str) -> dict[str, Any]:
        return self.data["runs"].setdefault(name, {"status": "pending", "error": None, "attempts": []})

    def status(self, name: str) -> str:
        return self.run(name)["status"]

    def set_status(self, name: str, status: str, error: str | None = None) -> None:
        assert status in STATUSES, status
        run = self.run(name)
        run["status"], run["error"] = status, error
        run["attempts"] = read_attempts(self.out / name)
        self.save()

    def save(self) -> None:
        self.data["updated"] = now()
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path, json.dumps(self.data, indent=1, default=str) + "\n")
